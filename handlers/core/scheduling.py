"""The kit every schedule kind is built with: planners find what fell due and write outbox
rows, composers write each message when it is sent (so it shows the agenda and actions as
they are then). Each feature registers its kinds (``Registry.kinds``); the composition root
hands them to the delivery engine, so the engine knows no feature.

Per-group switches live in ``Group.settings`` (see DEFAULTS), set by ``tg settings`` or the
governance file. Daily and weekly slots are planned once: a marker row in the outbox says
the slot was planned, so an idle tick costs one indexed lookup per slot.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings
from handlers.core.grammar import UserError, ascii_int
from handlers.core.i18n import LANGUAGES, _, _n
from handlers.core.messages import Block
from handlers.core.recurrence import format_offsets, parse_offsets, place
from storage import outbox
from storage.models import Group, Outbox

DAY = dt.timedelta(days=1)


MAX_GRACE = DAY

# how far back a series that was not planned for a while is looked at: what fell due in that
# time is recorded (missed, or late within grace), not silently passed over
MAX_LOOKBACK = dt.timedelta(days=31)
NUDGE_TIME = dt.time(9, 0)


# a group's working hours, in its own zone: reminders that need someone to act (the
# acknowledgement of a decision) wait for them rather than arrive at night or on a Sunday
WORK_START = dt.time(9, 0)


WORK_END = dt.time(17, 0)


WORK_DAYS = range(5)  # Monday to Friday


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


DEFAULTS: dict[str, str] = {
    "reminders": "on",  # meeting reminders: on (the series' offsets), off, or offsets
    "nudges": "on",  # direct messages about this group's due and overdue actions
    "digest": "monday 09:00",  # weekly digest in the group's channels, or off
    "boc_summary": "1d",  # before each BoC meeting, the secretariat summary (boc only)
    "boc_report": "2d",  # before each BoC meeting, the monthly report (boc only)
    "ack_reminder": "7d",  # remind target groups that have not acknowledged a decision
    "follow_channel": "off",  # joining/leaving a bound channel joins/leaves the group
    # what the group's channels are written in (default: TASKBOT_LANGUAGE); people read
    # what is said to them alone in their own (me language)
    "language": "default",
    "quorum": "50%",  # a proposal's quorum when its opener names none
    "checkin": "5d",  # before each BoC meeting, each Task Group's check-in opens (boc only)
    "checkin_close": "1d",  # ... and closes, compiled for the Board (boc only; off: at it)
    "checkin_from": "chair",  # whom a group's check-in asks: its chair, or all its members
}


# the values each setting takes, as `tg settings` shows them
SETTING_HELP: dict[str, str] = {
    # TRANSLATORS: the values a setting takes: keep "on", "off" and "2d,2h" as they are.
    "reminders": _("on|off|<offsets like 2d,2h>"),
    "nudges": "on|off",
    "digest": "<weekday> <HH:MM>|off",
    # TRANSLATORS: the values a setting takes: keep "off", "1d" and "2h" as they are.
    "boc_summary": _("<offset like 1d or 2h>|off"),
    # TRANSLATORS: the values a setting takes: keep "off" and "2d" as they are.
    "boc_report": _("<offset like 2d>|off"),
    # TRANSLATORS: the values a setting takes: keep "off" and "7d" as they are.
    "ack_reminder": _("<days like 7d>|off"),
    "follow_channel": "on|off",
    "language": "|".join((*LANGUAGES, "default")),
    # TRANSLATORS: the values a setting takes: keep "50%" as it is.
    "quorum": _("<percent like 50%>"),
    # TRANSLATORS: the values a setting takes: keep "off" and "5d" as they are.
    "checkin": _("<days like 5d>|off"),
    "checkin_close": _("<offset like 1d or 2h>|off"),
    "checkin_from": "chair|members",
}


_DIGEST = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]* ([01]?\d|2[0-3]):([0-5]\d)$",
                     re.ASCII)


def validate_setting(key: str, value: str) -> str:
    """The normalised value, or UserError naming what is allowed."""
    key = key.lower()
    value = " ".join(value.lower().split())
    if key not in DEFAULTS:
        raise UserError(_("No setting {setting}. Settings: {settings}.", setting=repr(key),
                          settings=", ".join(DEFAULTS)))
    if key == "language":
        if value not in (*LANGUAGES, "default"):
            raise UserError(_("language is one of {languages}, or default.",
                              languages=", ".join(LANGUAGES)))
        return value
    if key == "quorum":
        number = ascii_int(value.rstrip("%"), 3)
        if number is None or not 0 <= number <= 100:
            raise UserError(_("quorum is a percentage from 0 to 100, like 50%."))
        return f"{number}%"
    if value == "off":
        return value
    if key == "reminders":
        if value == "on":
            return value
        # the README's retiming: offsets of its own, bounded as `meeting schedule ... remind`
        try:
            return format_offsets(parse_offsets(value))
        except UserError as err:
            raise UserError(_("reminders is on, off or offsets like 2d,2h: {problem}",
                              problem=err.message)) from None
    if key == "checkin_from":
        if value not in ("chair", "members"):
            raise UserError(_("checkin_from is chair or members."))
        return value
    if key in ("nudges", "follow_channel"):
        if value != "on":
            raise UserError(_("{setting} is on or off.", setting=key))
        return value
    if key == "digest":
        m = _DIGEST.match(value)
        if not m:
            raise UserError(_("digest is a weekday and a time, like `monday 09:00`, or off."))
        day = next(d for d in WEEKDAYS if d.startswith(m.group(1)))
        return f"{day} {int(m.group(2)):02d}:{m.group(3)}"
    try:
        offsets = parse_offsets(value)
    except UserError as err:
        # TRANSLATORS: a setting's name, then what is wrong with its value.
        raise UserError(_("{setting}: {problem}", setting=key, problem=err.message)) from None
    if len(offsets) != 1:
        raise UserError(_("{setting} takes one offset, like 1d, or off.", setting=key))
    if key == "ack_reminder" and offsets[0] % DAY:
        raise UserError(_("ack_reminder counts whole days, like 7d."))
    if key == "checkin" and (offsets[0] % DAY or not DAY <= offsets[0] <= 28 * DAY):
        raise UserError(_("checkin counts whole days before the meeting, from 1d to 28d."))
    return value


def setting(group: Group, key: str) -> str:
    return str((group.settings or {}).get(key, DEFAULTS[key]))


def grace_for(offset: dt.timedelta) -> dt.timedelta:
    """How late a reminder may still go out: an hour for a 1-hour one, a day at most."""
    return min(offset, MAX_GRACE)


def offset_key(offset: dt.timedelta) -> str:
    return f"{int(offset.total_seconds())}s"


def in_words(offset: dt.timedelta) -> str:
    """``2 days``, ``1 hour``: an offset in its largest whole unit."""
    secs = int(offset.total_seconds())
    if secs >= 604800 and secs % 604800 == 0:
        return _n("{n} week", "{n} weeks", secs // 604800)
    if secs >= 86400 and secs % 86400 == 0:
        return _n("{n} day", "{n} days", secs // 86400)
    if secs >= 3600 and secs % 3600 == 0:
        return _n("{n} hour", "{n} hours", secs // 3600)
    if secs >= 60 and secs % 60 == 0:
        return _n("{n} minute", "{n} minutes", secs // 60)
    return _n("{n} second", "{n} seconds", secs)


def outbox_row(key: str, kind: str, platform: str, channel: str, payload: dict[str, Any],
               due: dt.datetime, grace: dt.timedelta, now: dt.datetime) -> outbox.NewRow:
    late = now - due > grace
    payload = {**payload, "grace_s": int(grace.total_seconds())}
    return outbox.NewRow(
        key=key[:255], kind=kind, platform=platform, channel_id=channel, payload=payload,
        due_at=due, status=outbox.MISSED if late else outbox.PENDING,
    )


def slot_planned(session: Session, marker: str) -> bool:
    return session.scalar(select(Outbox.id).where(Outbox.key == marker)) is not None


def slot_marker(key: str, at: dt.datetime) -> outbox.NewRow:
    """A row that records that a daily or weekly slot was planned; never sent."""
    return outbox.NewRow(key=key, kind="slot", platform="-", channel_id="-", payload={},
                         due_at=at, status=outbox.SENT)


def compose_cache(session: Session) -> dict[str, Any]:
    """Per-claim scratch space: what a prefetch loaded for a whole batch of rows."""
    cache: dict[str, Any] = session.info.setdefault("compose_cache", {})
    return cache


def local_slot(now: dt.datetime, zone: str, at: dt.time) -> dt.datetime | None:
    """Today's slot at local ``at`` if it has passed, else yesterday's (aware UTC)."""
    local_today = now.astimezone(ZoneInfo(zone)).date()
    for day in (local_today, local_today - DAY):
        slot = place(dt.datetime.combine(day, at), zone).astimezone(dt.UTC)
        if slot <= now:
            return slot
    return None


def group_zone(group: Group, settings: CoreSettings) -> str:
    """The zone a group lives in: its meeting series' zone, else the bot's."""
    return group.series.timezone if group.series is not None else settings.timezone


def working_time(at: dt.datetime, zone: str) -> dt.datetime:
    """``at`` if it falls in working hours in ``zone`` (weekdays WORK_START to WORK_END
    local), else the start of the next working day (aware UTC). Wall times are placed in
    the zone day by day, so a DST change moves the instant, never the local 09:00."""
    tzinfo = ZoneInfo(zone)
    local = at.astimezone(tzinfo)
    day = local.date()
    if local.weekday() in WORK_DAYS and WORK_START <= local.time() < WORK_END:
        return at.astimezone(dt.UTC)
    if local.time() >= WORK_START:
        day += DAY  # past today's start (after hours): tomorrow's at the earliest
    while day.weekday() not in WORK_DAYS:
        day += DAY
    return place(dt.datetime.combine(day, WORK_START), tzinfo).astimezone(dt.UTC)


Planner = Callable[[Session, dt.datetime, CoreSettings], list[outbox.NewRow]]


Composer = Callable[[Session, dict[str, Any], CoreSettings], "list[Block] | None"]


Prefetch = Callable[[Session, list[dict[str, Any]]], None]


@dataclass
class ScheduleKinds:
    """The planners and composers the features registered, for the delivery engine."""

    planners: list[Planner] = field(default_factory=list)
    composers: dict[str, Composer] = field(default_factory=dict)
    # optional: load what a batch of one kind shows before its rows are composed one by one
    prefetch: dict[str, Prefetch] = field(default_factory=dict)

    def planner(self, plan: Planner) -> None:
        self.planners.append(plan)

    def kind(self, name: str, compose: Composer, *, prefetch: Prefetch | None = None) -> None:
        """Declare how rows of kind ``name`` are composed; a kind has one composer."""
        if name in self.composers:
            raise ValueError(f"schedule kind {name!r} is registered twice")
        self.composers[name] = compose
        if prefetch is not None:
            self.prefetch[name] = prefetch
