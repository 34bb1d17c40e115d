"""Monthly meetings: series, skips and moves, agenda, calendar feeds, meetings marked
held, and the reminders before each."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.meetings import _commands, _held, _reminders, _rsvp
from handlers.meetings._commands import (
    Occurrence,
    action_headers,
    next_meeting,
    next_of,
    occurrences,
    upcoming,
    upsert_series,
)
from handlers.meetings._held import held_note
from handlers.meetings._ics import calendar as ics_calendar
from handlers.meetings._ics import series_of_uid
from handlers.meetings._reminders import reminder_time


def register(reg: Registry) -> None:
    _commands.register(reg)
    _held.register(reg)
    _rsvp.register(reg)
    _reminders.register(reg.kinds)


__all__ = [
    "Occurrence",
    "action_headers",
    "held_note",
    "ics_calendar",
    "next_meeting",
    "next_of",
    "occurrences",
    "register",
    "reminder_time",
    "series_of_uid",
    "upcoming",
    "upsert_series",
]
