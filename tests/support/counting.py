"""Work counters for tests that promise bounded work: a count, unlike a CPU or wall time,
does not depend on the machine's load, so the test cannot fail by luck."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dateutil import rrule as dateutil_rrule

from handlers.core.grammar import Args


def dateutil_periods(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list counting the periods (days, weeks, months or years) every dateutil
    rule walks from now on. dateutil builds each period's day set once, so this is the
    length of the walk: an unbounded walk of ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`` to
    year 9999 visits ~2.9 million periods."""
    seen = [0]
    info: Any = dateutil_rrule._iterinfo
    for name in ("ydayset", "mdayset", "wdayset", "ddayset", "htimeset", "mtimeset",
                 "stimeset"):
        real = getattr(info, name)

        def counted(self: object, *args: object, _real: Any = real) -> Any:
            seen[0] += 1
            return _real(self, *args)

        monkeypatch.setattr(info, name, counted)
    return seen


def trailing_option_words(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list counting the words handed to trailing-option parsers from now on
    (the cost of option parsing, which was quadratic in the keywords of a line)."""
    seen = [0]
    real = Args.take_trailing_options

    def counted(self: Args, parsers: dict[str, Callable[[list[str]], Any]]) -> Any:
        def wrap(parse: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
            def inner(values: list[str]) -> Any:
                seen[0] += len(values)
                return parse(values)
            return inner
        return real(self, {key: wrap(parse) for key, parse in parsers.items()})

    monkeypatch.setattr(Args, "take_trailing_options", counted)
    return seen
