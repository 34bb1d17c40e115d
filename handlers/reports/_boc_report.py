"""The monthly report before each BoC meeting, planned and composed by the delivery
engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings
from handlers.core.grammar import UserError
from handlers.core.i18n import _
from handlers.core.messages import (
    Block,
    ChannelRef,
    Day,
    Text,
    When,
)
from handlers.core.reach import group_reach
from handlers.core.recurrence import parse_offsets
from handlers.core.scheduling import MAX_GRACE, ScheduleKinds, outbox_row, setting
from handlers.meetings import occurrences, reminder_time, upcoming
from handlers.reports._exports import reader_ctx
from handlers.reports._monthly import build_report, report_reply
from storage import kv, outbox
from storage.models import (
    Group,
)

# a Board meeting in the first days of a month gets the month before, complete
PREVIOUS_MONTH_UNTIL_DAY = 10


def plan_boc_report(session: Session, now: dt.datetime,
                    settings: CoreSettings) -> list[outbox.NewRow]:
    """One row per destination of the boc group (its channels, and each member no channel
    reaches), ``boc_report`` before each of its meetings.

    Only the window of the last grace period is expanded, so an idle tick costs a lookup of
    the boc group and a day of its series; rows are keyed, so planning again adds nothing.
    """
    group = session.scalar(select(Group).where(Group.slug == "boc"))
    if group is None or group.series is None:
        return []
    raw = setting(group, "boc_report")
    if raw == "off":
        return []
    try:
        offset = parse_offsets(raw)[0]
    except UserError:
        return []
    series = group.series
    state = _plan_state(group, raw)
    bookmark = kv.get(session, BOC_REPORT_BOOKMARK)
    if bookmark is not None:
        seen, _, next_due = bookmark.rpartition("|")
        if seen == state and now < dt.datetime.fromisoformat(next_due):
            return []  # idle: nothing can be due before the bookmark
    rows: list[outbox.NewRow] = []
    reach: list[ChannelRef] | None = None  # read only when a report is due
    pad = dt.timedelta(days=1)  # wall-time offsets across a DST change
    later: list[dt.datetime] = []
    for occ in occurrences(series, now - MAX_GRACE + offset - pad, now + offset + pad):
        due = reminder_time(occ, offset)
        if due > now:
            later.append(due)
        if not now - MAX_GRACE <= due <= now:
            continue
        if reach is None:
            reach = group_reach(group, settings.platforms)
        for ch in reach:
            key = (f"boc_report:{series.id}:{occ.original_date.isoformat()}:"
                   f"{ch.platform}:{ch.channel_id}")
            payload = {"start": occ.start.isoformat(), "zone": occ.zone}
            rows.append(outbox_row(key, "boc_report", ch.platform, ch.channel_id, payload,
                                   due, MAX_GRACE, now))
    if not later:
        later = [reminder_time(o, offset) for o in upcoming(series, now + offset - pad, 3)]
        later = [d for d in later if d > now]
    nxt = min(later) if later else now + dt.timedelta(days=31)
    _save_bookmark(session, f"{state}|{nxt.isoformat()}")
    return rows


BOC_REPORT_BOOKMARK = "schedule:boc_report_next"


def _plan_state(group: Group, raw: str) -> str:
    """What the next due time depends on: a change to any of it replans at once."""
    series = group.series
    assert series is not None
    parts = [str(series.id), series.rule, series.start_time.isoformat(), series.timezone,
             str(series.starts_on), raw,
             *sorted(f"{c.platform}:{c.channel_id}" for c in group.channels),
             *sorted(f"{e.original_date}:{e.kind}:{e.new_start}" for e in series.exceptions)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def _save_bookmark(session: Session, value: str) -> None:
    """Insert or update; a process ticking at the same moment may have inserted it first."""
    from sqlalchemy.exc import IntegrityError

    try:
        with session.begin_nested():
            kv.put(session, BOC_REPORT_BOOKMARK, value)
    except IntegrityError:
        pass


def report_month_for(meeting_day: dt.date) -> dt.date:
    """The month a Board meeting on ``meeting_day`` reviews."""
    first = meeting_day.replace(day=1)
    if meeting_day.day <= PREVIOUS_MONTH_UNTIL_DAY:
        return (first - dt.timedelta(days=1)).replace(day=1)
    return first


def compose_boc_report(session: Session, payload: dict[str, Any],
                       settings: CoreSettings) -> list[Block] | None:
    """The report as ``secretariat report`` gives it, with a line saying why it is here."""
    start = dt.datetime.fromisoformat(payload["start"])
    ctx = reader_ctx(session, settings, settings.clock())
    month = min(report_month_for(start.astimezone(settings.zone).date()),
                ctx.today.replace(day=1))
    reply = report_reply(ctx, build_report(ctx, month))
    heading = _("Before the Board meets {time}: the report for {month}",
                time=When(start, payload["zone"]), month=Day(month, form="month"))
    return [Text((heading,), "heading"), *reply.blocks]


def register(kinds: ScheduleKinds) -> None:
    kinds.planner(plan_boc_report)
    kinds.kind("boc_report", compose_boc_report)
