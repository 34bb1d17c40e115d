"""What is scheduled besides meeting reminders: nudges, digests, ack reminders, BoC summary."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from handlers.actions._nudges import nudge_days
from handlers.core.directory import SYSTEM_ID, SYSTEM_PLATFORM
from handlers.core.grammar import UserError
from handlers.core.messages import ChannelRef
from handlers.core.scheduling import validate_setting
from handlers.delivery._engine import DeliveryEngine, SendFailed
from storage.models import Group, Identity, MeetingSeries
from tests.handlers.test_delivery import RecordingSender, run_ticks
from tests.support.dialog import Bot

UTC = dt.UTC


def kinds(sender: RecordingSender) -> list[str]:
    return [key.split(":")[0] for _, _, key in sender.sent]


def setup(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg link boc", channel="#boc")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")
    bot.admin("tg add boc @carol")


def test_nudges_one_message_a_day_per_person(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    for group in ("repl", "boc"):
        bot.admin(f"tg settings {group} digest off")
    # Saturday 28 Nov: due Monday 30 Nov (twice, for alice), Tuesday 1 Dec (bob)
    bot.say("alice", "#repl", "action add @alice Draft the guide due 2026-11-30")
    bot.say("alice", "#repl", "action add @alice @bob Book the room due 2026-11-30")
    bot.say("alice", "#repl", "action add @bob Send the invite due 2026-12-01")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 9, 12, 0, tzinfo=UTC), dt.timedelta(hours=1))
    dms = [(ch.channel_id, text, key) for ch, text, key in sender.sent]
    by_day: dict[tuple[str, str], int] = {}
    for channel, _, key in dms:
        day = key.split(":")[2]
        by_day[(channel, day)] = by_day.get((channel, day), 0) + 1
    assert all(n == 1 for n in by_day.values()), by_day
    alice = sorted(day for (ch, day) in by_day if ch == "dm:alice")
    bob = sorted(day for (ch, day) in by_day if ch == "dm:bob")
    # alice: the day before (29th) and the day (30th), then weekly while overdue (7 Dec)
    assert alice == ["2026-11-29", "2026-11-30", "2026-12-07"]
    # bob: "Book the room" (30th) and "Send the invite" (1 Dec) share messages
    assert bob == ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-07", "2026-12-08"]
    first_alice = next(t for ch, t, k in dms if ch == "dm:alice")
    assert "Due tomorrow:" in first_alice and "Draft the guide" in first_alice
    assert "Book the room" in first_alice
    assert ChannelRef("shell", "dm:alice").direct_user == "alice"


def test_done_actions_are_not_nudged(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    bot.admin("tg settings repl digest off")
    bot.admin("tg settings boc digest off")
    bot.say("alice", "#repl", "action add @alice Draft due 2026-11-30")
    # planned at 09:00 on the 29th (Brussels), closed before any tick sends it
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {}, kinds=bot.router.registry.kinds)
    at = dt.datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    bot.now = at
    engine.tick(at)  # planned, but no shell sender in this process: stays pending
    bot.say("alice", "#repl", "action done A-1")
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    result = engine.tick(at + dt.timedelta(minutes=5))
    assert sender.sent == [] and len(result.skipped) == 1


def test_weekly_digest_in_each_channel(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    bot.say("alice", "#repl", "action add @bob Overdue thing due 2026-11-30")
    bot.admin("tg settings boc digest off")
    bot.admin("tg settings repl nudges off")
    bot.admin("tg settings repl digest friday 16:30")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 12, 0, 0, tzinfo=UTC), dt.timedelta(minutes=30))
    digests = [(ch, t) for ch, t, k in sender.sent if k.startswith("digest:")]
    # Fridays 4 and 11 Dec at 16:30 CET = 15:30 UTC, in #repl only
    assert [ch for ch, _ in digests] == [ChannelRef("shell", "#repl")] * 2
    assert "Replication: the week ahead" in digests[0][1]
    assert "Overdue thing" in digests[0][1]


def test_unacknowledged_decision_reminded_once_after_7_days(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    for group in ("repl", "boc"):
        bot.admin(f"tg settings {group} digest off")
    bot.say("carol", "#boc", "decision post repl Adopt the replication playbook")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 10, 0, 0, tzinfo=UTC), dt.timedelta(hours=2))
    acks = [(ch, t) for ch, t, k in sender.sent if k.startswith("ack:")]
    assert len(acks) == 1 and acks[0][0] == ChannelRef("shell", "#repl")
    assert "has not acknowledged BoC decision D-1" in acks[0][1]
    assert "decision ack D-1" in acks[0][1]


def test_acknowledged_decision_is_not_reminded(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    for group in ("repl", "boc"):
        bot.admin(f"tg settings {group} digest off")
    bot.say("carol", "#boc", "decision post repl Adopt the playbook")
    bot.say("bob", "#repl", "decision ack D-1")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 6, 12, 0, tzinfo=UTC), dt.timedelta(hours=2))
    assert [k for k in kinds(sender) if k == "ack"] == []


def test_boc_summary_before_the_board_meets(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    for group in ("repl", "boc"):
        bot.admin(f"tg settings {group} digest off")
    bot.admin("tg settings boc boc_summary 2h")
    bot.admin("meeting schedule boc first tuesday 10:00 remind 1h")
    bot.say("alice", "#repl", "action add @bob Late item due 2026-11-30")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC), dt.timedelta(minutes=30))
    summary = [(ch, t) for ch, t, k in sender.sent if k.startswith("boc_summary:")]
    assert len(summary) == 1 and summary[0][0] == ChannelRef("shell", "#boc")
    assert "Before the Board meets" in summary[0][1] and "repl" in summary[0][1]
    assert kinds(sender).count("meeting_reminder") == 1
    # composed as the bot's own person row (one, never an admin), not a borrowed admin
    with bot.sessions() as s:
        system = s.scalars(select(Identity).where(Identity.platform == SYSTEM_PLATFORM)).all()
        assert [(i.external_id, i.person.is_admin) for i in system] == [(SYSTEM_ID, False)]


def test_nudge_days() -> None:
    today = dt.date(2026, 12, 15)
    assert nudge_days(today, None) == [dt.date(2026, 12, 16), today]
    assert nudge_days(today, dt.date(2026, 12, 1)) == [
        dt.date(2026, 12, 16), today, dt.date(2026, 12, 8), dt.date(2026, 12, 1)]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("digest", "Mon 9:05", "monday 09:05"), ("nudges", "OFF", "off"),
     ("boc_summary", "2h", "2h"), ("ack_reminder", "14d", "14d"), ("boc_report", "3d", "3d")],
)
def test_validate_setting(key: str, value: str, expected: str) -> None:
    assert validate_setting(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [("digest", "someday"), ("nudges", "maybe"), ("ack_reminder", "3h"), ("colour", "red"),
     ("boc_summary", "1d,2d")],
)
def test_bad_settings(bare_bot: Bot, key: str, value: str) -> None:
    with pytest.raises(UserError):
        validate_setting(key, value)
    bare_bot.admin("tg create repl Replication")
    before = bare_bot.counts()
    out = bare_bot.say("root", None, f"tg settings repl {key} {value}")
    assert "Usage: tg settings" in out
    assert bare_bot.counts() == before


def test_settings_need_a_chair(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    assert "Only a chair of repl" in bot.say("bob", "#repl", "tg settings digest off")
    assert "repl: digest is now off" in bot.say("alice", "#repl", "tg settings digest off")
    assert re.search(r"digest\s+off\s", bot.say("bob", "#repl", "tg settings"))


def test_secretariat_sees_missed_and_failed_deliveries(bare_bot: Bot) -> None:
    bot = bare_bot
    setup(bot)
    bot.admin("tg settings repl digest off")
    bot.admin("tg settings boc digest off")
    bot.admin("meeting schedule repl first tuesday 10:00 remind 1d,1h")

    class Broken:
        def send(self, channel: ChannelRef, blocks: list[object], key: str,
                 timeout: float | None = None) -> str:
            raise SendFailed("channel_not_found", permanent=True)

    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": Broken()}, kinds=bot.router.registry.kinds)  # type: ignore[dict-item]
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    bot.now = at
    assert len(engine.tick(at).failed) == 1
    # the 1-hour reminder: the bot was down until after the meeting began
    bot.now = at = dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert len(engine.tick(at).missed) == 1
    out = bot.admin("secretariat deliveries")
    # the one sent is the schedule command's own announcement, an outbox row like the rest
    assert "0 pending, 0 sending, 1 sent, 1 failed, 1 missed" in out
    assert "channel_not_found" in out and "missed by" not in out.split("failed")[0]
    assert "meeting reminder" in out
    refused = bot.say("bob", "#repl", "secretariat deliveries")
    assert "Only an admin or the secretariat can do secretariat deliveries." in refused
    assert "Unknown filter 'bogus'." in bot.say("root", None, "secretariat deliveries bogus")


def test_an_idle_tick_expands_no_series(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bookmark keeps idle ticks cheap: a series is expanded only when a reminder may
    be due, or after it changed."""
    from handlers.meetings import _commands as meetings

    calls: list[int] = []
    real = meetings.occurrences

    def counting(series: MeetingSeries, *args: dt.datetime) -> list[meetings.Occurrence]:
        calls.append(series.id)
        return real(series, *args)

    monkeypatch.setattr(meetings, "occurrences", counting)
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": RecordingSender()}, kinds=bot.router.registry.kinds)
    at = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    engine.tick(at)
    assert calls  # the preset's seven series are planned once
    calls.clear()
    engine.tick(at + dt.timedelta(minutes=1))
    assert calls == []
    bot.now = at + dt.timedelta(minutes=2)
    bot.admin("meeting skip replication 2026-12-09")
    calls.clear()
    engine.tick(at + dt.timedelta(minutes=3))
    with bot.sessions() as s:
        replication = s.scalars(select(MeetingSeries).join(Group)
                                .where(Group.slug == "replication")).one()
    assert set(calls) == {replication.id}  # only the changed series
