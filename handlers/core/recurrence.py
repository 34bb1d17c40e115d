"""Monthly meeting rules: parsing, expansion in local wall time, and placement in a zone.

A series is a naive-local RRULE plus a zone name (DESIGN section 3). Rules are expanded by
dateutil in naive local time, so "10:00 on the last Thursday" stays 10:00 across DST changes,
and only then placed in the zone: a wall time that falls in a DST gap is shifted forward
(never dropped), a repeated wall time is taken once (its first instant, fold=0).

Everything here is pure (no database), so it can be tested exhaustively.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import tz
from dateutil.rrule import rrule, rrulestr

from handlers.core.grammar import UserError, ascii_int
from handlers.core.i18n import _, _n

RULE_MAX = 200
MAX_OFFSETS = 6
MAX_OFFSET = dt.timedelta(days=90)
# A rule must give a meeting within this horizon; it also bounds every expansion, since
# dateutil walks from DTSTART and an impossible rule would otherwise run to year 9999.
HORIZON_YEARS = 5

# TRANSLATORS: examples of meeting rules: keep the rules themselves ("first tuesday",
# "day 15", "RRULE:") as they are typed.
RULE_EXAMPLES = _("first tuesday, 2nd wednesday, last thursday, day 15 or an RRULE: line")

WEEKDAYS: dict[str, tuple[str, str]] = {}  # word -> (RRULE code, display name)
for _code, _name in zip(
    ("MO", "TU", "WE", "TH", "FR", "SA", "SU"),
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    strict=True,
):
    WEEKDAYS[_name.lower()] = (_code, _name)
    WEEKDAYS[_name.lower()[:3]] = (_code, _name)
for _alias, _full in (("tues", "tuesday"), ("weds", "wednesday"), ("thur", "thursday"),
                      ("thurs", "thursday")):
    WEEKDAYS[_alias] = WEEKDAYS[_full]

ORDINALS: dict[str, tuple[int, str]] = {
    "first": (1, "first"), "1st": (1, "first"),
    "second": (2, "second"), "2nd": (2, "second"),
    "third": (3, "third"), "3rd": (3, "third"),
    "fourth": (4, "fourth"), "4th": (4, "fourth"),
    "last": (-1, "last"),
}
_NOT_MONTHLY = {"fifth", "5th"}
_FILLER = {"the", "every", "each", "of", "month", "monthly", "on", "a"}

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$", re.ASCII)
_OFFSET = re.compile(r"^(\d{1,4})([mhdw])$", re.ASCII)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RULE_KEYS = {
    "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO",
    "BYMONTH", "BYSETPOS", "WKST",
}
_FREQS = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
_UNTIL_DATE = re.compile(r"^\d{8}$", re.ASCII)
_UNTIL_LOCAL = re.compile(r"^\d{8}T\d{6}$", re.ASCII)


def looks_like_time(raw: str) -> bool:
    """True for anything shaped like ``HH:MM``, so ``25:00`` is reported as a bad time."""
    return _TIME.match(raw) is not None


def parse_time(raw: str) -> dt.time:
    m = _TIME.match(raw.strip())
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour < 24 and minute < 60:
            return dt.time(hour, minute)
    raise UserError(_("{raw} is not a time of day: use HH:MM, from 00:00 to 23:59.",
                      raw=repr(raw)))


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone (``Europe/Brussels``); an unknown name is a clear error, not a crash."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UserError(_(
            "Unknown time zone {zone}: use an Area/City name like Europe/Brussels.",
            zone=repr(name))) from None


def _named_rule(words: list[str]) -> tuple[str, str] | None:
    words = [w for w in words if w not in _FILLER]
    if len(words) == 2 and words[0] == "last" and words[1] == "day":
        return "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "last day"
    if len(words) == 2 and words[0] == "day":
        n = ascii_int(words[1], 2) or 0
        if not 1 <= n <= 31:
            raise UserError(_("day {day}: the day of the month must be 1 to 31.",
                              day=repr(words[1])))
        if n <= 28:
            return f"RRULE:FREQ=MONTHLY;BYMONTHDAY={n}", f"day {n}"
        # the 29th-31st do not exist in every month: take the month's last day there,
        # so the group still meets once a month
        return (
            f"RRULE:FREQ=MONTHLY;BYMONTHDAY={n},-1;BYSETPOS=1",
            f"day {n} (or the month's last day)",
        )
    if len(words) == 2:
        ordinal, day = words
        if day not in WEEKDAYS and day.endswith("s") and day[:-1] in WEEKDAYS:
            day = day[:-1]
        if day in WEEKDAYS and ordinal in _NOT_MONTHLY:
            # TRANSLATORS: {weekday} is an English weekday's name (Monday); "last {day}"
            # is what to type, like "last mon".
            raise UserError(_(
                "Not every month has a fifth {weekday}: use last {day} instead.",
                weekday=WEEKDAYS[day][1], day=day))
        if ordinal in ORDINALS and day in WEEKDAYS:
            n, label = ORDINALS[ordinal]
            code, name = WEEKDAYS[day]
            return f"RRULE:FREQ=MONTHLY;BYDAY={n}{code}", f"{label} {name}"
    return None


def _raw_rule(text: str) -> str:
    """Check and normalise the body of an ``RRULE:`` line; returns the full line."""
    body = text.split(":", 1)[1].strip().upper()
    if "DTSTART" in body or "\n" in body or "\r" in body:
        raise UserError(_(
            "Leave DTSTART out of the RRULE: the series starts today, at the time you give."
        ))
    parts: list[str] = []
    seen: set[str] = set()
    for part in body.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not value:
            raise UserError(_("RRULE part {part} is not KEY=VALUE.", part=repr(part)))
        if key in ("BYHOUR", "BYMINUTE", "BYSECOND", "TZID"):
            raise UserError(_("RRULE {key} is not allowed: the time and zone are given apart.",
                              key=key))
        if key not in _RULE_KEYS:
            raise UserError(_("RRULE has an unknown part {key}.", key=repr(key)))
        if key in seen:
            raise UserError(_("RRULE gives {key} twice.", key=key))
        seen.add(key)
        if key == "FREQ" and value not in _FREQS:
            raise UserError(_(
                "RRULE FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY (one meeting a day at most)."
            ))
        if key in ("INTERVAL", "COUNT") and not 1 <= (ascii_int(value, 4) or 0) <= 1000:
            raise UserError(_("RRULE {key} must be a whole number from 1 to 1000.", key=key))
        if key == "UNTIL":
            if _UNTIL_DATE.match(value):
                value += "T235959"  # the whole last day, as people mean it
            elif not _UNTIL_LOCAL.match(value):
                raise UserError(_(
                    "RRULE UNTIL must be a local date or date-time (UNTIL=20271231), not UTC."
                ))
        parts.append(f"{key}={value}")
    if "FREQ" not in seen:
        raise UserError(_("RRULE needs a FREQ, like RRULE:FREQ=MONTHLY;BYDAY=-1TH."))
    if "COUNT" in seen and "UNTIL" in seen:
        raise UserError(_("RRULE may give COUNT or UNTIL, not both."))
    return "RRULE:" + ";".join(parts)


def build(rule: str, starts_on: dt.date, start_time: dt.time) -> rrule:
    """The dateutil rule of a stored series line, starting at ``starts_on`` ``start_time``."""
    result = rrulestr(rule, dtstart=dt.datetime.combine(starts_on, start_time))
    assert isinstance(result, rrule)
    return result


class _PastWindow(Exception):
    """The walk went beyond the window: nothing later can fall inside it."""


class _WindowedRule(rrule):  # type: ignore[misc]  # dateutil ships no types here
    """A dateutil rule whose walk stops a little past the window asked for.

    dateutil walks period by period from DTSTART and stops only at a candidate past the
    window, or at year 9999: a rule with no further occurrence (``FREQ=DAILY;BYMONTH=2;
    BYMONTHDAY=30``) walked ~2.9 million days, seconds of CPU, before answering "none". The
    walk rebuilds its month masks at every new month (every new year for YEARLY) and reads
    ``_bynweekday`` once or twice each time; counting those reads bounds the walk by the
    window's length instead. (A dateutil upgrade that changed this shows in
    tests/handlers/test_permission_first.py, which counts the periods each rule walks.)
    """

    _reads_left = -1  # < 0: not counting

    @property
    def _bynweekday(self) -> object:
        if self._reads_left >= 0:
            if self._reads_left == 0:
                raise _PastWindow
            self._reads_left -= 1
        return self.__dict__["_bynweekday"]

    @_bynweekday.setter
    def _bynweekday(self, value: object) -> None:
        self.__dict__["_bynweekday"] = value


def _walk(rr: rrule, start: dt.datetime, before: dt.datetime) -> list[dt.datetime]:
    """Every occurrence of ``rr`` (which starts at ``start``) before ``before``, walking
    no further than a few months past it."""
    months = max(0, (before.year - start.year) * 12 + before.month - start.month)
    rr.__class__ = _WindowedRule
    assert isinstance(rr, _WindowedRule)
    # at most two reads a month visited: the walk ends past month ``months + 2``
    rr._reads_left = 2 * (months + 3)
    out: list[dt.datetime] = []
    try:
        for at in rr:
            if at >= before:
                break
            out.append(at)
    except _PastWindow:
        pass
    return out


def parse_rule(text: str) -> tuple[str, str]:
    """``first tuesday`` or ``RRULE:...`` as (RRULE line without DTSTART, human label)."""
    text = " ".join(text.split())
    if not text:
        raise UserError(_("Missing <rule>: {examples}.", examples=RULE_EXAMPLES))
    if len(text) > RULE_MAX:
        raise UserError(_n("The rule is too long ({n} character; at most {limit}).",
                           "The rule is too long ({n} characters; at most {limit}).",
                           len(text), limit=RULE_MAX))
    if text.upper().startswith("RRULE:"):
        line = _raw_rule(text)
        label = line
    else:
        named = _named_rule(text.lower().split())
        if named is None:
            raise UserError(_("{rule} is not a meeting rule: use {examples}.", rule=repr(text),
                              examples=RULE_EXAMPLES))
        line, label = named
    # dateutil has the last word on syntax; a probe start shows whether it yields anything
    probe = dt.date(2000, 1, 3)
    try:
        found = local_occurrences(
            line, probe, dt.time(12, 0),
            dt.datetime.combine(probe, dt.time.min),
            dt.datetime.combine(probe.replace(year=probe.year + HORIZON_YEARS), dt.time.min),
        )
    except UserError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as err:
        # TRANSLATORS: {problem} is the rule parser's own message, in English.
        raise UserError(_("That RRULE does not parse: {problem}.", problem=str(err))) from None
    if not found and "UNTIL" not in line and "COUNT" not in line:
        raise UserError(_n("{rule} gives no meeting within {n} year.",
                           "{rule} gives no meeting within {n} years.",
                           HORIZON_YEARS, rule=label))
    return line, label


def parse_offsets(text: str) -> list[dt.timedelta]:
    """``7d,1d,1h`` (units m, h, d, w) as distinct positive offsets, largest first."""
    items = [p for p in text.replace(" ", ",").lower().split(",") if p]
    if not items:
        raise UserError(_("Missing reminder offsets, like 7d,1d,1h."))
    if len(items) > MAX_OFFSETS:
        raise UserError(_n("At most {n} reminder, not {count}.",
                           "At most {n} reminders, not {count}.",
                           MAX_OFFSETS, count=len(items)))
    out: list[dt.timedelta] = []
    for item in items:
        m = _OFFSET.match(item)
        if not m:
            raise UserError(_(
                "{offset} is not a reminder offset: use a number and m, h, d or w, like 1d.",
                offset=repr(item)))
        delta = dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        if delta <= dt.timedelta(0):
            raise UserError(_("Reminder {offset} must be before the meeting (more than 0).",
                              offset=repr(item)))
        if delta > MAX_OFFSET:
            raise UserError(_n("Reminder {offset} is too early: at most {n} day.",
                               "Reminder {offset} is too early: at most {n} days.",
                               MAX_OFFSET.days, offset=repr(item)))
        if delta in out:
            raise UserError(_("Reminder {offset} is given twice.", offset=repr(item)))
        out.append(delta)
    return sorted(out, reverse=True)


def format_offset(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    for unit, size in (("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def format_offsets(deltas: list[dt.timedelta]) -> str:
    return ",".join(format_offset(d) for d in deltas)


def local_occurrences(
    rule: str,
    starts_on: dt.date,
    start_time: dt.time,
    after: dt.datetime,
    before: dt.datetime,
) -> list[dt.datetime]:
    """Naive local starts with ``after <= start < before``, in wall time, not yet placed."""
    if before <= after:
        return []
    rr = build(rule, starts_on, start_time)
    start = dt.datetime.combine(starts_on, start_time)
    return [d for d in _walk(rr, start, before) if d >= after]


def next_local(
    rule: str, starts_on: dt.date, start_time: dt.time, after: dt.datetime
) -> dt.datetime | None:
    """The first naive local start at or after ``after``, looking at most a horizon ahead."""
    horizon = after + dt.timedelta(days=366 * HORIZON_YEARS)
    found = local_occurrences(rule, starts_on, start_time, after, horizon)
    return found[0] if found else None


def is_occurrence(rule: str, starts_on: dt.date, start_time: dt.time, day: dt.date) -> bool:
    """Whether the rule has a meeting on local date ``day``."""
    start = dt.datetime.combine(day, dt.time.min)
    return bool(
        local_occurrences(rule, starts_on, start_time, start, start + dt.timedelta(days=1))
    )


def place(naive_local: dt.datetime, zone: str | ZoneInfo) -> dt.datetime:
    """A wall time as an aware instant in ``zone``: gaps shift forward, repeats fold=0."""
    tzinfo = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    aware = naive_local.replace(tzinfo=tzinfo, fold=0)
    if not tz.datetime_exists(aware):
        resolved = tz.resolve_imaginary(aware)
        assert isinstance(resolved, dt.datetime)
        aware = resolved
    return aware


def to_local_naive(instant: dt.datetime, zone: str | ZoneInfo) -> dt.datetime:
    """An aware instant as naive wall time in ``zone``."""
    tzinfo = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return instant.astimezone(tzinfo).replace(tzinfo=None)
