"""A year of the Scalable Cities preset, four zones, DST included: every reminder exactly
once, at its local time, checked against an independent calendar computation."""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from handlers.delivery._engine import DeliveryEngine
from tests.handlers.test_delivery import RecordingSender
from tests.support.dialog import Bot

UTC = dt.UTC
# the series are scheduled at START; a year and a month of ticks follow
START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
END = dt.datetime(2028, 1, 1, 0, 0, tzinfo=UTC)

# group -> (rule, n-th weekday (0 = last) or None, weekday, day, HH:MM, zone)
SERIES = {
    "boc": ("first tuesday", 1, calendar.TUESDAY, "10:00", "Europe/Brussels"),
    # 02:30 on the last Sunday of March does not exist in Brussels; of October it is twice
    "replication": ("last sunday", 0, calendar.SUNDAY, "02:30", "Europe/Brussels"),
    # New York springs forward on the 2nd Sunday of March at 02:00
    "comms": ("2nd sunday", 2, calendar.SUNDAY, "09:00", "America/New_York"),
    "finance": ("3rd tuesday", 3, calendar.TUESDAY, "11:00", "Europe/Lisbon"),
    # 01:30 on the first Sunday of November happens twice in New York
    "data": ("first sunday", 1, calendar.SUNDAY, "01:30", "America/New_York"),
    "monitoring": ("3rd thursday", 3, calendar.THURSDAY, "16:00", "Europe/Helsinki"),
    "secretariat": ("last monday", 0, calendar.MONDAY, "15:00", "Europe/Helsinki"),
}


def placed(local: dt.datetime, zone: str) -> dt.datetime:
    """Wall time in ``zone``: the first of a repeated hour; a missing hour moves forward."""
    z = ZoneInfo(local.tzinfo.key if isinstance(local.tzinfo, ZoneInfo) else zone)
    aware = local.replace(tzinfo=z, fold=0)
    back = aware.astimezone(UTC).astimezone(z)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):  # in a gap
        aware = (local + (back.utcoffset() - aware.utcoffset())).replace(tzinfo=z)  # type: ignore[operator]
    return aware.astimezone(UTC)


def nth_weekday(year: int, month: int, n: int, weekday: int) -> dt.date:
    days = [week[weekday] for week in calendar.monthcalendar(year, month) if week[weekday]]
    return dt.date(year, month, days[n - 1] if n else days[-1])


def expected_reminders() -> set[tuple[str, dt.datetime, str]]:
    out = set()
    for slug, (_, n, weekday, hhmm, zone) in SERIES.items():
        at = dt.time(int(hhmm[:2]), int(hhmm[3:]))
        for year in (2026, 2027, 2028):
            for month in range(1, 13):
                local = dt.datetime.combine(nth_weekday(year, month, n, weekday), at)
                start = placed(local, zone)
                for label, due in (
                    ("7d", placed(local - dt.timedelta(days=7), zone)),
                    ("1d", placed(local - dt.timedelta(days=1), zone)),
                    ("1h", start - dt.timedelta(hours=1)),
                ):
                    if START <= due < END:
                        out.add((slug, due, label))
    return out


def test_a_year_of_reminders_in_four_zones(engine: Engine) -> None:
    bot = Bot(engine, now=START, preset=True)
    for slug, (rule, _, _, hhmm, zone) in SERIES.items():
        bot.admin(f"meeting schedule {slug} {rule} {hhmm} {zone} remind 7d,1d,1h")
        bot.admin(f"tg settings {slug} digest off")
        bot.admin(f"tg settings {slug} boc_summary off")
    expected = expected_reminders()
    sender = RecordingSender()
    delivery = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    # tick a minute before each expected instant (nothing may go early), at it, and at
    # 06:00 UTC every day besides
    instants = {due + d for _, due, _ in expected for d in (-dt.timedelta(minutes=1),
                                                            dt.timedelta(0))}
    day = START
    while day < END:
        instants.add(day + dt.timedelta(hours=6))
        day += dt.timedelta(days=1)
    got: list[tuple[str, dt.datetime, str]] = []
    for at in sorted(instants):
        bot.now = at
        result = delivery.tick(at)
        assert result.missed == [] and result.failed == []
        for d in result.delivered:
            if d.kind != "meeting_reminder":
                continue  # the BoC's monthly report goes out on its own schedule
            channel = d.channel.channel_id.lstrip("#")
            offset = {"604800s": "7d", "86400s": "1d", "3600s": "1h"}[d.key.split(":")[4]]
            due = d.due_at.replace(tzinfo=UTC)
            assert due == at, f"{d.key} delivered at {at}, due {due}"
            got.append((channel, due, offset))
    assert len(got) == len(set(got)), "a reminder was sent twice"
    assert set(got) == expected
    in_2027 = [e for e in expected if e[1].year == 2027]
    assert len(in_2027) == 7 * 12 * 3  # every month, three offsets, seven groups
    # spot checks of the DST days
    assert ("replication", dt.datetime(2027, 3, 28, 0, 30, tzinfo=UTC), "1h") in expected
    assert ("comms", dt.datetime(2027, 3, 14, 12, 0, tzinfo=UTC), "1h") in expected
    assert ("comms", dt.datetime(2027, 3, 13, 14, 0, tzinfo=UTC), "1d") in expected
    assert ("data", dt.datetime(2027, 11, 7, 4, 30, tzinfo=UTC), "1h") in expected
