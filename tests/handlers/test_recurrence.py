"""Monthly rules: parsing, known answers around DST, and properties over ten years."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.core.grammar import UserError
from handlers.core.recurrence import (
    format_offsets,
    local_occurrences,
    parse_offsets,
    parse_rule,
    parse_time,
    parse_zone,
    place,
)

ZONES = ["Europe/Brussels", "Europe/Lisbon", "Europe/Helsinki", "America/New_York"]
WEEKDAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
            "fourth": 4, "4th": 4, "last": -1}
UTC = dt.UTC


def occ(rule_text: str, start: dt.date, time: dt.time, zone: str,
        until: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """(naive wall time from the rule, placed aware instant) pairs."""
    rule, _ = parse_rule(rule_text)
    naive = local_occurrences(rule, start, time, dt.datetime.combine(start, dt.time.min),
                              dt.datetime.combine(until, dt.time.min))
    return [(n, place(n, zone)) for n in naive]


@pytest.mark.parametrize(
    ("text", "rule", "label"),
    [
        ("first tuesday", "RRULE:FREQ=MONTHLY;BYDAY=1TU", "first Tuesday"),
        ("2nd Wednesday", "RRULE:FREQ=MONTHLY;BYDAY=2WE", "second Wednesday"),
        ("LAST THURSDAY", "RRULE:FREQ=MONTHLY;BYDAY=-1TH", "last Thursday"),
        ("third fri", "RRULE:FREQ=MONTHLY;BYDAY=3FR", "third Friday"),
        ("the 4th monday of the month", "RRULE:FREQ=MONTHLY;BYDAY=4MO", "fourth Monday"),
        ("every last sundays", "RRULE:FREQ=MONTHLY;BYDAY=-1SU", "last Sunday"),
        ("day 15", "RRULE:FREQ=MONTHLY;BYMONTHDAY=15", "day 15"),
        ("day 28", "RRULE:FREQ=MONTHLY;BYMONTHDAY=28", "day 28"),
        ("day 31", "RRULE:FREQ=MONTHLY;BYMONTHDAY=31,-1;BYSETPOS=1",
         "day 31 (or the month's last day)"),
        ("last day", "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "last day"),
        ("rrule:freq=monthly;byday=-1th", "RRULE:FREQ=MONTHLY;BYDAY=-1TH",
         "RRULE:FREQ=MONTHLY;BYDAY=-1TH"),
        ("RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO;UNTIL=20301231",
         "RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO;UNTIL=20301231T235959",
         "RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO;UNTIL=20301231T235959"),
    ],
)
def test_parse_rule_accepts(text: str, rule: str, label: str) -> None:
    assert parse_rule(text) == (rule, label)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Missing <rule>"),
        ("fifth monday", "Not every month has a fifth Monday"),
        ("day 32", "must be 1 to 31"),
        ("day 0", "must be 1 to 31"),
        ("day x", "must be 1 to 31"),
        ("every blue moon", "is not a meeting rule"),
        ("first funday", "is not a meeting rule"),
        ("RRULE:FREQ=MONTHLY;DTSTART=20260101T100000", "Leave DTSTART out"),
        ("RRULE:FREQ=HOURLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("RRULE:FREQ=MONTHLY;BYHOUR=3", "BYHOUR is not allowed"),
        ("RRULE:FREQ=MONTHLY;TZID=Europe/Paris", "TZID is not allowed"),
        ("RRULE:FREQ=MONTHLY;INTERVAL=0", "INTERVAL must be a whole number"),
        ("RRULE:FREQ=MONTHLY;COUNT=2;UNTIL=20300101", "COUNT or UNTIL, not both"),
        ("RRULE:FREQ=MONTHLY;UNTIL=20300101T000000Z", "not UTC"),
        ("RRULE:FREQ=MONTHLY;FOO=1", "unknown part 'FOO'"),
        ("RRULE:FREQ=MONTHLY;FREQ=WEEKLY", "FREQ twice"),
        ("RRULE:BYDAY=TU", "needs a FREQ"),
        ("RRULE:FREQ=MONTHLY;BYDAY", "is not KEY=VALUE"),
        ("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "gives no meeting within 5 years"),
        ("RRULE:FREQ=MONTHLY;BYDAY=XX", "does not parse"),
        ("RRULE:FREQ=MONTHLY;" + "BYMONTHDAY=1;" * 30, "too long"),
    ],
)
def test_parse_rule_rejects(text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_rule(text)
    assert message in err.value.message


@given(st.text(max_size=40))
@settings(max_examples=200)
def test_parse_rule_only_raises_user_errors(text: str) -> None:
    try:
        rule, label = parse_rule(text)
    except UserError:
        return
    assert rule.startswith("RRULE:FREQ=") and label


RRULE_PARTS = st.sampled_from([
    "FREQ=MONTHLY", "FREQ=YEARLY", "INTERVAL=2", "INTERVAL=x", "COUNT=3", "BYDAY=1TU",
    "BYDAY=-1FR", "BYDAY=MO,WE", "BYMONTHDAY=31", "BYMONTHDAY=-1", "BYMONTHDAY=0",
    "BYSETPOS=1", "BYSETPOS=-1", "BYMONTH=2", "BYMONTH=13", "WKST=SU", "UNTIL=20291231",
    "UNTIL=2029", "BYYEARDAY=200", "BYWEEKNO=20", "=", "FREQ", "",
])


@given(st.lists(RRULE_PARTS, min_size=1, max_size=5))
@settings(max_examples=80, deadline=None)
def test_raw_rules_only_raise_user_errors(parts: list[str]) -> None:
    try:
        rule, _ = parse_rule("RRULE:" + ";".join(parts))
    except UserError:
        return
    # an accepted rule expands without error from any start
    local_occurrences(rule, dt.date(2026, 1, 1), dt.time(9), dt.datetime(2026, 1, 1),
                      dt.datetime(2028, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d,1d,1h", "7d,1d,1h"),
        ("1h,7d", "7d,1h"),
        ("30m, 2w", "14d,30m"),
        ("90m", "90m"),
        ("120m", "2h"),
        ("2w", "14d"),
    ],
)
def test_parse_offsets(text: str, expected: str) -> None:
    assert format_offsets(parse_offsets(text)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Missing reminder offsets"),
        ("0d", "must be before the meeting"),
        ("1x", "is not a reminder offset"),
        ("-1d", "is not a reminder offset"),
        ("1d,1d", "given twice"),
        ("24h,1d", "given twice"),
        ("1m,2m,3m,4m,5m,6m,7m", "At most 6 reminders"),
        ("100d", "too early"),
    ],
)
def test_parse_offsets_rejects(text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_offsets(text)
    assert message in err.value.message


def test_parse_time_and_zone() -> None:
    assert parse_time("9:05") == dt.time(9, 5)
    assert parse_time("23:59") == dt.time(23, 59)
    for bad in ("25:00", "24:00", "12:60", "noon", "1200"):
        with pytest.raises(UserError, match="is not a time of day"):
            parse_time(bad)
    assert parse_zone("America/New_York").key == "America/New_York"
    for bad in ("Mars/Base", "../etc/passwd", "", "Europe/"):
        with pytest.raises(UserError, match="Unknown time zone"):
            parse_zone(bad)


# --- known answers ---------------------------------------------------------------------------


def test_last_thursday_november_2026() -> None:
    got = occ("last thursday", dt.date(2026, 11, 1), dt.time(10), "Europe/Brussels",
              dt.date(2026, 12, 1))
    assert [n for n, _ in got] == [dt.datetime(2026, 11, 26, 10, 0)]
    assert got[0][1].astimezone(UTC) == dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_gap_is_shifted_forward_not_dropped() -> None:
    # 29 Mar 2026 is the last Sunday of March: Brussels skips 02:00-03:00
    got = occ("last sunday", dt.date(2026, 3, 1), dt.time(2, 30), "Europe/Brussels",
              dt.date(2026, 4, 1))
    assert len(got) == 1
    naive, aware = got[0]
    assert naive == dt.datetime(2026, 3, 29, 2, 30)
    assert aware.replace(tzinfo=None) == dt.datetime(2026, 3, 29, 3, 30)
    assert aware.tzname() == "CEST"
    assert aware.astimezone(UTC) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_new_york_gap_and_repeat() -> None:
    spring = occ("2nd sunday", dt.date(2027, 3, 1), dt.time(2, 30), "America/New_York",
                 dt.date(2027, 4, 1))
    assert spring[0][1].astimezone(UTC) == dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    autumn = occ("first sunday", dt.date(2027, 11, 1), dt.time(1, 30), "America/New_York",
                 dt.date(2027, 12, 1))
    # 01:30 happens twice on 7 Nov 2027: the meeting is the first one (EDT), once
    assert len(autumn) == 1
    assert autumn[0][1].astimezone(UTC) == dt.datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_repeated_hour_taken_once_in_brussels() -> None:
    got = occ("last sunday", dt.date(2026, 10, 1), dt.time(2, 30), "Europe/Brussels",
              dt.date(2026, 11, 1))
    assert len(got) == 1
    assert got[0][1].astimezone(UTC) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_day_31_meets_every_month() -> None:
    got = occ("day 31", dt.date(2027, 1, 1), dt.time(9), "Europe/Lisbon", dt.date(2028, 4, 1))
    days = [n.date() for n, _ in got]
    assert days[:4] == [dt.date(2027, 1, 31), dt.date(2027, 2, 28), dt.date(2027, 3, 31),
                        dt.date(2027, 4, 30)]
    assert dt.date(2028, 2, 29) in days
    assert len(days) == 15


def test_window_is_half_open_and_starts_at_starts_on() -> None:
    rule, _ = parse_rule("day 15")
    got = local_occurrences(rule, dt.date(2026, 3, 20), dt.time(10),
                            dt.datetime(2026, 1, 1), dt.datetime(2026, 5, 15, 10))
    assert got == [dt.datetime(2026, 4, 15, 10)]
    assert local_occurrences(rule, dt.date(2026, 3, 20), dt.time(10),
                             dt.datetime(2026, 5, 15, 10), dt.datetime(2026, 5, 15, 10)) == []


# --- properties over ten years -------------------------------------------------------------


def named_rules() -> st.SearchStrategy[str]:
    weekday = st.sampled_from(WEEKDAY_NAMES).flatmap(
        lambda d: st.sampled_from([d, d.upper(), d.capitalize(), d[:3]]))
    ordinal = st.sampled_from(sorted(ORDINALS))
    by_weekday = st.tuples(ordinal, weekday).map(lambda t: f"{t[0]} {t[1]}")
    by_day = st.integers(1, 31).map(lambda n: f"day {n}")
    return st.one_of(by_weekday, by_day)


TIMES = st.one_of(
    st.sampled_from([dt.time(2, 30), dt.time(1, 30), dt.time(2, 0), dt.time(3, 0),
                     dt.time(0, 0), dt.time(23, 59)]),
    st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)


def _expected_day(rule_text: str, year: int, month: int) -> dt.date:
    last = calendar.monthrange(year, month)[1]
    words = rule_text.lower().split()
    if words[0] == "day":
        return dt.date(year, month, min(int(words[1]), last))
    wd = [w[:3] for w in WEEKDAY_NAMES].index(words[1][:3])
    n = ORDINALS[words[0]]
    days = [d for d in range(1, last + 1) if dt.date(year, month, d).weekday() == wd]
    return dt.date(year, month, days[n - 1] if n > 0 else days[-1])


@given(
    rule_text=named_rules(),
    zone=st.sampled_from(ZONES),
    time=TIMES,
    start=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)),
)
@settings(max_examples=150, deadline=None)
def test_ten_years_of_a_named_rule(rule_text: str, zone: str, time: dt.time,
                                   start: dt.date) -> None:
    end = start.replace(year=start.year + 10, day=1)
    got = occ(rule_text, start, time, zone, end)
    tzinfo = ZoneInfo(zone)

    instants = [a.astimezone(UTC) for _, a in got]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)

    # exactly one per calendar month, every month from the first on
    months = [(n.year, n.month) for n, _ in got]
    first = (start.year, start.month)
    assert months[0] in (first, (start.year + start.month // 12, start.month % 12 + 1))
    for (y0, m0), (y1, m1) in itertools.pairwise(months):
        assert (y1 * 12 + m1) - (y0 * 12 + m0) == 1
    assert months[-1] == ((end - dt.timedelta(days=1)).year, (end - dt.timedelta(days=1)).month)

    for naive, aware in got:
        assert naive.date() == _expected_day(rule_text, naive.year, naive.month)
        assert naive.time() == time
        assert tz.datetime_exists(aware)
        assert aware.fold == 0
        wall = aware.replace(tzinfo=None)
        if tz.datetime_exists(naive.replace(tzinfo=tzinfo)):
            assert wall == naive
            # a repeated wall time is its first instant
            assert aware.utcoffset() == naive.replace(tzinfo=tzinfo, fold=0).utcoffset()
        else:
            # shifted forward by the size of the gap, to the same calendar day
            before = (naive - dt.timedelta(hours=3)).replace(tzinfo=tzinfo).utcoffset()
            after = (naive + dt.timedelta(hours=3)).replace(tzinfo=tzinfo).utcoffset()
            assert before is not None and after is not None
            assert wall == naive + (after - before)
            assert wall > naive and wall.date() == naive.date()
