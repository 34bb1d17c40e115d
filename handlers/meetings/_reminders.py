"""Meeting reminders: before each meeting of a series, at its offsets, in the group's
channels, with the agenda so far and the group's open actions, and from the day before who
said they are coming and whether the quorum is expected (and, for the BoC, the secretariat
summary, a kind the secretariat composes)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from handlers.core.action_lines import open_action_lines
from handlers.core.context import CoreSettings
from handlers.core.i18n import _
from handlers.core.messages import Block, Button, Buttons, Invite, Link, Text, When, topic
from handlers.core.reach import group_reach, reach_loads
from handlers.core.recurrence import parse_offsets, place
from handlers.core.scheduling import (
    DAY,
    MAX_GRACE,
    MAX_LOOKBACK,
    ScheduleKinds,
    compose_cache,
    grace_for,
    in_words,
    offset_key,
    outbox_row,
    setting,
)
from handlers.meetings._ics import invitation
from handlers.meetings._tally import answered, quorum_expected, tally, tally_line
from storage import outbox
from storage.models import AgendaItem, MeetingSeries

if TYPE_CHECKING:
    from handlers.meetings._commands import Occurrence

def reminder_time(occ: Occurrence, offset: dt.timedelta) -> dt.datetime:
    """When a reminder ``offset`` before the meeting ``occ`` goes out.

    Whole days and weeks count in wall time from the time as scheduled, so "1 day before"
    a 10:00 meeting is 10:00 the day before even across a DST change (and a week before a
    02:30 meeting that a DST gap pushed to 03:30 is still 02:30); hours and minutes are
    absolute.
    """
    if offset % DAY:
        return occ.start - offset
    wall = occ.wall or occ.start.astimezone(ZoneInfo(occ.zone)).replace(tzinfo=None)
    return place(wall - offset, occ.zone).astimezone(dt.UTC)


def _series_due(session: Session, now: dt.datetime) -> list[MeetingSeries]:
    """Series whose bookmark has come (or that changed since they were last planned)."""
    return list(session.scalars(
        select(MeetingSeries)
        .where(MeetingSeries.next_reminder_at.is_(None)
               | (MeetingSeries.next_reminder_at <= now))
        .options(
            *reach_loads(MeetingSeries.group),
            selectinload(MeetingSeries.exceptions),
        )
    ))


def series_offsets(series: MeetingSeries) -> list[tuple[str, dt.timedelta]]:
    """(kind, offset) of every message scheduled before each meeting of the series."""
    group = series.group
    out: list[tuple[str, dt.timedelta]] = []
    if group.archived_at is not None:
        return out  # an archived group gets no reminders (tg unarchive plans them again)
    reminders = setting(group, "reminders")
    if reminders != "off":
        offsets = series.remind_offsets if reminders == "on" else reminders
        out.extend(("meeting_reminder", o) for o in parse_offsets(offsets))
    if group.slug == "boc" and setting(group, "boc_summary") != "off":
        out.append(("boc_summary", parse_offsets(setting(group, "boc_summary"))[0]))
    return out


def plan_meeting_reminders(session: Session, now: dt.datetime,
                           settings: CoreSettings) -> list[outbox.NewRow]:
    """Rows for the reminders of the series whose bookmark has come, then the new bookmark.

    An idle tick costs one indexed select: a series is expanded only when one of its
    reminders may be due, or after it changed.
    """
    from handlers.meetings._commands import occurrences

    rows: list[outbox.NewRow] = []
    for series in _series_due(session, now):
        group = series.group
        extra = series_offsets(series)
        if not extra:
            series.next_reminder_at = now + MAX_LOOKBACK
            continue
        horizon = max(o for _kind, o in extra)
        created = series.created_at
        since = (series.next_reminder_at if series.next_reminder_at
                 else now - MAX_GRACE)
        since = max(since, now - MAX_LOOKBACK, created)
        upcoming_due: list[dt.datetime] = []
        # the window's end is exclusive: a day more covers wall-time offsets across DST
        for occ in occurrences(series, since, now + horizon + DAY):
            for kind, offset in extra:
                due = reminder_time(occ, offset)
                if due > now:
                    upcoming_due.append(due)
                    continue
                if due < since:
                    continue
                for ch in group_reach(group, settings.platforms):
                    key = (f"{kind}:{series.id}:{occ.original_date.isoformat()}:"
                           f"{occ.start.astimezone(dt.UTC):%Y%m%dT%H%M}:{offset_key(offset)}:"
                           f"{ch.platform}:{ch.channel_id}")
                    payload = {
                        "series_id": series.id, "group_id": group.id,
                        "original_date": occ.original_date.isoformat(),
                        "start": occ.start.isoformat(), "zone": occ.zone,
                        "offset_s": int(offset.total_seconds()),
                    }
                    rows.append(outbox_row(key, kind, ch.platform, ch.channel_id, payload,
                                           due, grace_for(offset), now))
        nxt = min(upcoming_due) if upcoming_due else _next_due(series, extra, now)
        series.next_reminder_at = nxt if nxt else now + MAX_LOOKBACK
    return rows


def _next_due(series: MeetingSeries, extra: list[tuple[str, dt.timedelta]],
              now: dt.datetime) -> dt.datetime | None:
    """The first reminder after ``now``, looking past the planning window.

    The next meeting's reminders may all be past already, so meetings are taken in order
    until one's earliest reminder comes after the best found so far.
    """
    from handlers.meetings._commands import upcoming

    horizon = max(o for _kind, o in extra)
    best: dt.datetime | None = None
    for occ in upcoming(series, now, limit=6):
        if best is not None and occ.start - horizon - DAY > best:
            break
        for _kind, offset in extra:
            due = reminder_time(occ, offset)
            if due > now and (best is None or due < best):
                best = due
    return best


def prefetch_meeting_reminders(session: Session, payloads: list[dict[str, Any]]) -> None:
    """Load what a batch of reminders shows in a few queries, not five per reminder."""
    series_ids = {p["series_id"] for p in payloads}
    series = {s.id: s for s in session.scalars(
        select(MeetingSeries).where(MeetingSeries.id.in_(series_ids))
        .options(selectinload(MeetingSeries.group))
    )}
    group_ids = {s.group_id for s in series.values()}
    agenda: dict[tuple[int, dt.date], list[str]] = defaultdict(list)
    days = {dt.date.fromisoformat(p["original_date"]) for p in payloads}
    for gid, day, text in session.execute(
        select(AgendaItem.group_id, AgendaItem.occurrence_date, AgendaItem.text)
        .where(AgendaItem.group_id.in_(group_ids), AgendaItem.occurrence_date.in_(days))
        .order_by(AgendaItem.id)
    ):
        agenda[(gid, day)].append(text)
    cache = compose_cache(session)
    cache["series"] = series
    cache["agenda"] = agenda
    cache["group_actions"] = open_action_lines(session, group_ids, REMINDER_ACTIONS)


REMINDER_ACTIONS = 15


def compose_meeting_reminder(session: Session, payload: dict[str, Any],
                             settings: CoreSettings) -> list[Block] | None:
    cache = compose_cache(session)
    series = (cache["series"].get(payload["series_id"]) if "series" in cache
              else session.get(MeetingSeries, payload["series_id"]))
    if series is None or series.group.archived_at is not None:
        return None
    group = series.group
    start = dt.datetime.fromisoformat(payload["start"])
    offset = dt.timedelta(seconds=payload["offset_s"])
    day = dt.date.fromisoformat(payload["original_date"])
    blocks: list[Block] = [
        Text((_("Reminder: the {group} meeting is in {delay}: {when}", group=group.name,
                delay=in_words(offset), when=When(start, payload["zone"])),), "heading"),
    ]
    if series.link:
        blocks.append(Text((_("Join: {link}", link=Link(series.link)),)))
    if "agenda" in cache:
        agenda = cache["agenda"].get((group.id, day), [])
        lines = cache["group_actions"].get(group.id, [])
    else:
        agenda = list(session.scalars(
            select(AgendaItem.text)
            .where(AgendaItem.group_id == group.id, AgendaItem.occurrence_date == day)
            .order_by(AgendaItem.id)
        ))
        lines = open_action_lines(session, {group.id}, REMINDER_ACTIONS)[group.id]
    if agenda:
        blocks.append(Text((_("Agenda so far:"),)))
        blocks.extend(Text((f"• {item}",)) for item in agenda)
    if lines:
        blocks.append(Text((_("Open actions:"),)))
        blocks.extend(lines)
    if offset <= DAY:
        blocks.extend(_coming(session, cache, series, day))
    # each reader's answer, a button where the platform has them (meeting rsvp)
    rsvp = f"meeting rsvp {group.slug} {{}} {day.isoformat()}"
    blocks.append(Buttons((
        # TRANSLATORS: buttons on a meeting reminder: the reader's answer
        Button(_("Coming"), rsvp.format("yes"), "primary"),
        Button(_("Maybe"), rsvp.format("maybe")),
        Button(_("Not coming"), rsvp.format("no")))))
    # the reminders of one meeting thread together in a mail client, and carry the
    # series' invitation (made once for all the recipients of a batch)
    blocks.append(topic("meeting", series.id, day.isoformat()))
    made = cache.setdefault("invitations", {})
    if (series.id, series.sequence) not in made:
        made[(series.id, series.sequence)] = Invite(
            "REQUEST", invitation(series, dtstamp=settings.clock()))
    blocks.append(made[(series.id, series.sequence)])
    return blocks


def _coming(session: Session, cache: dict[str, Any], series: MeetingSeries,
            day: dt.date) -> list[Block]:
    """From the day before: who said they are coming (``meeting rsvp``, calendar answers)
    and whether that makes the group's quorum, once anyone answered; counted once for all
    the channels of a batch."""
    known = cache.setdefault("coming", {})
    if (series.id, day) not in known:
        known[(series.id, day)] = tally(session, series, day)
    counts = known[(series.id, day)]
    if not answered(counts):
        return []
    return [Text((_("Coming: {answers}.", answers=tally_line(counts)),)),
            Text((quorum_expected(counts, series.group),))]


def register(kinds: ScheduleKinds) -> None:
    kinds.planner(plan_meeting_reminders)
    kinds.kind("meeting_reminder", compose_meeting_reminder, prefetch=prefetch_meeting_reminders)
