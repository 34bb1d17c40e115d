"""What the delivery engine schedules: planners that find what fell due, composers that
write each message when it is sent (so it shows the agenda and actions as they are then).

Per-group switches live in ``Group.settings`` (see DEFAULTS), set by ``tg settings`` or the
governance file. Daily and weekly slots are planned once: a marker row in the outbox says
the slot was planned, so an idle tick costs one indexed lookup per slot.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from handlers.context import CoreSettings
from handlers.grammar import UserError
from handlers.messages import Block, ChannelRef, Day, Link, Mention, Table, Text, When
from handlers.posts import KIND as POST_KIND
from handlers.posts import compose_post
from handlers.recurrence import format_offsets, parse_offsets, place
from storage import outbox
from storage.models import (
    Action,
    ActionAssignee,
    AgendaItem,
    Decision,
    DecisionTarget,
    Group,
    Identity,
    MeetingSeries,
    Outbox,
    Person,
)
from storage.sql import undated_last

if TYPE_CHECKING:
    from handlers.meetings import Occurrence

log = logging.getLogger(__name__)

DAY = dt.timedelta(days=1)
MAX_GRACE = DAY
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
}
SETTING_HELP: dict[str, str] = {
    "reminders": "on|off|<offsets like 2d,2h>",
    "nudges": "on|off",
    "digest": "<weekday> <HH:MM>|off",
    "boc_summary": "<offset like 1d or 2h>|off",
    "boc_report": "<offset like 2d>|off",
    "ack_reminder": "<days like 7d>|off",
    "follow_channel": "on|off",
}

_DIGEST = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]* ([01]?\d|2[0-3]):([0-5]\d)$",
                     re.ASCII)


def validate_setting(key: str, value: str) -> str:
    """The normalised value, or UserError naming what is allowed."""
    key = key.lower()
    value = " ".join(value.lower().split())
    if key not in DEFAULTS:
        raise UserError(f"No setting {key!r}. Settings: {', '.join(DEFAULTS)}.")
    if value == "off":
        return value
    if key == "reminders":
        if value == "on":
            return value
        # the README's retiming: offsets of its own, bounded as `meeting schedule ... remind`
        try:
            return format_offsets(parse_offsets(value))
        except UserError as err:
            raise UserError(
                f"reminders is on, off or offsets like 2d,2h: {err.message}") from None
    if key in ("nudges", "follow_channel"):
        if value != "on":
            raise UserError(f"{key} is on or off.")
        return value
    if key == "digest":
        m = _DIGEST.match(value)
        if not m:
            raise UserError("digest is a weekday and a time, like `monday 09:00`, or off.")
        day = next(d for d in WEEKDAYS if d.startswith(m.group(1)))
        return f"{day} {int(m.group(2)):02d}:{m.group(3)}"
    try:
        offsets = parse_offsets(value)
    except UserError as err:
        raise UserError(f"{key}: {err.message}") from None
    if len(offsets) != 1:
        raise UserError(f"{key} takes one offset, like 1d, or off.")
    if key == "ack_reminder" and offsets[0] % DAY:
        raise UserError("ack_reminder counts whole days, like 7d.")
    return value


def setting(group: Group, key: str) -> str:
    return str((group.settings or {}).get(key, DEFAULTS[key]))


def naive_utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)




def grace_for(offset: dt.timedelta) -> dt.timedelta:
    """How late a reminder may still go out: an hour for a 1-hour one, a day at most."""
    return min(offset, MAX_GRACE)


def offset_key(offset: dt.timedelta) -> str:
    return f"{int(offset.total_seconds())}s"


def in_words(offset: dt.timedelta) -> str:
    secs = int(offset.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs % size == 0 and secs >= size:
            n = secs // size
            return f"{n} {unit}" + ("s" if n != 1 else "")
    return f"{secs} seconds"


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


def _row(key: str, kind: str, platform: str, channel: str, payload: dict[str, Any],
         due: dt.datetime, grace: dt.timedelta, now: dt.datetime) -> outbox.NewRow:
    late = now - due > grace
    payload = {**payload, "grace_s": int(grace.total_seconds())}
    return outbox.NewRow(
        key=key[:255], kind=kind, platform=platform, channel_id=channel, payload=payload,
        due_at=naive_utc(due), status=outbox.MISSED if late else outbox.PENDING,
    )


def _slot_planned(session: Session, marker: str) -> bool:
    return session.scalar(select(Outbox.id).where(Outbox.key == marker)) is not None


def _marker(key: str, at: dt.datetime) -> outbox.NewRow:
    """A row that records that a daily or weekly slot was planned; never sent."""
    return outbox.NewRow(key=key, kind="slot", platform="-", channel_id="-", payload={},
                         due_at=naive_utc(at), status=outbox.SENT)


def _series_due(session: Session, now: dt.datetime) -> list[MeetingSeries]:
    """Series whose bookmark has come (or that changed since they were last planned)."""
    return list(session.scalars(
        select(MeetingSeries)
        .where(MeetingSeries.next_reminder_at.is_(None)
               | (MeetingSeries.next_reminder_at <= naive_utc(now)))
        .options(
            selectinload(MeetingSeries.group).selectinload(Group.channels),
            selectinload(MeetingSeries.exceptions),
        )
    ))


# --- meeting reminders and the BoC summary --------------------------------------------------

# how far back a series that was not planned for a while is looked at: what fell due in that
# time is recorded (missed, or late within grace), not silently passed over
MAX_LOOKBACK = dt.timedelta(days=31)


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
    from handlers.meetings import occurrences

    rows: list[outbox.NewRow] = []
    for series in _series_due(session, now):
        group = series.group
        extra = series_offsets(series)
        if not extra:
            series.next_reminder_at = naive_utc(now + MAX_LOOKBACK)
            continue
        horizon = max(o for _, o in extra)
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
                for ch in group.channels:
                    key = (f"{kind}:{series.id}:{occ.original_date.isoformat()}:"
                           f"{naive_utc(occ.start):%Y%m%dT%H%M}:{offset_key(offset)}:"
                           f"{ch.platform}:{ch.channel_id}")
                    payload = {
                        "series_id": series.id, "group_id": group.id,
                        "original_date": occ.original_date.isoformat(),
                        "start": occ.start.isoformat(), "zone": occ.zone,
                        "offset_s": int(offset.total_seconds()),
                    }
                    rows.append(_row(key, kind, ch.platform, ch.channel_id, payload, due,
                                     grace_for(offset), now))
        nxt = min(upcoming_due) if upcoming_due else _next_due(series, extra, now)
        series.next_reminder_at = naive_utc(nxt if nxt else now + MAX_LOOKBACK)
    return rows


def _next_due(series: MeetingSeries, extra: list[tuple[str, dt.timedelta]],
              now: dt.datetime) -> dt.datetime | None:
    """The first reminder after ``now``, looking past the planning window.

    The next meeting's reminders may all be past already, so meetings are taken in order
    until one's earliest reminder comes after the best found so far.
    """
    from handlers.meetings import upcoming

    horizon = max(o for _, o in extra)
    best: dt.datetime | None = None
    for occ in upcoming(series, now, limit=6):
        if best is not None and occ.start - horizon - DAY > best:
            break
        for _, offset in extra:
            due = reminder_time(occ, offset)
            if due > now and (best is None or due < best):
                best = due
    return best


def _cache(session: Session) -> dict[str, Any]:
    """Per-claim scratch space: what a prefetch loaded for a whole batch of rows."""
    cache: dict[str, Any] = session.info.setdefault("compose_cache", {})
    return cache


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
    cache = _cache(session)
    cache["series"] = series
    cache["agenda"] = agenda
    cache["group_actions"] = _open_actions_per_group(session, group_ids, REMINDER_ACTIONS)


REMINDER_ACTIONS = 15


def _open_actions_per_group(session: Session, group_ids: set[int],
                            limit: int) -> dict[int, list[Text]]:
    """The lines of the first ``limit`` open actions of each group (oldest due first).

    Read as plain rows in two queries: a reminder shows a dozen lines for each of up to a
    thousand groups a tick, and ORM objects for all of them cost more than the SQL.
    """
    order = (undated_last(Action.due), Action.id)
    rank = func.row_number().over(partition_by=Action.group_id, order_by=order).label("rank")
    ranked = (select(Action.id, Action.group_id, Action.title, Action.due, rank)
              .where(Action.status == "open", Action.group_id.in_(group_ids)).subquery())
    rows = session.execute(
        select(ranked.c.id, ranked.c.group_id, ranked.c.title, ranked.c.due)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.group_id, ranked.c.rank)
    ).all()
    people: dict[int, dict[int, tuple[str, list[tuple[str, str]]]]] = defaultdict(dict)
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 900):
        for action_id, pid, name, platform, ext in session.execute(
            select(ActionAssignee.action_id, Person.id, Person.display_name,
                   Identity.platform, Identity.external_id)
            .join(Person, Person.id == ActionAssignee.person_id)
            .outerjoin(Identity, Identity.person_id == Person.id)
            .where(ActionAssignee.action_id.in_(ids[start : start + 900]))
            .order_by(ActionAssignee.id, Identity.id)
        ):
            entry = people[action_id].setdefault(pid, (name, []))
            if platform is not None:
                entry[1].append((platform, ext))
    out: dict[int, list[Text]] = defaultdict(list)
    for r in rows:
        mentions = [Mention(pid, name, tuple(idents))
                    for pid, (name, idents) in people.get(r.id, {}).items()]
        out[r.group_id].append(_line(r.id, r.title, mentions, r.due))
    return out


def compose_meeting_reminder(session: Session, payload: dict[str, Any],
                             settings: CoreSettings) -> list[Block] | None:
    cache = _cache(session)
    series = (cache["series"].get(payload["series_id"]) if "series" in cache
              else session.get(MeetingSeries, payload["series_id"]))
    if series is None or series.group.archived_at is not None:
        return None
    group = series.group
    start = dt.datetime.fromisoformat(payload["start"])
    offset = dt.timedelta(seconds=payload["offset_s"])
    day = dt.date.fromisoformat(payload["original_date"])
    blocks: list[Block] = [
        Text((f"Reminder: the {group.name} meeting is in {in_words(offset)}: ",
              When(start, payload["zone"])), "heading"),
    ]
    if series.link:
        blocks.append(Text(("Join: ", Link(series.link))))
    if "agenda" in cache:
        agenda = cache["agenda"].get((group.id, day), [])
        lines = cache["group_actions"].get(group.id, [])
    else:
        agenda = list(session.scalars(
            select(AgendaItem.text)
            .where(AgendaItem.group_id == group.id, AgendaItem.occurrence_date == day)
            .order_by(AgendaItem.id)
        ))
        lines = _open_actions_per_group(session, {group.id}, REMINDER_ACTIONS)[group.id]
    if agenda:
        blocks.append(Text(("Agenda so far:",)))
        blocks.extend(Text((f"• {item}",)) for item in agenda)
    if lines:
        blocks.append(Text(("Open actions:",)))
        blocks.extend(lines)
    return blocks


def compose_boc_summary(session: Session, payload: dict[str, Any],
                        settings: CoreSettings) -> list[Block] | None:
    """The secretariat summary, exactly as ``secretariat summary`` answers it, composed as
    the bot itself (its own person row), not as a command with a borrowed admin."""
    from handlers.router import system_context
    from handlers.secretariat import summary

    start = dt.datetime.fromisoformat(payload["start"])
    reply = summary(system_context(session, settings))
    return [Text(("Before the Board meets ", When(start, payload["zone"]),
                  ": where the groups stand"), "heading"), *reply.blocks]


# --- action nudges --------------------------------------------------------------------------


def _open_actions(session: Session, *where: Any, limit: int | None = None) -> list[Action]:
    stmt = (
        select(Action)
        .where(Action.status == "open", *where)
        .order_by(undated_last(Action.due), Action.id)
        .options(selectinload(Action.assignees).selectinload(ActionAssignee.person)
                 .selectinload(Person.identities), selectinload(Action.group))
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def _mention(p: Person) -> Mention:
    return Mention(p.id, p.display_name, tuple((i.platform, i.external_id) for i in p.identities))


def _line(action_id: int, title: str, assignees: list[Mention],
          due: dt.date | None) -> Text:
    spans: list[Any] = [f"• A-{action_id} {title}"]
    for i, who in enumerate(assignees):
        spans.extend([" — " if i == 0 else ", ", who])
    if due:
        spans.extend([" (due ", Day(due), ")"])
    return Text(tuple(spans))


def _action_line(a: Action) -> Text:
    return _line(a.id, a.title, [_mention(x.person) for x in a.assignees], a.due)


def nudge_days(today: dt.date, oldest_due: dt.date | None) -> list[dt.date]:
    """Due dates that earn a nudge today: tomorrow, today, and every whole week overdue."""
    days = [today + DAY, today]
    if oldest_due is not None:
        d = today - dt.timedelta(days=7)
        while d >= oldest_due:
            days.append(d)
            d -= dt.timedelta(days=7)
    return days


def _local_slot(now: dt.datetime, zone: str, at: dt.time) -> dt.datetime | None:
    """Today's slot at local ``at`` if it has passed, else yesterday's (aware UTC)."""
    local_today = now.astimezone(ZoneInfo(zone)).date()
    for day in (local_today, local_today - DAY):
        slot = place(dt.datetime.combine(day, at), zone).astimezone(dt.UTC)
        if slot <= now:
            return slot
    return None


def plan_nudges(session: Session, now: dt.datetime,
                settings: CoreSettings) -> list[outbox.NewRow]:
    slot = _local_slot(now, settings.timezone, NUDGE_TIME)
    if slot is None or now - slot > MAX_GRACE:
        return []
    today = slot.astimezone(settings.zone).date()
    marker = f"slot:nudges:{today.isoformat()}"
    if _slot_planned(session, marker):
        return []
    muted = [g.id for g in session.scalars(select(Group))
             if setting(g, "nudges") == "off" or g.archived_at is not None]
    oldest = session.scalar(select(func.min(Action.due)).where(Action.status == "open"))
    stmt = (
        select(ActionAssignee.person_id, Action.id)
        .join(Action, Action.id == ActionAssignee.action_id)
        .where(Action.status == "open", Action.due.in_(nudge_days(today, oldest)))
    )
    if muted:
        stmt = stmt.where(Action.group_id.is_(None) | Action.group_id.not_in(muted))
    per_person: dict[int, list[int]] = defaultdict(list)
    for person_id, action_id in session.execute(stmt):
        per_person[person_id].append(action_id)
    rows = [_marker(marker, slot)]
    if not per_person:
        return rows
    identities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for pid, platform, ext in session.execute(
        select(Identity.person_id, Identity.platform, Identity.external_id)
        .where(Identity.person_id.in_(list(per_person)))
    ):
        identities[pid].append((platform, ext))
    for person_id, action_ids in per_person.items():
        ids = identities.get(person_id, [])
        ids.sort(key=lambda i: settings.mentions.dm_rank(i[0]))  # the adapters' order
        if not ids:
            continue
        platform, ext = ids[0]
        key = f"nudge:{person_id}:{today.isoformat()}"
        rows.append(_row(key, "action_nudge", platform, ChannelRef.direct(platform, ext).channel_id,
                         {"person_id": person_id, "day": today.isoformat(),
                          "action_ids": sorted(action_ids)},
                         slot, MAX_GRACE, now))
    return rows


def compose_nudge(session: Session, payload: dict[str, Any],
                  settings: CoreSettings) -> list[Block] | None:
    """One message listing a person's items; None when all were closed in the meantime."""
    today = dt.date.fromisoformat(payload["day"])
    cache = _cache(session)
    if "open_by_id" in cache:
        actions = [cache["open_by_id"][i] for i in payload["action_ids"]
                   if i in cache["open_by_id"]]
        actions.sort(key=lambda a: (a.due is None, a.due or today, a.id))
    else:
        actions = _open_actions(session, Action.id.in_(payload["action_ids"]))
    if not actions:
        return None
    overdue = [a for a in actions if a.due and a.due < today]
    due_today = [a for a in actions if a.due == today]
    tomorrow = [a for a in actions if a.due == today + DAY]
    blocks: list[Block] = [Text(("Your action items need attention:",), "heading")]
    for label, items in (("Overdue", overdue), ("Due today", due_today),
                         ("Due tomorrow", tomorrow)):
        if items:
            blocks.append(Text((f"{label}:",)))
            blocks.extend(_action_line(a) for a in items)
    blocks.append(Text(("Close one with `action done A-<id>`, or move it with "
                        "`action due A-<id> <date>`.",)))
    return blocks


def prefetch_nudges(session: Session, payloads: list[dict[str, Any]]) -> None:
    ids = sorted({i for p in payloads for i in p["action_ids"]})
    found: dict[int, Action] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update((a.id, a) for a in _open_actions(session, Action.id.in_(chunk)))
    _cache(session)["open_by_id"] = found


# --- weekly digests -------------------------------------------------------------------------


def _digest_slot(now: dt.datetime, zone: str, value: str) -> dt.datetime | None:
    """The latest weekly slot at or before ``now`` (aware UTC)."""
    day_name, hhmm = value.split()
    weekday = WEEKDAYS.index(day_name)
    at = dt.time(int(hhmm[:2]), int(hhmm[3:]))
    local_today = now.astimezone(ZoneInfo(zone)).date()
    back = (local_today.weekday() - weekday) % 7
    for extra in (0, 7):
        day = local_today - dt.timedelta(days=back + extra)
        slot = place(dt.datetime.combine(day, at), zone).astimezone(dt.UTC)
        if slot <= now:
            return slot
    return None


def plan_digests(session: Session, now: dt.datetime,
                 settings: CoreSettings) -> list[outbox.NewRow]:
    """The week's digest of each group whose bookmark has come; then the next bookmark."""
    rows: list[outbox.NewRow] = []
    groups = session.scalars(
        select(Group)
        .where(Group.next_digest_at.is_(None) | (Group.next_digest_at <= naive_utc(now)))
        .options(selectinload(Group.channels))
    )
    for group in groups:
        value = "off" if group.archived_at is not None else setting(group, "digest")
        if value == "off":
            group.next_digest_at = naive_utc(now + MAX_LOOKBACK)
            continue
        slot = _digest_slot(now, settings.timezone, value)
        group.next_digest_at = naive_utc(_next_digest(slot, settings.timezone, now))
        if slot is None or group.created_at > slot:
            continue
        week = slot.astimezone(settings.zone).date()
        for ch in group.channels:
            key = f"digest:{group.id}:{week.isoformat()}:{ch.platform}:{ch.channel_id}"
            rows.append(_row(key, "weekly_digest", ch.platform, ch.channel_id,
                             {"group_id": group.id, "slot": slot.isoformat()},
                             slot, MAX_GRACE, now))
    return rows


def _next_digest(slot: dt.datetime | None, zone: str, now: dt.datetime) -> dt.datetime:
    """The slot a week after ``slot`` in wall time (so DST does not shift it)."""
    if slot is None:
        return now + DAY
    local = slot.astimezone(ZoneInfo(zone)).replace(tzinfo=None) + dt.timedelta(days=7)
    nxt = place(local, zone).astimezone(dt.UTC)
    return nxt if nxt > now else now + DAY


def compose_digest(session: Session, payload: dict[str, Any],
                   settings: CoreSettings) -> list[Block] | None:
    from handlers.meetings import upcoming

    group = session.get(Group, payload["group_id"])
    if group is None or group.archived_at is not None:
        return None
    slot = dt.datetime.fromisoformat(payload["slot"])
    today = slot.astimezone(settings.zone).date()
    week_ago = naive_utc(slot - dt.timedelta(days=7))
    base = select(func.count()).select_from(Action).where(Action.group_id == group.id)
    open_n = session.scalar(base.where(Action.status == "open")) or 0
    overdue_n = session.scalar(base.where(Action.status == "open", Action.due < today)) or 0
    done_n = session.scalar(base.where(Action.status == "done",
                                       Action.closed_at >= week_ago)) or 0
    nxt = upcoming(group.series, slot) if group.series else []
    if not open_n and not done_n and not (nxt and nxt[0].start < slot + dt.timedelta(days=7)):
        return None  # nothing open, nothing done, no meeting this week: a table of zeros
    blocks: list[Block] = [
        Text((f"{group.name}: the week ahead",), "heading"),
        Table(("open", "overdue", "done this week", "next meeting"),
              (((str(open_n),), (str(overdue_n),), (str(done_n),),
                (When(nxt[0].start, nxt[0].zone),) if nxt else ("none scheduled",)),)),
    ]
    overdue = _open_actions(session, Action.group_id == group.id, Action.due < today, limit=10)
    if overdue:
        blocks.append(Text(("Overdue:",)))
        blocks.extend(_action_line(a) for a in overdue)
    return blocks


# --- decision acknowledgement reminders -----------------------------------------------------


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



def plan_ack_reminders(session: Session, now: dt.datetime,
                       settings: CoreSettings) -> list[outbox.NewRow]:
    """One reminder per target group that has not acknowledged a decision in time, sent
    in the group's working hours (``working_time``).

    ``reminded_at`` marks a target once its reminder is planned, so the query only ever
    sees the few targets still waiting for theirs.
    """
    rows: list[outbox.NewRow] = []
    pending = session.execute(
        select(DecisionTarget, Decision.created_at)
        .join(Decision, Decision.id == DecisionTarget.decision_id)
        .where(DecisionTarget.acked_at.is_(None), DecisionTarget.reminded_at.is_(None),
               Decision.revoked_at.is_(None), Decision.created_at <= naive_utc(now - DAY))
        .options(selectinload(DecisionTarget.group).selectinload(Group.channels),
                 selectinload(DecisionTarget.group).selectinload(Group.series))
    ).all()
    for target, created in pending:
        value = setting(target.group, "ack_reminder")
        if value == "off" or target.group.archived_at is not None:
            continue
        due = working_time(created + parse_offsets(value)[0],
                           group_zone(target.group, settings))
        if due > now:
            continue
        target.reminded_at = naive_utc(now)
        for ch in target.group.channels:
            key = f"ack:{target.decision_id}:{target.group_id}:{ch.platform}:{ch.channel_id}"
            rows.append(_row(key, "ack_reminder", ch.platform, ch.channel_id,
                             {"decision_id": target.decision_id, "group_id": target.group_id},
                             due, MAX_GRACE, now))
    return rows


def compose_ack_reminder(session: Session, payload: dict[str, Any],
                         settings: CoreSettings) -> list[Block] | None:
    from handlers.messages import Button, Buttons

    target = session.scalar(select(DecisionTarget).where(
        DecisionTarget.decision_id == payload["decision_id"],
        DecisionTarget.group_id == payload["group_id"],
    ))
    if target is None or target.acked_at is not None:
        return None  # acknowledged in the meantime: nothing to remind
    decision = target.decision
    if decision.revoked_at is not None or target.group.archived_at is not None:
        return None  # revoked, or the group archived, in the meantime
    return [
        Text((f"{target.group.name} has not acknowledged BoC decision D-{decision.id} yet:",),
             "heading"),
        Text((decision.text,), "quote"),
        Buttons((Button("Acknowledge", f"decision ack D-{decision.id}", "primary"),)),
    ]


Planner = Callable[[Session, dt.datetime, CoreSettings], list[outbox.NewRow]]
Composer = Callable[[Session, dict[str, Any], CoreSettings], "list[Block] | None"]
Prefetch = Callable[[Session, list[dict[str, Any]]], None]


# --- meeting mode: close meetings left open (handlers.meeting_mode) ---------------------------


def plan_meeting_autoclose(session: Session, now: dt.datetime,
                           settings: CoreSettings) -> list[outbox.NewRow]:
    """Close meetings past their auto-close time; their minutes go to the meeting's channel."""
    from handlers.meeting_mode import plan_auto_close

    return [_row(key, "meeting_minutes", platform, channel, {"meeting_id": mid}, now,
                 MAX_GRACE, now)
            for key, platform, channel, mid in plan_auto_close(session, now, settings)]


def compose_meeting_minutes(session: Session, payload: dict[str, Any],
                            settings: CoreSettings) -> list[Block] | None:
    from handlers.meeting_mode import compose_minutes

    return compose_minutes(session, int(payload["meeting_id"]), settings)




# --- the monthly report before each BoC meeting (handlers.reports) ----------------------------


def plan_boc_report(session: Session, now: dt.datetime,
                    settings: CoreSettings) -> list[outbox.NewRow]:
    from handlers.reports import plan_boc_report as plan

    return plan(session, now, settings)


def compose_boc_report(session: Session, payload: dict[str, Any],
                       settings: CoreSettings) -> list[Block] | None:
    from handlers.reports import compose_boc_report as compose

    return compose(session, payload, settings)


PLANNERS: list[Planner] = [
    plan_meeting_reminders, plan_nudges, plan_digests, plan_ack_reminders,
    plan_meeting_autoclose, plan_boc_report,
]
COMPOSERS: dict[str, Composer] = {
    "meeting_reminder": compose_meeting_reminder,
    "boc_summary": compose_boc_summary,
    "action_nudge": compose_nudge,
    "weekly_digest": compose_digest,
    "ack_reminder": compose_ack_reminder,
    "meeting_minutes": compose_meeting_minutes,
    "boc_report": compose_boc_report,
    POST_KIND: compose_post,  # a command's posts (handlers.posts)
}
# optional: load what a batch of one kind shows before its rows are composed one by one
PREFETCH: dict[str, Prefetch] = {
    "meeting_reminder": prefetch_meeting_reminders,
    "action_nudge": prefetch_nudges,
}
