"""``secretariat``: the cross-group view the secretariat keeps the programme moving with.

These are the heaviest queries the bot runs (every action of every group), so they are
written for the indexes on ``actions(status, due)`` and ``actions(group_id, status, due)``:
filters and LIMIT in SQL, grouped counts (one query per measure), a table page read as plain
rows with its assignees in one select, and the CSV export streamed in batches rather than as
ORM objects.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select

from handlers.context import Ctx
from handlers.directory import all_groups, find_identity, take_group
from handlers.grammar import Args, UserError, parse_mention
from handlers.messages import Day, File, Mention, Reply, Span, Table, When
from handlers.roles import require_staff
from handlers.router import Registry
from storage.models import (
    Action,
    ActionAssignee,
    DecisionTarget,
    Group,
    Identity,
    Membership,
    Outbox,
    Person,
)

S = TypeVar("S", bound=Select[*tuple[Any, ...]])

TABLE_CAP = 100
DELIVERIES_CAP = 50
CSV_BATCH = 1000
STATUSES = ("open", "overdue", "all")
CSV_HEADER = (
    "id", "group", "project", "assignees", "title", "status", "created", "due", "done",
    "days_overdue", "decision",
)
_KEYWORDS = {*STATUSES, "group", "project", "csv"}


@dataclass
class ActionQuery:
    """The parsed filters of ``secretariat actions``; each narrows the same SQL query."""

    status: str = "open"
    group: Group | None = None
    person: Person | None = None
    project: str | None = None
    csv: bool = False

    def describe(self) -> str:
        parts = [f"{self.status} actions"]
        if self.group is not None:
            parts.append(f"in {self.group.slug}")
        if self.person is not None:
            parts.append(f"assigned to {self.person.display_name}")
        if self.project is not None:
            parts.append(f"for project {self.project}")
        return " ".join(parts)


def known_projects(ctx: Ctx) -> dict[str, str]:
    """lowercased project -> a spelling in use, for matching what people type."""
    rows = ctx.session.scalars(
        select(Membership.project).where(Membership.project.is_not(None)).distinct()
    )
    out: dict[str, str] = {}
    for p in rows:
        if p:
            out.setdefault(p.strip().lower(), p.strip())
    return out


def _take_project(ctx: Ctx, args: Args) -> str:
    """The longest run of words naming a known project (quotes allowed), else an error."""
    projects = known_projects(ctx)
    words = args.remaining()
    for n in range(len(words), 0, -1):
        key = " ".join(words[:n]).strip().lower()
        if key in projects:
            args.pos += n
            return projects[key]
    typed = []
    for w in words:
        if w.lower() in _KEYWORDS or parse_mention(w, ctx.platform) is not None:
            break
        typed.append(w)
    if not typed:
        raise UserError("Missing project name after 'project'.")
    raise UserError(f"No one represents a project called {' '.join(typed)!r}.")


def parse_action_query(ctx: Ctx, args: Args) -> ActionQuery:
    """Options in any order: a status word, ``group <g>``, one ``<@user>``, ``project <p>``,
    ``csv``."""
    q = ActionQuery()
    seen_status = False
    while not args.empty():
        word = args.peek() or ""
        low = word.lower()
        if low in STATUSES:
            args.pos += 1
            if seen_status and low != q.status:
                raise UserError(
                    f"Choose one of open, overdue or all, not both {q.status} and {low}."
                )
            q.status, seen_status = low, True
        elif low == "csv":
            args.pos += 1
            q.csv = True
        elif low == "group":
            args.pos += 1
            if args.empty():
                raise UserError("Missing <group> after 'group'.")
            q.group = take_group(ctx, args)
        elif low == "project":
            args.pos += 1
            q.project = _take_project(ctx, args)
        elif (ref := parse_mention(word, ctx.platform)) is not None:
            args.pos += 1
            if q.person is not None:
                raise UserError("Name at most one <@user>.")
            person = find_identity(ctx.session, *ref)
            if person is None:
                raise UserError(f"Unknown user {word}: no one by that name has been seen here.")
            q.person = person
        else:
            raise UserError(f"Unexpected {word!r}.")
    return q


def query_params(q: ActionQuery, today: dt.date) -> dict[str, Any]:
    """The values for the bound parameters of :func:`action_filters`."""
    return {
        "today": today,
        "group_id": q.group.id if q.group is not None else None,
        "person_id": q.person.id if q.person is not None else None,
        "project": q.project.lower() if q.project is not None else None,
    }


def action_filters(q: ActionQuery) -> tuple[ColumnElement[bool], ...]:
    """The WHERE of a query, with the parameters of :func:`query_params`."""
    return _filters(q.status, q.group is not None, q.person is not None, q.project is not None)


@functools.cache
def _filters(
    status: str, group: bool, person: bool, project: bool
) -> tuple[ColumnElement[bool], ...]:
    # Built once per shape: constructing the clauses costs more than SQLite takes to use them.
    where: list[ColumnElement[bool]] = []
    if status in ("open", "overdue"):
        where.append(Action.status == "open")
    if status == "overdue":
        where.append(Action.due < bindparam("today"))
    if group:
        where.append(Action.group_id == bindparam("group_id"))
    if person:
        where.append(
            exists().where(
                ActionAssignee.action_id == Action.id,
                ActionAssignee.person_id == bindparam("person_id"),
            )
        )
    if project:
        where.append(
            select(ActionAssignee.id)
            .join(Membership, Membership.person_id == ActionAssignee.person_id)
            .where(
                ActionAssignee.action_id == Action.id,
                Membership.group_id == Action.group_id,
                func.lower(Membership.project) == bindparam("project"),
            )
            .correlate(Action)
            .exists()
        )
    return tuple(where)


def ordered(stmt: S, status: str) -> S:
    """Oldest due first; undated last. ``overdue`` has no undated rows, so it keeps the
    plain ``due, id`` order the ``(status, due)`` index already delivers."""
    if status == "overdue":
        return stmt.order_by(Action.due, Action.id)
    return stmt.order_by(Action.due.is_(None), Action.due, Action.id)


def days_overdue(status: str, due: dt.date | None, today: dt.date) -> int | None:
    if status == "open" and due is not None and due < today:
        return (today - due).days
    return None


def _all_projects(ctx: Ctx) -> dict[tuple[int | None, int], str]:
    """(group id, person id) -> the project that person represents in that group.

    Read once per export: memberships number in the thousands, while filtering them per
    batch of actions by group and person ids returned most of them again for every batch.
    """
    rows = ctx.session.execute(
        select(Membership.group_id, Membership.person_id, Membership.project).where(
            Membership.project.is_not(None)
        )
    )
    return {(g, p): proj for g, p, proj in rows if proj}


def _local_dates(zone: dt.tzinfo) -> Callable[[dt.datetime | None], str]:
    """Naive UTC -> the local ISO date, cached per UTC hour: offsets change on the hour in
    nearly every zone, and where an hour holds a change it is converted exactly."""
    cache: dict[dt.datetime, dt.timedelta | None] = {}

    def convert(naive_utc: dt.datetime | None) -> str:
        if naive_utc is None:
            return ""
        hour = naive_utc.replace(minute=0, second=0, microsecond=0)
        offset = cache.get(hour, _MISSING)
        if offset is _MISSING:
            first = hour.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset()
            last = (hour + dt.timedelta(minutes=59, seconds=59)).replace(
                tzinfo=dt.UTC).astimezone(zone).utcoffset()
            offset = cache[hour] = first if first == last else None
        if offset is None:
            return naive_utc.replace(tzinfo=dt.UTC).astimezone(zone).date().isoformat()
        day: str = (naive_utc + offset).date().isoformat()
        return day

    return convert


_MISSING: Any = object()


def csv_rows(ctx: Ctx, q: ActionQuery) -> Iterator[tuple[str, ...]]:
    """Every matching action as a CSV row, streamed in batches of plain rows.

    Core rows on the session's connection (no ORM row processing), local dates converted
    through a per-hour cache: the export is a loop over every action in the store.
    """
    stmt = ordered(
        select(
            Action.id, Group.slug, Action.group_id, Action.title, Action.status,
            Action.created_at, Action.due, Action.closed_at, Action.decision_id,
        )
        .outerjoin(Group, Group.id == Action.group_id)
        .where(*action_filters(q)),
        q.status,
    )
    projects = _all_projects(ctx)
    today = ctx.today
    local = _local_dates(ctx.settings.zone)
    conn = ctx.session.connection()
    result = conn.execution_options(yield_per=CSV_BATCH).execute(
        stmt, query_params(q, today))
    for batch in result.partitions():
        people: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for aid, pid, name in conn.execute(
            _BATCH_ASSIGNEES, {"ids": [r[0] for r in batch]}
        ):
            people[aid].append((pid, name))
        for aid, slug, group_id, title, status, created, due, closed, decision in batch:
            who = people.get(aid, ())
            projs = list(dict.fromkeys(
                projects[(group_id, pid)] for pid, _ in who if (group_id, pid) in projects
            ))
            late = days_overdue(status, due, today)
            yield (
                f"A-{aid}", slug or "", "; ".join(projs), "; ".join(n for _, n in who), title,
                status, local(created), due.isoformat() if due else "",
                local(closed) if status == "done" else "",
                "" if late is None else str(late),
                f"D-{decision}" if decision else "",
            )


_BATCH_ASSIGNEES = (
    select(ActionAssignee.action_id, Person.id, Person.display_name)
    .join(Person, Person.id == ActionAssignee.person_id)
    .where(ActionAssignee.action_id.in_(bindparam("ids", expanding=True)))
    .order_by(ActionAssignee.id)
)


def actions_csv(ctx: Ctx, q: ActionQuery) -> tuple[bytes, int]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    n = 0
    for row in csv_rows(ctx, q):
        writer.writerow(row)
        n += 1
    return buf.getvalue().encode("utf-8"), n


def _cell(spans: Sequence[Span]) -> tuple[Span, ...]:
    return tuple(spans) or ("-",)


_ASSIGNEES_WITH_PROJECTS = (
    select(
        ActionAssignee.action_id, Person.id, Person.display_name, Membership.project,
        Identity.platform, Identity.external_id,
    )
    .join(Person, Person.id == ActionAssignee.person_id)
    .join(Action, Action.id == ActionAssignee.action_id)
    .outerjoin(
        Membership,
        (Membership.group_id == Action.group_id)
        & (Membership.person_id == ActionAssignee.person_id),
    )
    .outerjoin(Identity, Identity.person_id == Person.id)
    .where(ActionAssignee.action_id.in_(bindparam("ids", expanding=True)))
    .order_by(ActionAssignee.id, Identity.id)
)


def _assignees_with_projects(
    ctx: Ctx, action_ids: Sequence[int]
) -> dict[int, list[tuple[Mention, str | None]]]:
    """action id -> (mention, project in the action's group) per assignee, in one select."""
    if not action_ids:
        return {}
    people: dict[tuple[int, int], tuple[str, str | None, list[tuple[str, str]]]] = {}
    for aid, pid, name, project, platform, external_id in ctx.session.execute(
        _ASSIGNEES_WITH_PROJECTS, {"ids": list(action_ids)}
    ):
        entry = people.get((aid, pid))
        if entry is None:
            entry = people[(aid, pid)] = (name, project, [])
        if platform is not None:
            entry[2].append((platform, external_id))
    out: dict[int, list[tuple[Mention, str | None]]] = {}
    for (aid, pid), (name, project, ids) in people.items():
        out.setdefault(aid, []).append((Mention(pid, name, tuple(ids)), project))
    return out


@functools.cache
def _page_stmts(
    status: str, group: bool, person: bool, project: bool
) -> tuple[Select[int, int | None, str, str, str, dt.date | None], Select[int]]:
    """A table page (``TABLE_CAP`` + 1 rows, to tell whether there are more) and the count."""
    where = _filters(status, group, person, project)
    page = ordered(
        select(
            Action.id, Action.group_id, Group.slug, Action.title, Action.status, Action.due,
        )
        .outerjoin(Group, Group.id == Action.group_id)
        .where(*where),
        status,
    ).limit(TABLE_CAP + 1)
    return page, select(func.count()).select_from(Action).where(*where)


def actions_table(ctx: Ctx, q: ActionQuery) -> tuple[Table | None, int]:
    """The first ``TABLE_CAP`` matching actions as a table, and how many match in all.

    Plain Core rows, not ORM objects: a page is one select of the actions with their group's
    slug and one of their assignees with identities and projects. The count, which walks
    every match, runs only when there are more than a page.
    """
    page, count = _page_stmts(
        q.status, q.group is not None, q.person is not None, q.project is not None
    )
    params = query_params(q, ctx.today)
    rows = list(ctx.session.execute(page, params))
    if not rows:
        return None, 0
    total = len(rows)
    if total > TABLE_CAP:
        rows = rows[:TABLE_CAP]
        total = ctx.session.scalar(count, params) or 0
    people = _assignees_with_projects(ctx, [r[0] for r in rows])
    today = ctx.today
    out = []
    for aid, group_id, slug, raw_title, status, due in rows:
        assignees = people.get(aid, ())
        who: list[Span] = []
        projs: list[str] = []
        for i, (m, project) in enumerate(assignees):
            if i:
                who.append(", ")
            who.append(m)
            if group_id is not None and project and project not in projs:
                projs.append(project)
        late = days_overdue(status, due, today)
        title = " ".join(raw_title.split())
        out.append(
            (
                (f"A-{aid}",),
                (slug or "-",),
                (", ".join(projs) or "-",),
                _cell(who),
                (title if len(title) <= 60 else title[:59] + "…",),
                (Day(due),) if due else ("-",),
                (status if late is None else f"overdue {late}d",),
            )
        )
    headers = ("id", "group", "project", "assignees", "title", "due", "status")
    return Table(headers, tuple(out)), total


def month_bounds(ctx: Ctx) -> tuple[dt.datetime, dt.datetime]:
    """The current local month as naive-UTC instants [start, end)."""
    today = ctx.today
    first = today.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    zone = ctx.settings.zone

    def utc(day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    return utc(first), utc(nxt)


def _grouped(ctx: Ctx, stmt: Select[Any, Any]) -> dict[int | None, int]:
    return {gid: int(n) for gid, n in ctx.session.execute(stmt)}


def register(reg: Registry) -> None:
    reg.noun("secretariat", "cross-group views for the secretariat: actions, summary")

    @reg.command(
        "secretariat", "actions",
        "[open|overdue|all] [group <group>] [<@user>] [project <name...>] [csv]",
        "actions across all groups, oldest due first; csv returns every row as a file",
        "secretariat, admin",
    )
    def secretariat_actions(ctx: Ctx, args: Args) -> Reply:
        q = parse_action_query(ctx, args)
        require_staff(ctx, "secretariat actions")
        reply = Reply()
        if q.csv:
            content, n = actions_csv(ctx, q)
            name = f"actions-{ctx.today.isoformat()}.csv"
            reply.say(f"{n} {q.describe()} in {name}.")
            reply.add(File(name, "text/csv", content, title=q.describe().capitalize()))
            return reply
        table, total = actions_table(ctx, q)
        reply.say(f"{q.describe().capitalize()}: {total}", style="heading")
        if table is None:
            return reply.say("None.")
        reply.add(table)
        if total > len(table.rows):
            reply.say(f"and {total - len(table.rows)} more — add csv for all.")
        return reply

    @reg.command(
        "secretariat", "summary", "",
        "per group: open, overdue, done this month, next meeting, unacknowledged decisions",
        "secretariat, admin",
    )
    def secretariat_summary(ctx: Ctx, args: Args) -> Reply:
        args.done()
        require_staff(ctx, "secretariat summary")
        from handlers.meetings import next_meeting

        start, end = month_bounds(ctx)
        per_group = select(Action.group_id, func.count()).group_by(Action.group_id)
        open_n = _grouped(ctx, per_group.where(Action.status == "open"))
        overdue_n = _grouped(
            ctx, per_group.where(Action.status == "open", Action.due < ctx.today)
        )
        done_n = _grouped(
            ctx,
            per_group.where(
                Action.status == "done", Action.closed_at >= start, Action.closed_at < end
            ),
        )
        unacked = _grouped(
            ctx,
            select(DecisionTarget.group_id, func.count())
            .where(DecisionTarget.acked_at.is_(None))
            .group_by(DecisionTarget.group_id),
        )
        groups = all_groups(ctx.session)
        reply = Reply()
        month = ctx.today.strftime("%B %Y")
        reply.say(f"Summary, {ctx.today.isoformat()}", style="heading")
        if not groups:
            return reply.say("No groups yet.")
        rows: list[tuple[tuple[Span, ...], ...]] = []
        keys: list[int | None] = [g.id for g in groups]
        if any(None in d for d in (open_n, overdue_n, done_n)):
            keys.append(None)
        by_id = {g.id: g for g in groups}
        for key in keys:
            meeting: tuple[Span, ...] = ("-",)
            if key is not None:
                occ = next_meeting(ctx, by_id[key])
                meeting = (When(occ.start, occ.zone),) if occ else ("none scheduled",)
            rows.append(
                (
                    (by_id[key].slug if key is not None else "(no group)",),
                    (str(open_n.get(key, 0)),),
                    (str(overdue_n.get(key, 0)),),
                    (str(done_n.get(key, 0)),),
                    meeting,
                    (str(unacked.get(key, 0)),) if key is not None else ("-",),
                )
            )
        rows.append(
            (
                ("total",),
                (str(sum(open_n.values())),),
                (str(sum(overdue_n.values())),),
                (str(sum(done_n.values())),),
                ("",),
                (str(sum(unacked.values())),),
            )
        )
        headers = (
            "group", "open", "overdue", f"done in {month}", "next meeting", "unacknowledged",
        )
        reply.add(Table(headers, tuple(rows)))
        return reply


    @reg.command(
        "secretariat", "deliveries", "[problems|pending|failed|missed|sent|all]",
        "scheduled messages: what is waiting, what failed or was missed, and why",
        "secretariat, admin",
    )
    def secretariat_deliveries(ctx: Ctx, args: Args) -> Reply:
        which = args.accept("problems", "pending", "failed", "missed", "sent", "all")
        if which is None and not args.empty():
            raise UserError(f"Unknown filter {args.peek()!r}.")
        args.done()
        require_staff(ctx, "secretariat deliveries")
        which = which or "problems"
        counts = dict(ctx.session.execute(
            select(Outbox.status, func.count())
            .where(Outbox.kind != "slot")
            .group_by(Outbox.status)
        ).all())
        statuses = {
            "problems": ("failed", "missed"), "all": ("pending", "sending", "sent", "failed",
                                                     "missed", "skipped"),
        }.get(which, (which,))
        if which == "pending":
            statuses = ("pending", "sending")
        rows = ctx.session.execute(
            select(Outbox.id, Outbox.kind, Outbox.platform, Outbox.channel_id, Outbox.due_at,
                   Outbox.status, Outbox.attempts, Outbox.last_error)
            .where(Outbox.kind != "slot", Outbox.status.in_(statuses))
            .order_by(Outbox.due_at.desc(), Outbox.id.desc())
            .limit(DELIVERIES_CAP)
        ).all()
        reply = Reply()
        summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in
                            ("pending", "sending", "sent", "failed", "missed", "skipped"))
        reply.say(f"Scheduled messages: {summary}", style="heading")
        if not rows:
            return reply.say(f"No {which} deliveries.")
        table_rows = tuple(
            (
                (str(r.id),), (r.kind.replace("_", " "),), (f"{r.platform}:{r.channel_id}",),
                (When(r.due_at.replace(tzinfo=dt.UTC), ctx.settings.timezone),),
                (r.status,), (str(r.attempts),), ((r.last_error or "")[:80],),
            )
            for r in rows
        )
        reply.add(Table(("id", "what", "where", "due", "status", "tries", "last error"),
                        table_rows))
        return reply

    # the workbench outside chat: report, dashboard link, calendar feeds (handlers.reports)
    from handlers import reports

    reports.register(reg)
