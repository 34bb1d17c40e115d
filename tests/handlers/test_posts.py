"""A command's posts are outbox rows written in its own transaction (issue 13, item 5): a
crash between the commit and the send loses nothing, a post for a platform this process
does not reach waits for one that does, and a post is sent once however many ticks run."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dispatch import Dispatcher
from handlers.core.messages import (
    Block,
    Button,
    Buttons,
    ChannelRef,
    Day,
    File,
    Link,
    Mention,
    Span,
    Table,
    Text,
    When,
)
from handlers.core.posts import KIND, blocks_from_json, blocks_to_json
from handlers.core.router import Incoming
from handlers.delivery._engine import DeliveryEngine
from storage.models import Channel, Group, Outbox
from tests.support.dialog import Bot

UTC = dt.UTC

# --- the codec: any blocks survive the JSON column exactly ---------------------------------

_TEXT = st.text(max_size=20)
_SPAN: st.SearchStrategy[Span] = st.one_of(
    _TEXT,
    st.builds(Mention, st.integers(1, 10**9), _TEXT,
              st.lists(st.tuples(st.sampled_from(["slack", "matrix", "shell"]), _TEXT),
                       max_size=3).map(tuple)),
    st.builds(When, st.datetimes(timezones=st.just(UTC)), st.sampled_from(
        ["Europe/Brussels", "UTC", "America/New_York"]), st.booleans()),
    st.builds(Day, st.dates()),
    st.builds(Link, _TEXT, _TEXT),
)
_SPANS = st.lists(_SPAN, max_size=4).map(tuple)
_BLOCK: st.SearchStrategy[Block] = st.one_of(
    st.builds(Text, _SPANS, st.sampled_from(["plain", "heading", "quote", "code"])),
    st.builds(Table, st.lists(_TEXT, max_size=3).map(tuple),
              st.lists(st.lists(_SPANS, max_size=3).map(tuple), max_size=3).map(tuple)),
    st.builds(Buttons, st.lists(st.builds(Button, _TEXT, _TEXT, st.sampled_from(
        ["default", "primary", "danger"])), max_size=3).map(tuple)),
    st.builds(File, _TEXT, st.sampled_from(["text/csv", "text/calendar"]),
              st.binary(max_size=64), _TEXT),
)


@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(_BLOCK, max_size=5))
def test_any_blocks_survive_the_json_column(blocks: list[Block]) -> None:
    stored = json.loads(json.dumps(blocks_to_json(blocks)))
    assert blocks_from_json(stored) == blocks


# --- the store ------------------------------------------------------------------------------


def board(bot: Bot) -> Bot:
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg create repl Replication")
    bot.admin("tg link boc", channel="#boc")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add boc @bea")
    return bot


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[ChannelRef, list[Block], str]] = []

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.sent.append((channel, blocks, key))
        return f"ts-{len(self.sent)}"


def post_rows(bot: Bot) -> list[tuple[str, str, str]]:
    with Session(bot.engine) as s:
        return [(r.platform, r.channel_id, r.status) for r in s.scalars(
            select(Outbox).where(Outbox.kind == KIND).order_by(Outbox.id))]


def decide(bot: Bot, line: str = "decision post repl Adopt the replication guide") -> list[str]:
    """The command as the router runs it, its posts committed and not sent: a process
    that died right after the commit."""
    reply = bot.router.handle(Incoming(platform="shell", user_id="bea", text=line,
                                       channel_id="#boc"))
    assert not reply.error
    return reply.queued


def test_a_post_committed_and_not_sent_is_sent_once_by_a_later_tick(bare_bot: Bot) -> None:
    bot = board(bare_bot)
    keys = decide(bot)
    assert {(p, c) for p, c, _ in post_rows(bot)} == {("shell", "#repl"), ("shell", "#boc")}
    assert len(keys) == 2
    assert all(status == "pending" for *_, status in post_rows(bot))
    # another process starts and ticks: the posts go out, each once, with its own key
    recorder = Recorder()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": recorder}, kinds=bot.router.registry.kinds)
    later = bot.now + dt.timedelta(minutes=5)
    assert len(engine.tick(later).delivered) == 2
    assert engine.tick(later + dt.timedelta(minutes=1)).delivered == []
    assert sorted(c.channel_id for c, _, _ in recorder.sent) == ["#boc", "#repl"]
    assert sorted(key for *_, key in recorder.sent) == sorted(keys)
    text = json.dumps(blocks_to_json(recorder.sent[0][1]))
    assert "Adopt the replication guide" in text
    assert [status for *_, status in post_rows(bot)] == ["sent", "sent"]


def test_the_post_says_what_was_decided_when_it_was_decided(bare_bot: Bot) -> None:
    """Composed when the command ran: a rename before the send does not change it."""
    bot = board(bare_bot)
    decide(bot)
    bot.admin("tg rename repl Replication and Scaling")
    recorder = Recorder()
    DeliveryEngine(bot.sessions, bot.settings, {"shell": recorder}, kinds=bot.router.registry.kinds).tick(bot.now)
    shown = [json.dumps(blocks_to_json(blocks)) for _, blocks, _ in recorder.sent]
    assert all("Replication and Scaling" not in s for s in shown)


def test_a_post_for_a_platform_not_connected_waits_and_says_so(bare_bot: Bot) -> None:
    bot = board(bare_bot)
    with Session(bot.engine) as s, s.begin():
        repl = s.scalar(select(Group).where(Group.slug == "repl"))
        assert repl is not None
        s.add(Channel(group_id=repl.id, platform="slack", channel_id="C0REPL",
                      created_at=dt.datetime(2026, 11, 1)))
    keys = decide(bot)
    shell_sender = Recorder()
    dispatcher = Dispatcher(bot.sessions, bot.settings, bot.router.registry.kinds)
    dispatcher.register("shell", shell_sender)
    problems = dispatcher.deliver(keys)
    assert problems == ["1 post for slack waits for the bot connected to it "
                        "(taskbot run with it configured delivers them)."]
    assert sorted(c.channel_id for c, _, _ in shell_sender.sent) == ["#boc", "#repl"]
    assert ("slack", "C0REPL", "pending") in post_rows(bot)
    # taskbot run starts with Slack: its first tick sends it, once
    slack = Recorder()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": Recorder(), "slack": slack}, kinds=bot.router.registry.kinds)
    engine.tick(bot.now + dt.timedelta(hours=2))
    engine.tick(bot.now + dt.timedelta(hours=3))
    assert [c for c, _, _ in slack.sent] == [ChannelRef("slack", "C0REPL")]
    assert all(status == "sent" for *_, status in post_rows(bot))


def test_a_post_older_than_its_grace_is_missed_not_sent(bare_bot: Bot) -> None:
    bot = board(bare_bot)
    decide(bot)
    recorder = Recorder()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": recorder}, kinds=bot.router.registry.kinds)
    result = engine.tick(bot.now + dt.timedelta(days=8))
    missed = [key for key in result.missed if key.startswith(f"{KIND}:")]
    assert len(missed) == 2 and recorder.sent == []
    assert [status for *_, status in post_rows(bot)] == ["missed", "missed"]


def test_a_replayed_command_queues_its_posts_once(bare_bot: Bot) -> None:
    bot = board(bare_bot)
    msg = Incoming(platform="shell", user_id="bea", channel_id="#boc",
                   text="decision post repl Adopt it", once="request:abc")
    first = bot.router.handle(msg)
    again = bot.router.handle(msg)
    assert len(first.queued) == 2 and again.duplicate and again.queued == ()
    assert len(post_rows(bot)) == 2


def test_a_refused_or_failed_command_queues_nothing(bare_bot: Bot) -> None:
    bot = board(bare_bot)
    refused = bot.router.handle(Incoming(platform="shell", user_id="mallory",
                                         channel_id="#boc", text="decision post repl No"))
    assert refused.error and refused.queued == ()
    assert post_rows(bot) == []


def test_the_shell_prints_its_own_channels_posts_at_once(bare_bot: Bot) -> None:
    bot = board(bare_bot)
    bot.ask("bea", "#boc", "decision post repl Adopt the guide")
    assert sorted(c.channel_id for c, _ in bot.posted) == ["#boc", "#repl"]
    assert all(status == "sent" for *_, status in post_rows(bot))
    assert "2 sent" in bot.admin("secretariat deliveries all")
    assert "command post" in bot.admin("secretariat deliveries all")
