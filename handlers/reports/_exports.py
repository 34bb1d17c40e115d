"""Exports of actions, decisions and meetings as CSV, JSON and Markdown, streamed in
batches so a large programme never sits in memory (``taskbot report``, the CSV files).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from handlers.core.context import CoreSettings, Ctx
from handlers.core.grammar import UserError
from handlers.core.i18n import _
from handlers.reports._html import md_cell
from handlers.secretariat import CSV_HEADER, ActionQuery, csv_batches, write_csv
from storage.models import (
    Decision,
    DecisionTarget,
    Group,
    Meeting,
    MeetingAttendee,
    MeetingItem,
    Person,
)

FORMATS = ("csv", "json", "md")
Progress = Callable[[int], None]


def export_actions(
    ctx: Ctx, q: ActionQuery, out: TextIO, fmt: str, progress: Progress | None = None
) -> int:
    """Write every matching action to ``out`` as it is read (the columns of the chat CSV);
    returns the number of rows. ``progress`` is called with the running count per batch."""
    return write_export(csv_batches(ctx, q), out, fmt, ACTIONS_EXPORT, progress)


Batch = list[tuple[str, ...]]


@dataclass(frozen=True)
class ExportShape:
    """The columns of one export, and those JSON writes as numbers (empty: null)."""

    header: tuple[str, ...]
    numbers: frozenset[str] = frozenset()


ACTIONS_EXPORT = ExportShape(CSV_HEADER, frozenset({"days_overdue"}))


def write_export(batches: Iterable[Batch], out: TextIO, fmt: str, shape: ExportShape,
                 progress: Progress | None = None) -> int:
    """Every row of ``batches`` to ``out`` as CSV (cells neutralised), JSON or Markdown:
    the one writer of every ``taskbot report``. Returns the number of rows."""
    if fmt not in FORMATS:
        raise UserError(_("Unknown format {format}: choose one of {formats}.",
                          format=repr(fmt), formats=", ".join(FORMATS)))
    rows = _counted(batches, progress)
    if fmt == "csv":
        return write_csv(rows, out, shape.header)
    if fmt == "json":
        return _write_json(rows, out, shape)
    return _write_md(rows, out, shape.header)


def _counted(batches: Iterable[Batch], progress: Progress | None) -> Iterator[Batch]:
    """The batches, reporting the running count once each has been written."""
    n = 0
    for batch in batches:
        yield batch
        n += len(batch)
        if progress is not None:
            progress(n)
    if progress is not None and n == 0:
        progress(0)


def json_record(row: Sequence[str], shape: ExportShape = ACTIONS_EXPORT) -> dict[str, Any]:
    """One exported row as JSON: empty cells are null, the shape's number columns numbers."""
    record: dict[str, Any] = {}
    for key, value in zip(shape.header, row, strict=True):
        if key in shape.numbers:
            record[key] = int(value) if value else None
        else:
            record[key] = value if value != "" else None
    return record


def _write_json(batches: Iterable[Batch], out: TextIO, shape: ExportShape) -> int:
    """A JSON array written a batch at a time, so memory stays flat."""
    n = 0
    out.write("[")
    for batch in batches:
        out.write("".join(
            (",\n " if n or i else "\n ") + json.dumps(json_record(row, shape), ensure_ascii=False)
            for i, row in enumerate(batch)))
        n += len(batch)
    out.write("\n]\n" if n else "]\n")
    return n


def _write_md(batches: Iterable[Batch], out: TextIO, header: Sequence[str]) -> int:
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join("---" for _column in header) + "|\n")
    n = 0
    for batch in batches:
        out.write("".join(
            "| " + " | ".join(md_cell(c) for c in row) + " |\n" for row in batch))
        n += len(batch)
    return n


def count_actions(ctx: Ctx, q: ActionQuery) -> int:
    """How many rows an export will have (for a progress bar)."""
    from handlers.secretariat import matching, query_params

    source, where = matching(q)
    stmt = select(func.count()).select_from(source).where(*where)
    return int(ctx.session.scalar(stmt, query_params(q, ctx.today)) or 0)


# --- the decisions and meetings exports (taskbot report decisions|meetings) -----------------

EXPORT_BATCH = 500
DECISIONS_EXPORT = ExportShape(
    ("id", "date", "author", "targets", "acknowledged", "pending", "actions_open", "actions",
     "text"),
    frozenset({"actions_open", "actions"}),
)
MEETINGS_EXPORT = ExportShape(
    ("id", "group", "date", "started", "ended", "minutes", "status", "chairs", "attendees",
     "topics", "actions", "agreed", "decisions"),
    frozenset({"minutes", "attendees", "topics", "actions", "agreed", "decisions"}),
)


@dataclass
class RecordQuery:
    """The filters of ``taskbot report decisions|meetings``: one group, from a local day."""

    group: Group | None = None
    since: dt.date | None = None

    def describe(self, what: str) -> str:
        """What is exported, in words: ``decisions for repl since 2026-01-01``."""
        group = "" if self.group is None else self.group.slug
        since = "" if self.since is None else self.since.isoformat()
        if what == "decisions":
            if group and since:
                return _("decisions for {group} since {date}", group=group, date=since)
            if group:
                return _("decisions for {group}", group=group)
            if since:
                return _("decisions since {date}", date=since)
            # TRANSLATORS: what taskbot report exports (beside its progress bar)
            return _("decisions")
        if group and since:
            return _("meetings of {group} since {date}", group=group, date=since)
        if group:
            return _("meetings of {group}", group=group)
        if since:
            return _("meetings since {date}", date=since)
        # TRANSLATORS: what taskbot report exports (beside its progress bar)
        return _("meetings")


def _day_start(ctx: Ctx, day: dt.date) -> dt.datetime:
    from handlers.decisions import local_day_start

    return local_day_start(ctx, day)


def _names(ctx: Ctx) -> dict[int, str]:
    return {pid: name for pid, name in ctx.session.execute(select(Person.id, Person.display_name))}


def _decision_where(ctx: Ctx, q: RecordQuery) -> list[Any]:
    where: list[Any] = []
    if q.group is not None:
        where.append(Decision.id.in_(select(DecisionTarget.decision_id)
                                     .where(DecisionTarget.group_id == q.group.id)))
    if q.since is not None:
        where.append(Decision.created_at >= _day_start(ctx, q.since))
    return where


def count_decisions(ctx: Ctx, q: RecordQuery) -> int:
    stmt = select(func.count(Decision.id)).where(*_decision_where(ctx, q))
    return int(ctx.session.scalar(stmt) or 0)


def decision_batches(ctx: Ctx, q: RecordQuery) -> Iterator[Batch]:
    """The register, oldest first, a batch at a time (by id, so memory stays flat)."""
    from handlers.decisions import linked_action_counts

    where = _decision_where(ctx, q)
    names = _names(ctx)
    zone = ctx.settings.zone
    last = 0
    while True:
        found = list(ctx.session.scalars(
            select(Decision).where(*where, Decision.id > last)
            .options(selectinload(Decision.targets).selectinload(DecisionTarget.group))
            .order_by(Decision.id).limit(EXPORT_BATCH)))
        if not found:
            return
        counts = linked_action_counts(ctx, [d.id for d in found])
        rows: Batch = []
        for d in found:
            open_n, all_n = counts.get(d.id, (0, 0))
            acked = sum(1 for t in d.targets if t.acked_at is not None)
            rows.append((
                f"D-{d.id}",
                d.created_at.astimezone(zone).date().isoformat(),
                names.get(d.author_id, "") if d.author_id is not None else "",
                "; ".join(t.group.slug for t in d.targets),
                f"{acked}/{len(d.targets)}",
                "; ".join(t.group.slug for t in d.targets if t.acked_at is None),
                str(open_n), str(all_n), d.text,
            ))
        yield rows
        last = found[-1].id


def _meeting_where(ctx: Ctx, q: RecordQuery) -> list[Any]:
    where: list[Any] = []
    if q.group is not None:
        where.append(Meeting.group_id == q.group.id)
    if q.since is not None:
        where.append(Meeting.started_at >= _day_start(ctx, q.since))
    return where


def count_meetings(ctx: Ctx, q: RecordQuery) -> int:
    stmt = select(func.count(Meeting.id)).where(*_meeting_where(ctx, q))
    return int(ctx.session.scalar(stmt) or 0)


def meeting_batches(ctx: Ctx, q: RecordQuery) -> Iterator[Batch]:
    """Every meeting held (``meeting start``), oldest first, with local times in its
    group's zone and what was captured in it, a batch at a time."""
    from zoneinfo import ZoneInfo

    from handlers.meeting_mode import zone_of

    where = _meeting_where(ctx, q)
    names = _names(ctx)
    last = 0
    while True:
        found = list(ctx.session.scalars(
            select(Meeting).where(*where, Meeting.id > last)
            .options(selectinload(Meeting.group).selectinload(Group.series))
            .order_by(Meeting.id).limit(EXPORT_BATCH)))
        if not found:
            return
        ids = [m.id for m in found]
        kinds: dict[tuple[int, str], int] = {
            (mid, kind): n for mid, kind, n in ctx.session.execute(
                select(MeetingItem.meeting_id, MeetingItem.kind, func.count())
                .where(MeetingItem.meeting_id.in_(ids))
                .group_by(MeetingItem.meeting_id, MeetingItem.kind))}
        present: dict[int, int] = {mid: n for mid, n in ctx.session.execute(
            select(MeetingAttendee.meeting_id, func.count())
            .where(MeetingAttendee.meeting_id.in_(ids))
            .group_by(MeetingAttendee.meeting_id))}
        rows: Batch = []
        for m in found:
            zone = ZoneInfo(zone_of(m.group, ctx.settings))
            start = m.started_at.astimezone(zone)
            end = m.ended_at.astimezone(zone) if m.ended_at else None
            status = "open" if end is None else "auto-closed" if m.auto_closed else "ended"
            rows.append((
                f"M-{m.id}", m.group.slug, start.date().isoformat(), f"{start:%Y-%m-%d %H:%M}",
                f"{end:%Y-%m-%d %H:%M}" if end else "",
                str(int((m.ended_at - m.started_at).total_seconds() // 60)) if m.ended_at
                else "",
                status, "; ".join(names.get(pid, "") for pid in (m.chair_ids or [])),
                str(present.get(m.id, 0)),
                *(str(kinds.get((m.id, kind), 0))
                  for kind in ("topic", "action", "agreed", "decision")),
            ))
        yield rows
        last = found[-1].id


def export_decisions(ctx: Ctx, q: RecordQuery, out: TextIO, fmt: str,
                     progress: Progress | None = None) -> int:
    return write_export(decision_batches(ctx, q), out, fmt, DECISIONS_EXPORT, progress)


def export_meetings(ctx: Ctx, q: RecordQuery, out: TextIO, fmt: str,
                    progress: Progress | None = None) -> int:
    return write_export(meeting_batches(ctx, q), out, fmt, MEETINGS_EXPORT, progress)


def reader_ctx(session: Session, settings: CoreSettings, now: dt.datetime) -> Ctx:
    """A context for read-only work outside a command (the CLI, the web pages): the actor is
    a transient person that is never written."""
    return Ctx(session=session, actor=Person(display_name="taskbot"), platform="web",
               channel_id=None, settings=settings, now=now)
