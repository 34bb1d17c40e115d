"""The one seen-event store and the one conversation pipeline, on both stores.

Every adapter names what it received by a key and hands it to the router as the work's
``once``: these are the promises the adapters rely on (a redelivery does nothing and is
not answered twice; a command and its mark commit together; old marks go, other
namespaces' stay)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.conversation import Conversation
from bot.seen import SeenEvents, key_part
from bot.slack.state import EVENT_PREFIX, REQUEST_PREFIX, seen_events
from handlers.core.messages import Reply
from handlers.core.router import Incoming
from storage import kv
from storage.db import make_session_factory
from storage.models import Action, KvState
from tests.support.dialog import ADMIN, Bot

T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def _marks(bot: Bot, prefix: str = "") -> set[str]:
    with bot.sessions() as s:
        return set(kv.get_many(s, prefix))


def _actions(bot: Bot) -> int:
    with bot.sessions() as s:
        return s.scalar(select(func.count()).select_from(Action)) or 0


def test_a_mark_survives_a_restart(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    first = SeenEvents(sessions, "t:", dt.timedelta(days=1))
    key = first.key("Ev1")
    assert first.mark_alone(key) is True and first.mark_alone(key) is False
    restarted = SeenEvents(sessions, "t:", dt.timedelta(days=1))  # nothing in memory
    assert not restarted.known(key) and restarted.seen(key) and restarted.known(key)
    assert restarted.mark_alone(key) is False and restarted.mark_alone("t:Ev2") is True
    loaded = SeenEvents(sessions, "t:", dt.timedelta(days=1))
    loaded.load()
    assert loaded.known(key) and loaded.known("t:Ev2")


def test_prune_forgets_old_marks_of_its_namespace_only(engine: Engine) -> None:
    """Both of Slack's kinds of mark go (request marks used to be kept for ever), fresh
    ones and other namespaces' stay."""
    sessions = make_session_factory(engine)
    now = [T0]
    slack = seen_events(sessions, clock=lambda: now[0])
    old = [EVENT_PREFIX + "Ev1", REQUEST_PREFIX + "t:1.2.3"]
    for key in old:
        slack.mark_alone(key)
    other = SeenEvents(sessions, "matrix:seen:", dt.timedelta(days=2), clock=lambda: now[0])
    other.mark_alone(other.key("$old"))
    now[0] = T0 + dt.timedelta(hours=25)
    slack.mark_alone(EVENT_PREFIX + "Ev2")
    slack.prune(now[0])
    with sessions() as s:
        left = set(s.scalars(select(KvState.key)))
    assert left == {EVENT_PREFIX + "Ev2", "matrix:seen:$old"}


@given(event_id=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1,
                        max_size=600))
def test_any_event_id_gives_a_storable_key(event_id: str) -> None:
    """A hostile server's id (a NUL, 600 characters) still names one storable mark."""
    key = SeenEvents(None, "matrix:seen:", dt.timedelta(days=2)).key(event_id)  # type: ignore[arg-type]
    assert len(key) <= 255 and key.isascii() and key.isprintable()


def test_platform_ids_are_kept_as_they_are() -> None:
    assert key_part("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg") == (
        "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg")
    assert key_part("Ev9UQ52YNA") == "Ev9UQ52YNA"
    assert key_part("a b").startswith("#") and key_part("x" * 161).startswith("#")


def _conversation(bot: Bot) -> tuple[Conversation, SeenEvents]:
    seen = SeenEvents(bot.sessions, "test:", dt.timedelta(days=1), clock=lambda: bot.now)
    return Conversation(bot.router, None, seen), seen


def test_a_command_delivered_twice_runs_once(bot: Bot) -> None:
    conv, seen = _conversation(bot)
    msg = Incoming("shell", ADMIN, "action add Draft the plan group replication", "#x",
                   once=seen.key("ev-1"))
    first = conv.run(msg)
    assert not first.error and not first.duplicate and _actions(bot) == 1
    again = conv.run(msg)
    assert again.duplicate and _actions(bot) == 1
    assert _marks(bot, "test:") == {"test:ev-1"}


def test_work_that_writes_nothing_is_marked_alone(bot: Bot) -> None:
    """Help, a bad line, a refusal: nothing committed, so the mark is written after, and an
    adapter that asks the store first does not answer the redelivery."""
    conv, seen = _conversation(bot)
    for n, line in enumerate(["help", "action add", "tg rename repl X"]):
        key = seen.key(f"ev-{n}")
        conv.run(Incoming("shell", "nobody", line, "#x", once=key))
        assert SeenEvents(bot.sessions, "test:", dt.timedelta(days=1)).seen(key), line


def test_a_platform_refusal_runs_nothing_and_is_marked(bot: Bot) -> None:
    conv, seen = _conversation(bot)
    key = seen.key("ev-r")
    refused = conv.run(Incoming("shell", ADMIN, "action add A group replication", "#x", once=key),
                       lambda cmd: Reply(error=True).say("Not here."))
    assert _actions(bot) == 0 and "test:ev-r" in _marks(bot, "test:") and not refused.duplicate


def test_a_line_heard_twice_is_taken_once(bare_bot: Bot) -> None:
    bot = bare_bot
    conv, seen = _conversation(bot)
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("meeting start repl", channel="#repl")
    before = bot.counts()
    msg = Incoming("shell", "alice", "#idea a shared glossary", "#repl",
                   once=seen.key("ev-h"))
    taken = conv.hear(msg)
    assert taken is not None and not taken.error
    after = bot.counts()
    assert after != before
    assert conv.hear(msg) is None and bot.counts() == after
