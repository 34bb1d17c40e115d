"""Date phrases as people type them: ``2026-12-15``, ``friday``, ``in 2 weeks``, ``15 Dec``.

Pure functions of the words and ``today`` (the bot zone's date), so every phrase is testable
with a fixed day. Numeric forms are read day first, the European way the programme writes
them: ``15/12``, ``15.12.2027``, ``03/04/2027`` (3 April). Month-first (``12/15``) and
year-first slashed forms are refused rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar, cast

from dateutil.relativedelta import relativedelta

from handlers.core.grammar import Args, UserError

T = TypeVar("T")

HINT = (
    "try 2026-12-15, tomorrow, friday, next week, in 2 weeks, end of month, 15 Dec "
    "or 15/12/2026"
)

WEEKDAYS: dict[str, int] = {}
for _i, _name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
):
    WEEKDAYS[_name] = _i
    WEEKDAYS[_name[:3]] = _i
WEEKDAYS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})

MONTHS: dict[str, int] = {}
for _i, _name in enumerate(
    (
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    ),
    start=1,
):
    MONTHS[_name] = _i
    MONTHS[_name[:3]] = _i
MONTHS["sept"] = 9

# re.ASCII throughout: \d alone also matches other scripts' digits, which int() then reads
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_SLASHED = re.compile(r"^\d{1,4}[/.]\d{1,2}(?:[/.]\d{1,4})?\.?$", re.ASCII)
# day first: 15/12, 15.12., 15/12/2027, 15.12.2027 (one separator throughout, four-digit year)
_DMY = re.compile(r"^(\d{1,2})([/.])(\d{1,2})(?:\2(\d{4}))?\.?$", re.ASCII)
_DAY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$", re.ASCII)
_YEAR = re.compile(r"^\d{4}$", re.ASCII)
_IN = re.compile(r"^in (\d{1,6}|a|an|one) (day|days|week|weeks|month|months)$", re.ASCII)

MAX_N = 999


class DateError(UserError):
    """A date that could not be read. ``shaped`` is True when the words clearly meant a
    date (``31 Feb``, ``15/12/2027``, ``in 0 days``), so a caller that would otherwise keep
    them as free text knows to report the error instead."""

    def __init__(self, message: str, *, shaped: bool) -> None:
        super().__init__(message)
        self.shaped = shaped


def _shift(day: dt.date, delta: relativedelta) -> dt.date:
    """``day + delta`` with the type dateutil leaves untyped; month ends clamp (31 Jan + 1
    month is 28 or 29 Feb)."""
    result: dt.date = day + delta
    return result


def _bad(raw: str) -> DateError:
    return DateError(f"Can't read {raw!r} as a date: {HINT}.", shaped=False)


def _make(raw: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(f"{raw!r} is not a real date: {HINT}.", shaped=True) from None


def _day_month(raw: str, words: list[str], today: dt.date) -> dt.date | None:
    """``15 Dec``, ``Dec 15``, ``15th of December 2027``, ``Dec 15, 2027`` or None."""
    words = [w for w in words if w != "of"]
    year: int | None = None
    if len(words) == 3 and _YEAR.match(words[2]):
        year = int(words[2])
        words = words[:2]
    if len(words) != 2:
        return None
    first, second = words
    if _DAY.match(first) and second in MONTHS:
        day_word, month = first, MONTHS[second]
    elif first in MONTHS and _DAY.match(second):
        day_word, month = second, MONTHS[first]
    else:
        return None
    m = _DAY.match(day_word)
    assert m is not None
    day = int(m.group(1))
    if year is not None:
        return _make(raw, year, month, day)
    return _next_such_day(lambda y: _make(raw, y, month, day), month, day, today)


def _next_such_day(make: Callable[[int], dt.date], month: int, day: int,
                   today: dt.date) -> dt.date:
    """A day and month with no year: the next one on or after ``today`` (``make(year)``
    builds it, or refuses an impossible one in its own words); 29 February is the next
    leap day, within one leap cycle."""
    if month == 2 and day == 29:
        for y in range(today.year, today.year + 9):
            try:
                candidate = dt.date(y, 2, 29)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
    candidate = make(today.year)
    return candidate if candidate >= today else make(today.year + 1)


def _numeric(raw: str, m: re.Match[str], today: dt.date) -> dt.date:
    """``15/12`` or ``15.12.2027``, day first; without a year, the next such day from today.
    An impossible day or month (``12/15``, ``31/04``) is refused with one message."""
    day, month = int(m.group(1)), int(m.group(3))
    if m.group(4) is not None:
        return _make_numeric(raw, int(m.group(4)), month, day)
    return _next_such_day(lambda y: _make_numeric(raw, y, month, day), month, day, today)


def _make_numeric(raw: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(
            f"{raw!r} is not a real date: numeric dates are day first "
            f"(15/12/2026 is 15 December).",
            shaped=True,
        ) from None


def parse_date(words: list[str] | str, today: dt.date) -> dt.date:
    """The date a phrase means, counted from ``today``; UserError if it means none."""
    raw = words if isinstance(words, str) else " ".join(words)
    raw = " ".join(raw.split())
    phrase = raw.lower().replace(",", " ")
    toks = phrase.split()
    phrase = " ".join(toks)
    if not toks:
        raise DateError(f"Missing <date>: {HINT}.", shaped=False)

    if m := _ISO.match(phrase):
        return _make(raw, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DMY.match(phrase):
        return _numeric(raw, m, today)
    if _SLASHED.match(phrase):
        raise DateError(
            f"{raw!r} is not a date I can read: numeric dates are day first, like "
            f"15/12/2026 or 15.12.2026 (or write 2026-12-15 or 15 Dec).",
            shaped=True,
        )
    if phrase == "today":
        return today
    if phrase == "yesterday":
        return today - dt.timedelta(days=1)
    if phrase == "tomorrow":
        return today + dt.timedelta(days=1)
    if phrase in ("next week",):
        return today + dt.timedelta(days=7 - today.weekday())
    if phrase in ("end of month", "end of the month", "eom"):
        return _shift(today, relativedelta(day=31))
    if phrase in ("end of week", "end of the week", "eow"):
        return today + dt.timedelta(days=6 - today.weekday())
    day_name = toks[1] if len(toks) == 2 and toks[0] in ("next", "on", "this") else phrase
    if day_name in WEEKDAYS and len(toks) <= 2:
        ahead = (WEEKDAYS[day_name] - today.weekday()) % 7 or 7
        return today + dt.timedelta(days=ahead)
    if m := _IN.match(phrase):
        n = 1 if m.group(1) in ("a", "an", "one") else int(m.group(1))
        if not 1 <= n <= MAX_N:
            raise DateError(f"{raw!r}: the number must be between 1 and {MAX_N}.", shaped=True)
        unit = m.group(2).rstrip("s")
        if unit == "day":
            return today + dt.timedelta(days=n)
        if unit == "week":
            return today + dt.timedelta(weeks=n)
        return _shift(today, relativedelta(months=n))
    found = _day_month(raw, toks, today)
    if found is not None:
        return found
    raise _bad(raw)


def format_date(d: dt.date) -> str:
    """``Fri 04 Dec 2026``: the same plain form the shell uses for a Day span."""
    return d.strftime("%a %d %b %Y")


# --- the trailing `due <date>` / `group <group>` of an action, one rule everywhere ---------

# A first word that starts a date phrase: after `due`, it makes the tail an attempt at a date.
_DATE_START = frozenset(
    {"today", "tomorrow", "yesterday", "next", "this", "on", "in", "end", "eom", "eow"}
)
_TIME = re.compile(
    r"^(?:\d{1,2}(?:[:.h]\d{2})?(?:am|pm)|\d{1,2}[:h]\d{2}|noon|midnight|am|pm)$",
    re.ASCII | re.IGNORECASE,
)


def not_past(due: dt.date, today: dt.date) -> None:
    """A new due date is today or later, wherever it is typed."""
    if due < today:
        raise UserError(
            f"The due date {due:%a %d %b %Y} is in the past (today is {today:%a %d %b %Y})."
        )


def _reads_as_date(words: list[str]) -> bool:
    """``due blah`` or ``due friday 4pm`` means a date; ``due diligence report`` is text."""
    first = words[0].lower().rstrip(",")
    return (
        len(words) == 1
        or first in WEEKDAYS
        or first in MONTHS
        or first in _DATE_START
        or (first[:1].isascii() and first[:1].isdigit())
    )


def _last_keyword(args: Args, word: str, end: int) -> int | None:
    for i in range(end - 1, args.pos - 1, -1):
        tok = args.tokens[i]
        if not tok.quoted and tok.value.lower() == word:
            return i
    return None


def _check_due_attempt(words: list[str], today: dt.date) -> None:
    """Raise the reason a ``due`` tail that reads as a date is not one."""
    if len(words) > 1 and _TIME.match(words[-1]):
        try:
            day = parse_date(words[:-1], today)
        except DateError:
            pass
        else:
            raise UserError(
                f"A due date is a day, without a time of day: write `due "
                f"{' '.join(words[:-1])}` (that is {format_date(day)})."
            )
    parse_date(words, today)  # raises the date's own error
    raise _bad(" ".join(words))  # pragma: no cover - a tail that parses was taken already


def take_due_tail(
    args: Args,
    today: dt.date,
    group: Callable[[list[str]], T] | None = None,
) -> tuple[int, dt.date | None, T | None]:
    """Peel ``due <date>`` and (when ``group`` is given) ``group <group>`` off an action's
    text, the one rule for ``action add`` and ``#action``.

    Returns the end of the title, the due date and the group. A tail that reads as an
    attempt and fails is an error (the date's or the group's own), so nothing is written
    with a wrong due date or group folded into its title: ``due`` followed by one word or by
    words that start like a date (``due blah``, ``due friday 4pm``, ``due 31 Feb``), or
    ``group`` followed by one word. Other words (``the due diligence report``) stay in the
    title silently. A past due date is refused.
    """
    parsers: dict[str, Callable[[list[str]], object]] = {
        "due": lambda words: parse_date(words, today)
    }
    if group is not None:
        parsers["group"] = group
    end, opts = args.take_trailing_options(parsers)
    found: T | None = None
    if group is not None:
        if "group" in opts:
            found = cast("T", opts["group"])
        elif (i := _last_keyword(args, "group", end)) is not None:
            words = [t.value for t in args.tokens[i + 1 : end]]
            if len(words) == 1:
                group(words)  # raises the group's own error
    due = opts.get("due")
    assert due is None or isinstance(due, dt.date)
    if due is None and (i := _last_keyword(args, "due", end)) is not None:
        words = [t.value for t in args.tokens[i + 1 : end]]
        if words and _reads_as_date(words):
            _check_due_attempt(words, today)
    if due is not None:
        not_past(due, today)
    return end, due, found
