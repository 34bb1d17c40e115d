"""iCalendar (RFC 5545) export of meeting series, written by hand: it is a small format and
the project carries no calendar dependency.

One VEVENT per series (DTSTART with TZID, RRULE, EXDATE for skipped meetings) and one
override VEVENT per moved meeting (same UID, RECURRENCE-ID = the original start). Moved
meetings are deliberately not in EXDATE: RFC 5545 removes EXDATE instances from the set, so
an override of an excluded instance would refer to nothing, and some clients drop it.

Each zone gets a VTIMEZONE computed from zoneinfo: its transitions over the years the
calendar covers, the regular yearly tail as an RRULE (so it stays right beyond the span) and
anything irregular as RDATEs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from handlers.core.recurrence import local_occurrences, next_local, place
from storage.models import MeetingSeries

PRODID = "-//Taskbot//Meetings 1.0//EN"
MAX_OCTETS = 75
_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# years of zone transitions written out for a series with no end
_OPEN_SPAN_YEARS = 10


# --- text -----------------------------------------------------------------------------------


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newlines escaped (RFC 5545 3.3.11)."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return "".join(ch for ch in value if ch >= " " or ch == "\t")


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 sequence (RFC 5545 3.1)."""
    out: list[str] = []
    current, size, limit = "", 0, MAX_OCTETS
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size, limit = " ", 1, MAX_OCTETS
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def _local(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _offset(delta: dt.timedelta | None) -> str:
    seconds = int((delta or dt.timedelta(0)).total_seconds())
    sign = "+" if seconds >= 0 else "-"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


# --- VTIMEZONE ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    at: dt.datetime  # aware UTC, the first instant of the new offset
    offset_from: dt.timedelta
    offset_to: dt.timedelta
    name: str
    daylight: bool

    @property
    def local_start(self) -> dt.datetime:
        """The onset as wall time before the change, the way VTIMEZONE's DTSTART is given."""
        return (self.at + self.offset_from).replace(tzinfo=None)


def _state(zone: ZoneInfo, at: dt.datetime) -> tuple[dt.timedelta | None, dt.timedelta | None,
                                                     str | None]:
    local = at.astimezone(zone)
    return local.utcoffset(), local.dst(), local.tzname()


def transitions(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[Transition]:
    """Every change of offset, DST flag or name between two aware instants.

    A day-by-day scan then a bisection to the second: zoneinfo keeps its table private, and
    a few thousand lookups for ten years cost a few milliseconds.
    """
    found: list[Transition] = []
    step = dt.timedelta(days=1)
    t = start
    before = _state(zone, t)
    while t < end:
        nxt = min(t + step, end)
        after = _state(zone, nxt)
        if after != before:
            lo, hi = t, nxt
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    break
                if _state(zone, mid) == before:
                    lo = mid
                else:
                    hi = mid
            off_from, _, _ = before
            off_to, dst, name = _state(zone, hi)
            found.append(Transition(
                hi, off_from or dt.timedelta(0), off_to or dt.timedelta(0),
                name or zone.key, bool(dst),
            ))
            before = _state(zone, hi)
        t = nxt
    return found


def _yearly_rule(onset: dt.datetime) -> tuple[int, str]:
    """(month, BYDAY) of a yearly onset: its weekday counted from the month's start, or
    ``-1`` when it is the month's last such weekday (as DST rules usually are)."""
    month_days = ((onset.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
                  - dt.timedelta(days=1)).day
    code = _CODES[onset.weekday()]
    if onset.day + 7 > month_days:
        return onset.month, f"-1{code}"
    return onset.month, f"{(onset.day - 1) // 7 + 1}{code}"


def _observance(kind: str, first: Transition, extra: list[str]) -> list[str]:
    return [
        f"BEGIN:{kind}",
        f"DTSTART:{_local(first.local_start)}",
        *extra,
        f"TZOFFSETFROM:{_offset(first.offset_from)}",
        f"TZOFFSETTO:{_offset(first.offset_to)}",
        f"TZNAME:{escape_text(first.name)}",
        f"END:{kind}",
    ]


def vtimezone(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[str]:
    """A VTIMEZONE for ``zone`` that is right from a year after ``start`` (callers start a
    year before their first event, so a real onset precedes it) to ``end`` and, where the
    zone follows a yearly rule at the end, beyond it."""
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone.key}"]
    found = transitions(zone, start, end)
    if not found or found[0].at > start + dt.timedelta(days=366):
        # no change within the lead year (a zone without DST): one observance from the start
        offset, dst, name = _state(zone, start)
        initial = Transition(start.replace(microsecond=0), offset or dt.timedelta(0),
                             offset or dt.timedelta(0), name or zone.key, bool(dst))
        lines += _observance("DAYLIGHT" if initial.daylight else "STANDARD", initial, [])

    groups: dict[tuple[dt.timedelta, dt.timedelta, str, bool], list[Transition]] = {}
    for tr in found:
        groups.setdefault((tr.offset_from, tr.offset_to, tr.name, tr.daylight), []).append(tr)
    for trs in groups.values():
        kind = "DAYLIGHT" if trs[0].daylight else "STANDARD"
        # the longest tail of onsets that a yearly rule reproduces goes into one RRULE
        tail = 1
        key = (_yearly_rule(trs[-1].local_start), trs[-1].local_start.time())
        while tail < len(trs):
            prev, cur = trs[-tail - 1].local_start, trs[-tail].local_start
            if ((_yearly_rule(prev), prev.time()) != key or cur.year - prev.year != 1):
                break
            tail += 1
        head, regular = trs[:-tail], trs[-tail:]
        if head:
            rdates = [f"RDATE:{_local(t.local_start)}" for t in head[1:]]
            lines += _observance(kind, head[0], rdates)
        if len(regular) >= 2:
            month, byday = key[0]
            rule = f"RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={byday}"
            if regular[-1].at < end - dt.timedelta(days=366):
                rule += f";UNTIL={_utc(regular[-1].at)}"  # the zone stopped doing this
            lines += _observance(kind, regular[0], [rule])
        else:
            lines += _observance(kind, regular[0], [])
    lines.append("END:VTIMEZONE")
    return lines


# --- events ---------------------------------------------------------------------------------


def _ics_rule(series: MeetingSeries, zone: ZoneInfo) -> str:
    """The stored rule as an iCalendar RRULE: UNTIL becomes UTC, as RFC 5545 requires with a
    DTSTART that has a TZID."""
    parts = []
    for part in series.rule.split(":", 1)[1].split(";"):
        key, _, value = part.partition("=")
        if key == "UNTIL":
            value = _utc(place(dt.datetime.strptime(value, "%Y%m%dT%H%M%S"), zone))
        parts.append(f"{key}={value}")
    return "RRULE:" + ";".join(parts)


def _span_end(series: MeetingSeries, first: dt.datetime) -> dt.datetime:
    """The last start within ten years: the zone data a client needs (the VTIMEZONE's yearly
    RRULE carries an open series beyond it)."""
    found = local_occurrences(series.rule, series.starts_on, series.start_time, first,
                              first + dt.timedelta(days=366 * _OPEN_SPAN_YEARS))
    return found[-1] if found else first


def _event_common(series: MeetingSeries) -> list[str]:
    group = series.group
    lines = [
        f"SUMMARY:{escape_text(group.name + ' meeting')}",
        f"DESCRIPTION:{escape_text(f'{group.name} ({group.slug}): {series.rule_text}')}",
        f"DURATION:PT{series.duration_minutes}M",
    ]
    if series.link:
        lines += [f"URL:{series.link}", f"LOCATION:{escape_text(series.link)}"]
    return lines


def series_events(series: MeetingSeries, dtstamp: dt.datetime) -> tuple[list[str],
                                                                         dt.datetime,
                                                                         dt.datetime]:
    """The VEVENTs of one series and the local span they cover."""
    zone = ZoneInfo(series.timezone)
    tzid = zone.key
    uid = series_uid(series)
    begin = dt.datetime.combine(series.starts_on, dt.time.min)
    # DTSTART must be the first real occurrence: RFC 5545 counts DTSTART as one even when
    # the rule would not produce it
    first = next_local(series.rule, series.starts_on, series.start_time, begin)
    if first is None:
        first = dt.datetime.combine(series.starts_on, series.start_time)
    span_end = _span_end(series, first)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_utc(dtstamp)}",
        f"DTSTART;TZID={tzid}:{_local(first)}",
        *_event_common(series),
        _ics_rule(series, zone),
    ]
    skips = sorted(e.original_date for e in series.exceptions if e.kind == "skip")
    if skips:
        stamps = ",".join(_local(dt.datetime.combine(d, series.start_time)) for d in skips)
        lines.append(f"EXDATE;TZID={tzid}:{stamps}")
    lines.append("END:VEVENT")
    for exc in series.exceptions:
        if exc.kind != "move" or exc.new_start is None:
            continue
        original = dt.datetime.combine(exc.original_date, series.start_time)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{_utc(dtstamp)}",
            f"RECURRENCE-ID;TZID={tzid}:{_local(original)}",
            f"DTSTART;TZID={tzid}:{_local(exc.new_start)}",
            *_event_common(series),
            "END:VEVENT",
        ]
        span_end = max(span_end, exc.new_start)
    moved = [e.new_start for e in series.exceptions if e.new_start is not None]
    return lines, min([first, *moved]), span_end


def calendar(series_list: Sequence[MeetingSeries], *, dtstamp: dt.datetime,
             name: str = "Taskbot meetings") -> str:
    """A complete VCALENDAR (CRLF line ends, folded lines) for the given series."""
    events: list[str] = []
    spans: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for series in series_list:
        lines, lo, hi = series_events(series, dtstamp)
        events += lines
        _widen(spans, series, lo, hi)
    return _vcalendar(events, spans, "PUBLISH", [f"X-WR-CALNAME:{escape_text(name)}"])


def invitation(series: MeetingSeries, *, dtstamp: dt.datetime,
               cancelled: dt.date | None = None) -> str:
    """An iTIP object (RFC 5546) for the series' members: ``METHOD:REQUEST`` with the whole
    series as :func:`calendar` writes it, or ``METHOD:CANCEL`` for the one meeting
    originally on ``cancelled``. Its UID is the series', its SEQUENCE the series' count of
    changes, so a client replaces what it holds. ORGANIZER and ATTENDEE are left to the
    platform that sends it (who sends, to whom)."""
    spans: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    if cancelled is None:
        lines, lo, hi = series_events(series, dtstamp)
        _widen(spans, series, lo, hi)
        events = []
        for line in lines:
            events.append(line)
            if line.startswith("UID:"):
                events += [f"SEQUENCE:{series.sequence}", "STATUS:CONFIRMED"]
        return _vcalendar(events, spans, "REQUEST")
    tzid = ZoneInfo(series.timezone).key
    original = dt.datetime.combine(cancelled, series.start_time)
    _widen(spans, series, original, original)
    events = [
        "BEGIN:VEVENT",
        f"UID:{series_uid(series)}",
        f"SEQUENCE:{series.sequence}",
        "STATUS:CANCELLED",
        f"DTSTAMP:{_utc(dtstamp)}",
        f"RECURRENCE-ID;TZID={tzid}:{_local(original)}",
        f"DTSTART;TZID={tzid}:{_local(original)}",
        *_event_common(series),
        "END:VEVENT",
    ]
    return _vcalendar(events, spans, "CANCEL")


def series_uid(series: MeetingSeries) -> str:
    return f"series-{series.id}@taskbot"


def series_of_uid(uid: str) -> int | None:
    """The series id a calendar's UID names, or None when it is not one of ours."""
    head, at, host = uid.strip().partition("@")
    number = head.removeprefix("series-")
    if at and host == "taskbot" and head.startswith("series-") and number.isascii() \
            and number.isdigit() and len(number) <= 12:
        return int(number)
    return None


def _widen(spans: dict[str, tuple[dt.datetime, dt.datetime]], series: MeetingSeries,
           lo: dt.datetime, hi: dt.datetime) -> None:
    key = ZoneInfo(series.timezone).key
    if key in spans:
        lo, hi = min(lo, spans[key][0]), max(hi, spans[key][1])
    spans[key] = (lo, hi)


def _vcalendar(events: list[str], spans: dict[str, tuple[dt.datetime, dt.datetime]],
               method: str, extra: Sequence[str] = ()) -> str:
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        *extra,
    ]
    for key, (lo, hi) in sorted(spans.items()):
        zone = ZoneInfo(key)
        # from a year before the first meeting, so a transition precedes every event
        start = dt.datetime(lo.year - 1, 1, 1, tzinfo=dt.UTC)
        end = dt.datetime(hi.year + 1, 1, 1, tzinfo=dt.UTC)
        body += vtimezone(zone, start, end)
    body += events
    body.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in _clean(body))


def _clean(lines: Iterable[str]) -> Iterable[str]:
    """No raw line breaks may reach the output: they would forge properties."""
    for line in lines:
        yield line.replace("\r", " ").replace("\n", " ")
