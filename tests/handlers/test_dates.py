"""Date phrases against fixed days: month and year ends, leap days, weekday edges."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.core.dates import DateError, format_date, parse_date
from handlers.core.grammar import UserError

D = dt.date
SAT = D(2026, 11, 28)  # the test clock's day: Saturday 28 Nov 2026


@pytest.mark.parametrize(
    ("phrase", "today", "expected"),
    [
        ("2026-12-15", SAT, D(2026, 12, 15)),
        ("2026-1-5", SAT, D(2026, 1, 5)),
        ("today", SAT, SAT),
        ("TODAY", SAT, SAT),
        ("tomorrow", SAT, D(2026, 11, 29)),
        ("tomorrow", D(2026, 12, 31), D(2027, 1, 1)),
        ("tomorrow", D(2028, 2, 28), D(2028, 2, 29)),
        # weekdays: the next such day strictly after today
        ("friday", SAT, D(2026, 12, 4)),
        ("Fri", SAT, D(2026, 12, 4)),
        ("next friday", SAT, D(2026, 12, 4)),
        ("saturday", SAT, D(2026, 12, 5)),
        ("sun", SAT, D(2026, 11, 29)),
        ("monday", SAT, D(2026, 11, 30)),
        ("thurs", SAT, D(2026, 12, 3)),
        ("friday", D(2026, 12, 4), D(2026, 12, 11)),
        ("wed", D(2026, 12, 29), D(2026, 12, 30)),
        ("fri", D(2026, 12, 29), D(2027, 1, 1)),
        # next week: Monday of next week
        ("next week", SAT, D(2026, 11, 30)),
        ("next week", D(2026, 11, 29), D(2026, 11, 30)),
        ("next week", D(2026, 11, 30), D(2026, 12, 7)),
        ("Next Week", D(2026, 12, 30), D(2027, 1, 4)),
        # in N units
        ("in 2 weeks", SAT, D(2026, 12, 12)),
        ("in a week", SAT, D(2026, 12, 5)),
        ("in 1 day", SAT, D(2026, 11, 29)),
        ("in 3 days", D(2026, 12, 30), D(2027, 1, 2)),
        ("in 1 month", D(2026, 1, 31), D(2026, 2, 28)),
        ("in a month", D(2028, 1, 31), D(2028, 2, 29)),
        ("in 12 months", D(2028, 2, 29), D(2029, 2, 28)),
        ("in 3 months", SAT, D(2027, 2, 28)),
        ("in 999 days", SAT, SAT + dt.timedelta(days=999)),
        # end of month / week
        ("end of month", SAT, D(2026, 11, 30)),
        ("end of month", D(2026, 2, 10), D(2026, 2, 28)),
        ("end of month", D(2028, 2, 10), D(2028, 2, 29)),
        ("end of month", D(2026, 12, 31), D(2026, 12, 31)),
        ("end of week", SAT, D(2026, 11, 29)),
        ("end of week", D(2026, 11, 29), D(2026, 11, 29)),
        ("end of week", D(2026, 11, 30), D(2026, 12, 6)),
        # day + month: the next such date on or after today
        ("15 Dec", SAT, D(2026, 12, 15)),
        ("Dec 15", SAT, D(2026, 12, 15)),
        ("15 December", SAT, D(2026, 12, 15)),
        ("15th of december", SAT, D(2026, 12, 15)),
        ("28 Nov", SAT, SAT),
        ("27 nov", SAT, D(2027, 11, 27)),
        ("1 jan", D(2026, 12, 31), D(2027, 1, 1)),
        ("15 Dec 2027", SAT, D(2027, 12, 15)),
        ("Dec 15, 2027", SAT, D(2027, 12, 15)),
        ("29 Feb", SAT, D(2028, 2, 29)),
        ("29 feb", D(2028, 2, 29), D(2028, 2, 29)),
        ("29 feb", D(2028, 3, 1), D(2032, 2, 29)),
        ("29 Feb 2028", SAT, D(2028, 2, 29)),
        ("2028-02-29", SAT, D(2028, 2, 29)),
        ("sept 3", SAT, D(2027, 9, 3)),
    ],
)
def test_phrases(phrase: str, today: dt.date, expected: dt.date) -> None:
    assert parse_date(phrase, today) == expected


def test_word_lists_are_joined() -> None:
    assert parse_date(["15", "Dec"], SAT) == D(2026, 12, 15)
    assert parse_date(["in", "2", "weeks"], SAT) == D(2026, 12, 12)
    assert parse_date(["  end ", "of", "month"], SAT) == D(2026, 11, 30)


@pytest.mark.parametrize(
    ("phrase", "message", "shaped"),
    [
        ("fooday", "Can't read 'fooday' as a date: try 2026-12-15, tomorrow", False),
        ("to the weather", "Can't read 'to the weather' as a date", False),
        ("", "Missing <date>", False),
        ("next month", "Can't read 'next month'", False),
        ("friday week", "Can't read 'friday week'", False),
        ("31 Feb", "'31 Feb' is not a real date", True),
        ("29 Feb 2027", "'29 Feb 2027' is not a real date", True),
        ("2026-02-30", "'2026-02-30' is not a real date", True),
        ("2027-02-29", "is not a real date", True),
        ("2026-13-01", "is not a real date", True),
        ("12/15", "'12/15' is not a real date: numeric dates are day first", True),
        ("31/04/2027", "is not a real date: numeric dates are day first", True),
        ("29.02.2027", "is not a real date: numeric dates are day first", True),
        ("2027/12/15", "numeric dates are day first, like 15/12/2026", True),
        ("15/12.2027", "numeric dates are day first, like 15/12/2026", True),
        ("15/12/27", "numeric dates are day first, like 15/12/2026", True),
        ("in 0 days", "the number must be between 1 and 999", True),
        ("in 1000 weeks", "the number must be between 1 and 999", True),
        ("32 Dec", "is not a real date", True),
    ],
)
def test_errors(phrase: str, message: str, shaped: bool) -> None:
    with pytest.raises(DateError) as info:
        parse_date(phrase, SAT)
    assert message in info.value.message
    assert info.value.shaped is shaped
    assert isinstance(info.value, UserError)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("15/12", D(2026, 12, 15)),
        ("15.12.2026", D(2026, 12, 15)),
        ("15/12/2027", D(2027, 12, 15)),
        ("03/04", D(2027, 4, 3)),  # day first: 3 April, next one from Sat 28 Nov 2026
        ("3.4.2027", D(2027, 4, 3)),
        ("28/11", SAT),
        ("27/11", D(2027, 11, 27)),
        ("15.12.", D(2026, 12, 15)),
        ("29/02", D(2028, 2, 29)),
    ],
)
def test_day_first_numeric(phrase: str, expected: dt.date) -> None:
    assert parse_date(phrase, SAT) == expected


@given(
    st.dates(min_value=D(1000, 1, 1), max_value=D(9999, 12, 31)),
    st.sampled_from(["/", "."]),
    st.booleans(),
)
def test_day_first_round_trip(day: dt.date, sep: str, pad: bool) -> None:
    """Every real day written d/m/yyyy or d.m.yyyy, padded or not, reads back as itself."""
    fmt = "%02d" if pad else "%d"
    text = sep.join((fmt % day.day, fmt % day.month, str(day.year)))
    assert parse_date(text, SAT) == day


@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 30)), st.sampled_from("/."))
def test_day_first_without_year_is_next_such_day(today: dt.date, sep: str) -> None:
    """``d/m`` is the first such day on or after today, never in the past, within a year
    (a 29 February within the leap cycle)."""
    target = today + dt.timedelta(days=40)
    got = parse_date(f"{target.day}{sep}{target.month}", today)
    assert got.day == target.day and got.month == target.month
    assert today <= got <= today + dt.timedelta(days=366)


@given(st.integers(0, 99), st.integers(0, 99), st.integers(2000, 2100), st.sampled_from("/."))
def test_impossible_day_first_refused_with_one_message(
    day: int, month: int, year: int, sep: str
) -> None:
    try:
        expected = dt.date(year, month, day)
    except ValueError:
        with pytest.raises(DateError) as info:
            parse_date(f"{day}{sep}{month}{sep}{year}", SAT)
        assert "is not a real date: numeric dates are day first" in info.value.message
        assert info.value.shaped
    else:
        assert parse_date(f"{day}{sep}{month}{sep}{year}", SAT) == expected


def test_format_date() -> None:
    assert format_date(D(2026, 12, 4)) == "Fri 04 Dec 2026"


@given(st.text(max_size=40), st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 31)))
def test_any_text_is_a_date_or_a_user_error(phrase: str, today: dt.date) -> None:
    """Whatever is typed, the answer is a date or a UserError, never another exception."""
    try:
        got = parse_date(phrase, today)
    except UserError:
        return
    assert isinstance(got, dt.date)


@given(
    st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 31)),
    st.sampled_from(
        ["tomorrow", "friday", "mon", "next week", "in 2 weeks", "in a month", "end of month",
         "end of week", "15 Dec", "29 Feb", "1 jan"]
    ),
)
def test_relative_phrases_never_go_back(today: dt.date, phrase: str) -> None:
    got = parse_date(phrase, today)
    assert got >= today
    assert (got - today).days <= 8 * 366
