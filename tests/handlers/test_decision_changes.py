"""``decision amend`` and ``decision revoke`` (issue 12, item 19): kept in the history,
posted where the decision was posted, shown by ``decision show``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.core.messages import ChannelRef
from handlers.delivery._engine import DeliveryEngine
from storage.models import TEXT_MAX, AuditLog, Decision, DecisionEvent
from tests.handlers.test_delivery import RecordingSender
from tests.support.dialog import Bot

UTC = dt.UTC


@pytest.fixture
def board(bot: Bot) -> Bot:
    for line in ("tg add boc @bea", "tg add secretariat @sam",
                 "tg add replication @alice as chair", "tg add replication @bob",
                 "tg add comms @carl"):
        bot.admin(line)
    bot.say("bea", "#boc", "decision post replication,comms Adopt the replication playbook.")
    return bot


def test_amend_keeps_the_old_wording_and_posts_where_the_decision_went(board: Bot) -> None:
    bot = board
    bot.say("alice", "#replication", "decision ack D-1")
    bot.now += dt.timedelta(hours=2)
    reply = bot.ask("sam", None, "decision amend D-1 Adopt the replication playbook v2.")
    assert not reply.error and not reply.private
    assert {p.group_slug: list(p.channels) for p in reply.posts} == {
        "replication": [ChannelRef("shell", "#replication")],
        "comms": [ChannelRef("shell", "#comms")],
        "boc": [ChannelRef("shell", "#boc")],
    }
    posted = render_reply(reply)
    assert "BoC decision D-1 amended" in posted and "It said: Adopt the replication playbook." \
        in posted
    show = bot.say("bob", None, "decision show D-1")
    assert "> Adopt the replication playbook v2." in show
    assert "amended" in show and "was: Adopt the replication playbook." in show
    assert "@sam" in show
    # the acknowledgement given stands; the register shows the new wording
    assert "1/2 acknowledged" in show
    assert "playbook v2" in bot.say("bob", None, "decision list")
    with Session(bot.engine) as s:
        event = s.scalar(select(DecisionEvent))
        assert event is not None
        assert (event.kind, event.previous, event.text) == (
            "amend", "Adopt the replication playbook.", "Adopt the replication playbook v2.")
        assert s.scalar(select(AuditLog.verb).where(AuditLog.verb == "amend")) == "amend"
    # the same wording again changes nothing
    before = bot.counts()
    assert "nothing changed" in bot.say("sam", None,
                                        "decision amend D-1 Adopt the replication playbook v2.")
    assert bot.counts() == before


def test_revoke_keeps_the_reason_and_stops_acknowledgements(board: Bot) -> None:
    bot = board
    reply = bot.ask("bea", None, "decision revoke D-1 Superseded by the new Manifesto.")
    assert not reply.error
    assert sorted(p.group_slug for p in reply.posts) == ["boc", "comms", "replication"]
    assert "Reason: Superseded by the new Manifesto." in render_reply(reply)
    with Session(bot.engine) as s:
        d = s.get(Decision, 1)
        assert d is not None and d.revoked_at is not None
        assert d.text == "Adopt the replication playbook."  # the record is kept
    show = bot.say("bob", None, "decision show D-1")
    assert "Revoked on" in show and "reason: Superseded by the new Manifesto." in show
    assert "revoked" in bot.say("bob", None, "decision list")
    before = bot.counts()
    for who, line, expected in (
        ("alice", "decision ack D-1", "D-1 was revoked on"),
        ("bea", "decision amend D-1 New words", "so it takes no amendments"),
        ("bea", "decision revoke D-1 Again", "D-1 was revoked already"),
    ):
        out = bot.say(who, None, line)
        assert expected in out, out
    assert bot.counts() == before


def _unacknowledged(bot: Bot, slug: str) -> str:
    for line in bot.admin("secretariat summary").splitlines():
        if line.split()[:1] == [slug]:
            return line.split()[-1]
    raise AssertionError(f"no {slug} row")


def test_the_summary_stops_counting_a_revoked_decision(board: Bot) -> None:
    bot = board
    assert _unacknowledged(bot, "comms") == "1"
    bot.say("bea", None, "decision revoke D-1 Withdrawn.")
    assert _unacknowledged(bot, "comms") == "0"


def test_a_revoked_decision_gets_no_acknowledgement_reminder(board: Bot) -> None:
    bot = board
    bot.say("bea", "#boc", "decision post comms Keep this one.")
    bot.say("bea", None, "decision revoke D-1 Withdrawn.")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    start = bot.now + dt.timedelta(days=7)  # a Saturday: the reminder waits for Monday 09:00
    for h in range(0, 80, 2):
        bot.now = start + dt.timedelta(hours=h)
        engine.tick(bot.now)
    texts = [t for _, t, _ in sender.sent if "has not acknowledged" in t]
    assert texts and all("D-2" in t for t in texts), texts


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("bea", "decision amend D-1", "Missing <text...>: the decision's new wording."),
        ("bea", "decision amend", "Missing <id>."),
        ("bea", "decision revoke D-1", "Missing <reason...>: why is it revoked?"),
        ("bea", "decision revoke D-1 \"\"", "Missing <reason...>"),
        ("bea", "decision amend X-1 Words", "'X-1' is not a decision id"),
        ("bea", "decision revoke D-9 Gone", "No decision D-9."),
        ("bea", "decision amend D-1 " + "x" * (TEXT_MAX + 1), "The decision text is too long"),
        ("bea", "decision revoke D-1 " + "x" * (TEXT_MAX + 1), "The reason is too long"),
        ("alice", "decision amend D-1 Words",
         "Only a BoC member, the secretariat or an admin can do decision amend."),
        ("alice", "decision revoke D-1 Because",
         "Only a BoC member, the secretariat or an admin can do decision revoke."),
    ],
)
def test_bad_input_and_refusals_write_nothing(board: Bot, who: str, line: str,
                                              expected: str) -> None:
    bot = board
    before = bot.counts()
    reply = bot.ask(who, "#boc", line)
    out = render_reply(reply)
    assert reply.error and reply.private and expected in out, out
    assert "Usage:" in out
    assert bot.counts() == before
