"""When the engine sends what asks someone to act: the acknowledgement reminder in the
group's working hours (its own zone, across DST changes), and no digest of zeros."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.core.scheduling import WORK_END, WORK_START, working_time
from handlers.delivery._engine import DeliveryEngine
from tests.handlers.test_delivery import RecordingSender, run_ticks
from tests.support.dialog import Bot

UTC = dt.UTC
ZONES = ["Europe/Brussels", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def _working(at: dt.datetime, zone: str) -> bool:
    from zoneinfo import ZoneInfo

    local = at.astimezone(ZoneInfo(zone))
    return local.weekday() < 5 and WORK_START <= local.time() < WORK_END


@given(at=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2029, 1, 1),
                       timezones=st.just(UTC)),
       zone=st.sampled_from(ZONES))
def test_working_time_is_the_first_working_instant(at: dt.datetime, zone: str) -> None:
    got = working_time(at, zone)
    assert got >= at and _working(got, zone)
    if got != at:
        from zoneinfo import ZoneInfo

        assert not _working(at, zone)
        assert got.astimezone(ZoneInfo(zone)).time() == WORK_START
        # nothing in between is working time (hourly steps are enough: hours are whole)
        t = at + dt.timedelta(hours=1)
        while t < got:
            assert not _working(t, zone), t
            t += dt.timedelta(hours=1)


def setup(bot: Bot, zone: str | None) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg link boc", channel="#boc")
    bot.admin("tg add boc @carol")
    bot.admin("tg add repl @bob")
    for group in ("repl", "boc"):
        bot.admin(f"tg settings {group} digest off")
        bot.admin(f"tg settings {group} reminders off")
    if zone is not None:
        bot.admin(f"meeting schedule repl first monday 10:00 {zone}")


@pytest.mark.parametrize(
    ("posted", "zone", "sent"),
    [
        # Friday 19 Mar 2027 21:00 CET: a week later is a Friday night; Brussels changes to
        # CEST on Sunday 28 Mar, so Monday 09:00 local is 07:00 UTC
        (dt.datetime(2027, 3, 19, 20, 0, tzinfo=UTC), None,
         dt.datetime(2027, 3, 29, 7, 0, tzinfo=UTC)),
        # Friday 22 Oct 2027 18:00 CEST; back to CET on Sunday 31 Oct: Monday 09:00 = 08:00 UTC
        (dt.datetime(2027, 10, 22, 16, 0, tzinfo=UTC), None,
         dt.datetime(2027, 11, 1, 8, 0, tzinfo=UTC)),
        # the group's own zone, not the bot's: New York moves to EDT on 14 Mar 2027; posted
        # Saturday 6 Mar 03:00 New York time, due Saturday 13 Mar, sent Monday 15 Mar 09:00 EDT
        (dt.datetime(2027, 3, 6, 8, 0, tzinfo=UTC), "America/New_York",
         dt.datetime(2027, 3, 15, 13, 0, tzinfo=UTC)),
        # posted on a Wednesday at 11:00 Brussels: due in working hours, sent exactly then
        (dt.datetime(2027, 3, 3, 10, 0, tzinfo=UTC), None,
         dt.datetime(2027, 3, 10, 10, 0, tzinfo=UTC)),
    ],
)
def test_ack_reminder_waits_for_working_hours(bare_bot: Bot, posted: dt.datetime,
                                              zone: str | None, sent: dt.datetime) -> None:
    bot = bare_bot
    bot.now = posted - dt.timedelta(minutes=1)
    setup(bot, zone)
    bot.now = posted
    assert "D-1" in bot.say("carol", "#boc", "decision post repl Adopt the playbook")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    times = run_ticks(engine, bot, posted + dt.timedelta(days=6), sent + dt.timedelta(days=2),
                      dt.timedelta(minutes=15))
    acks = [i for i, (_, _, key) in enumerate(sender.sent) if key.startswith("ack:")]
    assert len(acks) == 1
    assert times[acks[0]] == sent


def test_no_digest_of_zeros(bare_bot: Bot) -> None:
    bot = bare_bot
    for slug in ("quiet", "busy", "meets"):
        bot.admin(f"tg create {slug} Group {slug}")
        bot.admin(f"tg link {slug}", channel=f"#{slug}")
        bot.admin(f"tg settings {slug} reminders off")
        bot.admin(f"tg settings {slug} nudges off")
    bot.admin("action add Write the plan due 2026-12-20 group busy")
    # Saturday 28 Nov: "meets" meets on Thursday 10 Dec, in the week of the 7 Dec digest
    bot.admin("meeting schedule meets 2nd thursday 10:00")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 15, 0, 0, tzinfo=UTC), dt.timedelta(hours=1))
    digests = sorted((ch.channel_id, key.split(":")[2]) for ch, _, key in sender.sent
                     if key.startswith("digest:"))
    assert digests == [("#busy", "2026-11-30"), ("#busy", "2026-12-07"),
                       ("#busy", "2026-12-14"), ("#meets", "2026-12-07")]
