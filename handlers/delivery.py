"""The delivery engine: scheduled messages go through the outbox, once each.

A tick (1) plans: inserts a row for every scheduled message that has fallen due, under a
deterministic key, so planning twice or in two processes inserts it once; (2) claims due
rows with a lease and composes them in one short transaction; (3) sends outside any
transaction and marks each row sent (with the platform's message id) at once, keeping the
window in which a crash could repeat a Slack post as small as it can be. Matrix sends are
idempotent by the row key (its transaction id).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from handlers.context import CoreSettings
from handlers.messages import Block, ChannelRef, Day, Link, Mention, Text, When
from handlers.recurrence import parse_offsets, place
from storage import outbox
from storage.models import Action, ActionAssignee, AgendaItem, Group, MeetingSeries, Outbox, Person

log = logging.getLogger(__name__)

MAX_GRACE = dt.timedelta(days=1)
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
RETRY_IN_TICK_MAX = 30.0  # seconds a send may wait in-tick for a server's Retry-After


class SendFailed(Exception):
    """A send that did not go through; ``retry_after`` is the server's delay, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """The port each platform implements in bot/: post to a channel, return the message id.

    ``key`` is the outbox row's key; a platform that supports idempotent sends (Matrix
    transaction ids) derives its idempotency key from it. Raises SendFailed.
    """

    def send(self, channel: ChannelRef, blocks: list[Block], key: str) -> str: ...


def grace_for(offset: dt.timedelta) -> dt.timedelta:
    """How late a reminder may still go out: an hour for a 1-hour one, a day at most."""
    return min(offset, MAX_GRACE)


def _naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC)


def offset_label(offset: dt.timedelta) -> str:
    secs = int(offset.total_seconds())
    if secs % 86400 == 0:
        days = secs // 86400
        return f"{days // 7}w" if days % 7 == 0 and days >= 7 and days != 7 else f"{days}d"
    if secs % 3600 == 0:
        return f"{secs // 3600}h"
    return f"{secs // 60}m"


def in_words(offset: dt.timedelta) -> str:
    secs = int(offset.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs % size == 0 and secs >= size:
            n = secs // size
            return f"{n} {unit}" + ("s" if n != 1 else "")
    return f"{secs} seconds"


# --- planning -------------------------------------------------------------------------------


def reminder_time(start: dt.datetime, zone: str, offset: dt.timedelta) -> dt.datetime:
    """When a reminder ``offset`` before ``start`` goes out.

    Whole days and weeks count in wall time, so "1 day before" a 10:00 meeting is 10:00 the
    day before even across a DST change; hours and minutes are absolute.
    """
    if offset % dt.timedelta(days=1):
        return start - offset
    local = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None) - offset
    return place(local, zone).astimezone(dt.UTC)



def plan_meeting_reminders(session: Session, now: dt.datetime) -> list[outbox.NewRow]:
    """Rows for every reminder whose time has come, with a look-back of the largest grace."""
    from handlers.meetings import occurrences

    rows: list[outbox.NewRow] = []
    series_list = session.scalars(
        select(MeetingSeries).options(selectinload(MeetingSeries.group).selectinload(Group.channels))
    )
    for series in series_list:
        channels = series.group.channels
        if not channels:
            continue
        offsets = parse_offsets(series.remind_offsets)
        if not offsets:
            continue
        horizon = max(offsets)
        created = _aware(series.created_at)
        # the end is exclusive: a minute more so a reminder due this very instant is seen
        window_end = now + horizon + dt.timedelta(days=1, minutes=1)
        for occ in occurrences(series, now - MAX_GRACE, window_end):
            for offset in offsets:
                due = reminder_time(occ.start, occ.zone, offset)
                if due > now or due < created:
                    continue
                late = now - due > grace_for(offset)
                label = offset_label(offset)
                for ch in channels:
                    key = (f"meeting:{series.id}:{occ.original_date.isoformat()}:"
                           f"{_naive(occ.start).isoformat()}:{label}:{ch.platform}:{ch.channel_id}")
                    rows.append(outbox.NewRow(
                        key=key[:255], kind="meeting_reminder", platform=ch.platform,
                        channel_id=ch.channel_id,
                        payload={
                            "series_id": series.id, "group_id": series.group_id,
                            "original_date": occ.original_date.isoformat(),
                            "start": occ.start.isoformat(), "zone": occ.zone,
                            "offset_s": int(offset.total_seconds()),
                            "grace_s": int(grace_for(offset).total_seconds()),
                        },
                        due_at=_naive(due),
                        status=outbox.MISSED if late else outbox.PENDING,
                    ))
    return rows


PLANNERS: list[Callable[[Session, dt.datetime], list[outbox.NewRow]]] = [plan_meeting_reminders]


# --- composing ------------------------------------------------------------------------------


def compose_meeting_reminder(session: Session, payload: dict[str, Any]) -> list[Block]:
    series = session.get(MeetingSeries, payload["series_id"])
    if series is None:
        return []
    group = series.group
    start = dt.datetime.fromisoformat(payload["start"])
    offset = dt.timedelta(seconds=payload["offset_s"])
    blocks: list[Block] = [
        Text((f"Reminder: the {group.name} meeting is in {in_words(offset)}: ",
              When(start, payload["zone"])), "heading"),
    ]
    if series.link:
        blocks.append(Text(("Join: ", Link(series.link)),))
    agenda = list(session.scalars(
        select(AgendaItem)
        .where(AgendaItem.group_id == group.id,
               AgendaItem.occurrence_date == dt.date.fromisoformat(payload["original_date"]))
        .order_by(AgendaItem.id)
    ))
    if agenda:
        blocks.append(Text(("Agenda so far:",)))
        blocks.extend(Text((f"• {item.text}",)) for item in agenda)
    actions = list(session.scalars(
        select(Action)
        .where(Action.group_id == group.id, Action.status == "open")
        .order_by(Action.due.is_(None), Action.due, Action.id)
        .limit(15)
        .options(selectinload(Action.assignees).selectinload(ActionAssignee.person)
                 .selectinload(Person.identities))
    ))
    if actions:
        blocks.append(Text(("Open actions:",)))
        for a in actions:
            spans: list[Any] = [f"• A-{a.id} {a.title}"]
            for i, assignee in enumerate(a.assignees):
                p = assignee.person
                spans.extend([" — " if i == 0 else ", ", Mention(
                    p.id, p.display_name, tuple((x.platform, x.external_id) for x in p.identities)
                )])
            if a.due:
                spans.extend([" (due ", Day(a.due), ")"])
            blocks.append(Text(tuple(spans)))
    return blocks


COMPOSERS: dict[str, Callable[[Session, dict[str, Any]], list[Block]]] = {
    "meeting_reminder": compose_meeting_reminder,
}


# --- the tick -------------------------------------------------------------------------------


@dataclass
class Delivered:
    key: str
    kind: str
    channel: ChannelRef
    due_at: dt.datetime
    message_id: str


@dataclass
class TickResult:
    planned: int = 0
    delivered: list[Delivered] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class DeliveryEngine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: CoreSettings,
        senders: dict[str, Sender],
        *,
        batch: int = 200,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.senders = senders
        self.batch = batch
        self.sleep = sleep

    def plan(self, now: dt.datetime, result: TickResult) -> None:
        rows: list[outbox.NewRow] = []
        with self.sessions.begin() as session:
            for planner in PLANNERS:
                rows.extend(planner(session, now))
            inserted = set(outbox.insert_new(session, rows, _naive(now)))
        result.planned = len(inserted)
        for row in rows:
            if row.key in inserted and row.status == outbox.MISSED:
                log.warning("outbox %s missed: due %s, planned only at %s", row.key,
                            row.due_at, now)
                result.missed.append(row.key)

    def tick(self, now: dt.datetime | None = None) -> TickResult:
        now = now or self.settings.clock()
        result = TickResult()
        self.plan(now, result)
        while True:
            claimed = self._claim(now, result)
            if not claimed:
                break
            for row_id, key, kind, channel, due_at, blocks in claimed:
                self._send(row_id, key, kind, channel, due_at, blocks, now, result)
            if len(claimed) < self.batch:
                break
        return result

    def _claim(
        self, now: dt.datetime, result: TickResult
    ) -> list[tuple[int, str, str, ChannelRef, dt.datetime, list[Block]]]:
        out = []
        with self.sessions.begin() as session:
            rows: list[Outbox] = outbox.claim(session, _naive(now), LEASE, self.batch)
            for row in rows:
                grace = dt.timedelta(seconds=row.payload.get("grace_s", 86400))
                if now - _aware(row.due_at) > grace:
                    row.status, row.claimed_until = outbox.MISSED, None
                    row.last_error = f"missed by {now - _aware(row.due_at)}"
                    log.warning("outbox %s missed: due %s, now %s", row.key, row.due_at, now)
                    result.missed.append(row.key)
                    continue
                if row.platform not in self.senders:
                    # no adapter for it in this process: give it back untouched
                    row.status, row.claimed_until = outbox.PENDING, None
                    row.attempts -= 1
                    continue
                composer = COMPOSERS.get(row.kind)
                blocks = composer(session, row.payload) if composer else []
                if not blocks:
                    row.status, row.claimed_until = outbox.FAILED, None
                    row.last_error = "nothing to send (its subject was deleted)"
                    result.failed.append(row.key)
                    continue
                out.append((row.id, row.key, row.kind, ChannelRef(row.platform, row.channel_id),
                            row.due_at, blocks))
        return out

    def _send(
        self, row_id: int, key: str, kind: str, channel: ChannelRef, due_at: dt.datetime,
        blocks: list[Block], now: dt.datetime, result: TickResult,
    ) -> None:
        sender = self.senders[channel.platform]
        waited = 0.0
        while True:
            try:
                message_id = sender.send(channel, blocks, key)
            except SendFailed as err:
                delay = err.retry_after
                if (not err.permanent and delay is not None and self.sleep is not None
                        and waited + delay <= RETRY_IN_TICK_MAX):
                    self.sleep(delay)
                    waited += delay
                    continue
                self._fail(row_id, key, str(err), delay, err.permanent, now, result)
                return
            except Exception as err:  # a network error: keep it for a later tick
                log.exception("outbox %s: send failed", key)
                self._fail(row_id, key, f"{type(err).__name__}: {err}", None, False, now, result)
                return
            with self.sessions.begin() as session:
                outbox.mark_sent(session, row_id, message_id, _naive(self.settings.clock()))
            result.delivered.append(Delivered(key, kind, channel, due_at, message_id))
            return

    def _fail(self, row_id: int, key: str, error: str, delay: float | None,
              permanent: bool, now: dt.datetime, result: TickResult) -> None:
        with self.sessions.begin() as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            if permanent or row.attempts >= MAX_ATTEMPTS:
                outbox.mark_status(session, row_id, outbox.FAILED, error)
                log.error("outbox %s failed for good after %d attempts: %s", key,
                          row.attempts, error)
                result.failed.append(key)
                return
            retry_at = _naive(now) + dt.timedelta(seconds=delay or 30 * 2 ** (row.attempts - 1))
            outbox.mark_status(session, row_id, outbox.PENDING, error, retry_at)
            log.warning("outbox %s: %s; retrying at %s", key, error, retry_at)
            result.retrying.append(key)
