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
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from sqlalchemy import ColumnElement, FromClause, Select, String, bindparam, cast, func, select
from sqlalchemy.orm import Session

from handlers.core import params as p
from handlers.core.context import CoreSettings, Ctx
from handlers.core.directory import all_groups, take_group
from handlers.core.grammar import Args, UserError
from handlers.core.i18n import Msg, _, _n
from handlers.core.messages import Block, Day, File, Mention, Reply, Span, Table, Text, When
from handlers.core.params import Values
from handlers.core.people import is_person, resolve_person
from handlers.core.roles import STAFF
from handlers.core.router import Registry, system_context
from storage.models import (
    Action,
    ActionAssignee,
    Decision,
    DecisionTarget,
    Group,
    Identity,
    Membership,
    Outbox,
    Person,
)
from storage.sql import undated_last

S = TypeVar("S", bound=Select[*tuple[Any, ...]])

TABLE_CAP = 100
DELIVERIES_CAP = 50
CSV_BATCH = 1000
STATUSES = ("open", "overdue", "all")
# A filter word read as a phrase: "all" and "problems" name a filter, not a kind of thing,
# so they never stand before the noun ("No all deliveries.", "24 all actions").
STATUS_LABELS = {"open": _("open actions"), "overdue": _("overdue actions"),
                 "all": _("actions (open and done)")}
# the same, first in a heading or a file's title
STATUS_HEADINGS = {"open": _("Open actions"), "overdue": _("Overdue actions"),
                   "all": _("Actions (open and done)")}
# an outbox kind as ``secretariat deliveries`` shows it
# TRANSLATORS: a kind of scheduled message: one a command posted to a group's channels
KIND_LABELS = {"post": _("command post")}
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

    def describe(self, capital: bool = False) -> Msg:
        """``open actions in repl assigned to Ann``; ``capital``: the same first in a
        heading, spelled as ``str.capitalize`` spells it (the rest in lower case)."""
        def case(value: str) -> str:
            return value.lower() if capital else value

        what = (STATUS_HEADINGS if capital else STATUS_LABELS)[self.status]
        if self.group is not None:
            # TRANSLATORS: actions ("open actions", or with more said of them) in a group
            what = _("{actions} in {group}", actions=what, group=case(self.group.slug))
        if self.person is not None:
            # TRANSLATORS: actions ("open actions", or with more said of them) and whose
            what = _("{actions} assigned to {who}", actions=what,
                     who=case(self.person.display_name))
        if self.project is not None:
            # TRANSLATORS: actions ("open actions", or with more said of them) and a project
            what = _("{actions} for project {project}", actions=what,
                     project=case(self.project))
        return what


def known_projects(ctx: Ctx) -> dict[str, str]:
    """lowercased project -> a spelling in use, for matching what people type."""
    rows = ctx.session.scalars(
        select(Membership.project).where(Membership.project.is_not(None)).distinct()
    )
    out: dict[str, str] = {}
    for name in rows:
        if name:
            out.setdefault(name.strip().lower(), name.strip())
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
        if w.lower() in _KEYWORDS or is_person(ctx, w):
            break
        typed.append(w)
    if not typed:
        raise UserError(_("Missing project name after 'project'."))
    raise UserError(_("No one represents a project called {project}.",
                      project=repr(" ".join(typed))))


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
                    _("Choose one of open, overdue or all, not both {first} and {second}.",
                      first=q.status, second=low)
                )
            q.status, seen_status = low, True
        elif low == "csv":
            args.pos += 1
            q.csv = True
        elif low == "group":
            args.pos += 1
            if args.empty():
                raise UserError(_("Missing <group> after 'group'."))
            q.group = take_group(ctx, args)
        elif low == "project":
            args.pos += 1
            q.project = _take_project(ctx, args)
        elif is_person(ctx, word):
            args.pos += 1
            if q.person is not None:
                raise UserError(_("Name at most one <@user>."))
            q.person = resolve_person(ctx, word)
        else:
            raise UserError(_("Unexpected {word}.", word=repr(word)))
    return q


def query_params(q: ActionQuery, today: dt.date) -> dict[str, Any]:
    """The values for the bound parameters of :func:`matching`."""
    return {
        "today": today,
        "group_id": q.group.id if q.group is not None else None,
        "person_id": q.person.id if q.person is not None else None,
        "project": q.project.lower() if q.project is not None else None,
    }


Matching = tuple[FromClause, tuple[ColumnElement[bool], ...]]


def matching(q: ActionQuery) -> Matching:
    """What to select from (``actions``, joined to the actions a person or a project holds)
    and the WHERE, with the parameters of :func:`query_params`."""
    return _matching(q.status, q.group is not None, q.person is not None,
                     q.project is not None)


@functools.cache
def _matching(status: str, group: bool, person: bool, project: bool) -> Matching:
    """Built once per shape: constructing the clauses costs more than SQLite takes to use
    them.

    A person's or a project's actions are few, so they are found from the assignments
    (each a DISTINCT subquery, which the database reads first and joins to ``actions`` by
    id) rather than by testing every open action: SQLite has no statistics to see that.
    """
    source: FromClause = Action.__table__
    where: list[ColumnElement[bool]] = []
    if status in ("open", "overdue"):
        where.append(Action.status == "open")
    if status == "overdue":
        where.append(Action.due < bindparam("today"))
    if group:
        where.append(Action.group_id == bindparam("group_id"))
    if person:
        held = (
            select(ActionAssignee.action_id)
            .where(ActionAssignee.person_id == bindparam("person_id"))
            .distinct()
            .subquery("held_by_person")
        )
        source = held.join(source, Action.id == held.c.action_id)
    if project:
        # assignees who represent the project in the action's own group
        reps = (
            select(Membership.group_id, Membership.person_id)
            .where(func.lower(Membership.project) == bindparam("project"))
            .distinct()
            .subquery("representatives")
        )
        held = (
            select(ActionAssignee.action_id, reps.c.group_id)
            .join(reps, reps.c.person_id == ActionAssignee.person_id)
            .distinct()
            .subquery("held_for_project")
        )
        source = held.join(
            source, (Action.id == held.c.action_id) & (Action.group_id == held.c.group_id))
    return source, tuple(where)


def ordered(stmt: S, status: str) -> S:
    """Oldest due first; undated last. ``overdue`` has no undated rows, so it keeps the
    plain ``due, id`` order the ``(status, due)`` index already delivers."""
    if status == "overdue":
        return stmt.order_by(Action.due, Action.id)
    return stmt.order_by(undated_last(Action.due), Action.id)


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


class LocalDates:
    """A stored naive-UTC instant, as the database prints it (``2026-11-30 09:00:00[.f]``),
    -> the local ISO date.

    The export reads instants as text and looks their date up by UTC hour in ``by_hour``
    (the loop does that inline; calling this fills it): offsets change on the hour in
    nearly every zone. An hour that holds a change, or that straddles local midnight at a
    half-hour offset, stays out of ``by_hour`` and each instant in it is converted exactly.
    """

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self.by_hour: dict[str, str] = {}
        self._mixed: set[str] = set()

    def __call__(self, text: str | None) -> str:
        if not text:
            return ""
        key = text[:13]
        day = self.by_hour.get(key)
        if day is not None:
            return day
        if key not in self._mixed:
            hour = dt.datetime.fromisoformat(key + ":00").replace(tzinfo=dt.UTC)
            first = hour.astimezone(self.zone)
            last = (hour + dt.timedelta(minutes=59, seconds=59, microseconds=999999)
                    ).astimezone(self.zone)
            if first.utcoffset() == last.utcoffset() and first.date() == last.date():
                day = self.by_hour[key] = first.date().isoformat()
                return day
            self._mixed.add(key)
        instant = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        return instant.astimezone(self.zone).date().isoformat()


# Instants and dates are read as the text the database prints (the same ISO forms on SQLite
# and PostgreSQL), so no row pays for building datetime objects it only prints again.
_CSV_COLUMNS = (
    Action.id, Action.group_id, Action.title, Action.status,
    cast(Action.created_at, String), cast(Action.due, String), cast(Action.closed_at, String),
    Action.decision_id,
)


def _assignees_of(ctx: Ctx, q: ActionQuery, params: dict[str, Any]
                  ) -> tuple[array[int], dict[int, list[int]]]:
    """The assignees of every matching action, in the order they were assigned: the first
    person id per action id in a flat array, any further ones in a dict.

    One scan of the assignments instead of a lookup per action or per batch; the array
    costs four bytes per action id, so the export stays flat in memory.
    """
    stmt = select(ActionAssignee.action_id, ActionAssignee.person_id)
    source, where = matching(q)
    if where or source is not Action.__table__:
        stmt = stmt.join(source, Action.id == ActionAssignee.action_id).where(*where)
    top = ctx.session.scalar(select(func.max(Action.id))) or 0
    first = array("i", bytes(4 * (top + 1)))
    more: dict[int, list[int]] = {}
    # yield_per on the statement: on the connection it would stay set for the rest of the
    # transaction, and PostgreSQL cannot run a later INSERT through a server-side cursor
    result = ctx.session.connection().execute(
        stmt.order_by(ActionAssignee.id).execution_options(yield_per=CSV_BATCH * 10), params)
    for batch in result.partitions():
        for aid, pid in batch:
            if aid > top:
                continue  # added since the export began: not in its snapshot of ids
            if first[aid]:
                more.setdefault(aid, []).append(pid)
            else:
                first[aid] = pid
    return first, more


def csv_batches(ctx: Ctx, q: ActionQuery) -> Iterator[list[tuple[str, ...]]]:
    """Every matching action as CSV rows, ``CSV_BATCH`` rows at a time.

    The export is a loop over every action in the store, so each row costs a few lookups:
    one ordered select of the actions (plain rows, instants as text), the assignees read
    once beforehand, names and projects from small dicts, local dates by UTC hour and days
    overdue by due date from caches.
    """
    params = query_params(q, ctx.today)
    session = ctx.session
    names = {pid: name for pid, name in session.execute(select(Person.id, Person.display_name))}
    projects = _all_projects(ctx)
    first, more = _assignees_of(ctx, q, params)
    today = ctx.today
    today_text = today.isoformat()
    local = LocalDates(ctx.settings.zone)
    by_hour = local.by_hour
    late_by_due: dict[str, str] = {}
    slugs: dict[int | None, str] = {
        gid: slug for gid, slug in session.execute(select(Group.id, Group.slug))}
    # (group, person) -> (slug, project, name): most actions have one assignee
    one: dict[tuple[int | None, int], tuple[str, str, str]] = {}
    source, where = matching(q)
    stmt = ordered(select(*_CSV_COLUMNS).select_from(source).where(*where), q.status)
    result = session.connection().execute(stmt.execution_options(yield_per=CSV_BATCH), params)
    top = len(first) - 1
    for batch in result.partitions():
        rows: list[tuple[str, ...]] = []
        append = rows.append
        for aid, gid, title, status, created, due, closed, decision in batch:
            pid = first[aid] if aid <= top else 0
            if aid in more:
                who = [pid, *more[aid]]
                projs = dict.fromkeys(projects[(gid, p)] for p in who if (gid, p) in projects)
                cells = (slugs.get(gid, ""), "; ".join(projs),
                         "; ".join(names.get(p, "") for p in who))
            else:
                cells = one.get((gid, pid)) or one.setdefault((gid, pid), (
                    slugs.get(gid, ""), projects.get((gid, pid), ""), names.get(pid, "")))
            late = ""
            if due is None:
                due = ""
            elif status == "open" and due < today_text:
                late = late_by_due.get(due) or late_by_due.setdefault(
                    due, str((today - dt.date.fromisoformat(due)).days))
            append((
                f"A-{aid}", cells[0], cells[1], cells[2], title, status,
                by_hour.get(created[:13]) or local(created), due,
                (by_hour.get(closed[:13]) or local(closed)) if status == "done" and closed
                else "",
                late, f"D-{decision}" if decision else "",
            ))
        yield rows


def csv_rows(ctx: Ctx, q: ActionQuery) -> Iterator[tuple[str, ...]]:
    """Every matching action as a CSV row (the rows of :func:`csv_batches`)."""
    for batch in csv_batches(ctx, q):
        yield from batch


# A spreadsheet reads a cell that starts with one of these as a formula (or, for tab and CR,
# strips them and then may): OWASP's list for CSV injection.
_FORMULA_START = frozenset("=+-@\t\r")
# The same test over a joined row: a cell starts at the line's start or after a comma, so
# no match here and a safe first character mean no cell needs neutralising (a match may be
# a false alarm inside a quoted cell; the row is then checked cell by cell). A literal comma
# first lets the regex engine skip to each comma: several times faster than ``(?:^|,)``.
_FORMULA_AFTER_COMMA = re.compile(r",[=+\-@\t\r]")


def csv_cell(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula.

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` (what
    OWASP recommends), so ``=HYPERLINK(...)`` in a title or a name is shown, not followed.
    Only the first character is looked at: the export calls this on every cell.
    """
    return "'" + value if value[:1] in _FORMULA_START else value


def write_csv(
    batches: Iterable[list[tuple[str, ...]]], out: TextIO, header: Sequence[str] = CSV_HEADER
) -> int:
    """The header and every row, one ``out.write`` per batch; returns the number of rows.
    ``header`` is the actions export's unless another export (decisions, meetings) says.

    Every cell goes through :func:`csv_cell`. Byte for byte what ``csv.writer`` writes
    (minimal quoting, CRLF) for those cells, which it still does for a row holding a comma,
    quote or line break; the rest, nearly every row, are joined directly, several times
    faster than the csv module's per-field work.
    """
    quoting = io.StringIO()
    writer = csv.writer(quoting, lineterminator="\r\n")
    plain = len(header) - 1  # commas in a row that needs no quoting
    out.write(",".join(map(csv_cell, header)) + "\r\n")
    risky = _FORMULA_AFTER_COMMA.search
    danger = _FORMULA_START
    n = 0
    for batch in batches:
        lines = []
        for row in batch:
            line = ",".join(row)
            if line[:1] in danger or risky(line):
                row = tuple(map(csv_cell, row))
                line = ",".join(row)
            if line.count(",") != plain or '"' in line or "\n" in line or "\r" in line:
                quoting.seek(0)
                quoting.truncate()
                writer.writerow(row)
                line = quoting.getvalue()[:-2]
            lines.append(line)
        if lines:
            out.write("\r\n".join(lines) + "\r\n")
        n += len(batch)
    return n


def actions_csv(ctx: Ctx, q: ActionQuery) -> tuple[bytes, int]:
    buf = io.StringIO()
    n = write_csv(csv_batches(ctx, q), buf)
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


_PAGE_COLUMNS = (Action.id, Action.group_id, Action.title, Action.status, Action.due)
PageRow = tuple[int, int | None, str, str, dt.date | None]
_BY_IDS = select(*_PAGE_COLUMNS).where(Action.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _page_stmts(status: str, group: bool, person: bool, project: bool) -> tuple[
    Select[*tuple[Any, ...]], Select[*tuple[Any, ...]] | None, Select[int] | None
]:
    """The statements of a table page: (first, then, count).

    With no person or project, ``first`` is the dated actions and ``then`` the undated,
    each read in the order of an index on ``(status, due)`` or ``(group_id, status, due)``
    and stopped after a page, and ``count`` an index-only count. A person's or a project's
    actions are few: ``first`` sorts their ids and counts them in the same pass (a
    window), ``then`` reads the page's rows by id, and there is no ``count``.
    """
    source, where = _matching(status, group, person, project)
    if person or project:
        page = ordered(
            select(Action.id, func.count().over()).select_from(source).where(*where),
            status,
        ).limit(TABLE_CAP)
        return page, _BY_IDS, None
    dated = (
        select(*_PAGE_COLUMNS).where(*where, Action.due.is_not(None))
        .order_by(Action.due, Action.id).limit(TABLE_CAP + 1)
    )
    undated = None
    if status != "overdue":
        undated = (
            select(*_PAGE_COLUMNS).where(*where, Action.due.is_(None))
            .order_by(Action.id).limit(bindparam("room"))
        )
    return dated, undated, select(func.count()).select_from(Action).where(*where)


def page_rows(ctx: Ctx, q: ActionQuery, total: int | None = None
              ) -> tuple[list[PageRow], int]:
    """Up to ``TABLE_CAP`` matching actions, oldest due first, and how many match in all.

    ``total``, when the caller already knows it (the dashboard has the per-group counts),
    saves the count; otherwise it runs only when there are more than a page.
    """
    first, then, count = _page_stmts(
        q.status, q.group is not None, q.person is not None, q.project is not None
    )
    params = query_params(q, ctx.today)
    session = ctx.session
    if count is None:
        # ids and the count in one pass over narrow rows, then the page's own columns
        found = list(session.execute(first, params))
        if not found or then is None:
            return [], 0
        by_id = {r[0]: tuple(r) for r in session.execute(then, {"ids": [r[0] for r in found]})}
        return [by_id[r[0]] for r in found if r[0] in by_id], int(found[0][1])
    rows: list[PageRow] = [tuple(r) for r in session.execute(first, params)]
    if then is not None and len(rows) <= TABLE_CAP:
        params["room"] = TABLE_CAP + 1 - len(rows)
        rows += [tuple(r) for r in session.execute(then, params)]
    if len(rows) <= TABLE_CAP:
        return rows, len(rows)
    if total is None:
        total = int(session.scalar(count, params) or 0)
    return rows[:TABLE_CAP], total


def actions_table(ctx: Ctx, q: ActionQuery, total: int | None = None
                  ) -> tuple[Table | None, int]:
    """The first ``TABLE_CAP`` matching actions as a table, and how many match in all.

    Plain Core rows, not ORM objects: a page (:func:`page_rows`), the slugs of its groups
    and its assignees with identities and projects, one select each.
    """
    rows, total = page_rows(ctx, q, total)
    if not rows:
        return None, total
    group_ids = {r[1] for r in rows if r[1] is not None}
    slugs = {gid: slug for gid, slug in ctx.session.execute(
        select(Group.id, Group.slug).where(Group.id.in_(group_ids)))}
    people = _assignees_with_projects(ctx, [r[0] for r in rows])
    today = ctx.today
    out = []
    for aid, group_id, raw_title, status, due in rows:
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
                (slugs.get(group_id, "-") if group_id is not None else "-",),
                (", ".join(projs) or "-",),
                _cell(who),
                (title if len(title) <= 60 else title[:59] + "…",),
                (Day(due),) if due else ("-",),
                # TRANSLATORS: an action's status: overdue by so many days ("overdue 3d")
                (status if late is None else _("overdue {days}d", days=late),),
            )
        )
    # TRANSLATORS: table headers of the secretariat's list of actions
    headers = (_("id"), _("group"), _("project"), _("assignees"), _("title"), _("due"),
               _("status"))
    return Table(headers, tuple(out)), total


def month_bounds(ctx: Ctx) -> tuple[dt.datetime, dt.datetime]:
    """The current local month as naive-UTC instants [start, end)."""
    today = ctx.today
    first = today.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    zone = ctx.settings.zone

    def utc(day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
        return local.astimezone(dt.UTC)

    return utc(first), utc(nxt)


def _grouped(ctx: Ctx, stmt: Select[Any, Any]) -> dict[int | None, int]:
    return {gid: int(n) for gid, n in ctx.session.execute(stmt)}


def summary(ctx: Ctx) -> Reply:
    """Per group: open, overdue, done this month, next meeting, unacknowledged decisions;
    ``secretariat summary`` and the BoC's scheduled summary both answer with it."""
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
        .join(Decision, Decision.id == DecisionTarget.decision_id)
        .where(DecisionTarget.acked_at.is_(None), Decision.revoked_at.is_(None))
        .group_by(DecisionTarget.group_id),
    )
    groups = all_groups(ctx.session)
    reply = Reply(secret=True)  # staff-only figures: a Matrix room gets a pointer
    month = Day(ctx.today, form="month")
    reply = reply.say(_("Summary, {date}", date=ctx.today.isoformat()), style="heading")
    if not groups:
        return reply.say(_("No groups yet."))
    rows: list[tuple[tuple[Span, ...], ...]] = []
    keys: list[int | None] = [g.id for g in groups]
    if any(None in d for d in (open_n, overdue_n, done_n)):
        keys.append(None)
    by_id = {g.id: g for g in groups}
    for key in keys:
        meeting: tuple[Span, ...] = ("-",)
        if key is not None:
            occ = next_meeting(ctx, by_id[key])
            # TRANSLATORS: a group's next meeting, when it has none
            meeting = (When(occ.start, occ.zone),) if occ else (_("none scheduled"),)
        rows.append(
            (
                # TRANSLATORS: the actions of no group, in the summary's "group" column
                (by_id[key].slug if key is not None else _("(no group)"),),
                (str(open_n.get(key, 0)),),
                (str(overdue_n.get(key, 0)),),
                (str(done_n.get(key, 0)),),
                meeting,
                (str(unacked.get(key, 0)),) if key is not None else ("-",),
            )
        )
    rows.append(
        (
            # TRANSLATORS: the last row of the summary, the sums of the columns
            (_("total"),),
            (str(sum(open_n.values())),),
            (str(sum(overdue_n.values())),),
            (str(sum(done_n.values())),),
            ("",),
            (str(sum(unacked.values())),),
        )
    )
    headers = (
        # TRANSLATORS: table headers of the summary: per group, how many actions are open,
        # overdue, done this month; the next meeting; how many decisions are unacknowledged
        _("group"), _("open"), _("overdue"), _("done in {month}", month=month),
        _("next meeting"), _("unacknowledged"),
    )
    reply = reply.add(Table(headers, tuple(rows)))
    return reply


def compose_boc_summary(session: Session, payload: dict[str, Any],
                        settings: CoreSettings) -> list[Block] | None:
    """The secretariat summary, exactly as ``secretariat summary`` answers it, composed as
    the bot itself (its own person row), not as a command with a borrowed admin."""
    start = dt.datetime.fromisoformat(payload["start"])
    reply = summary(system_context(session, settings))
    return [Text((_("Before the Board meets {date}: where the groups stand",
                    date=When(start, payload["zone"])),), "heading"), *reply.blocks]


SECRETARIAT_AND_ADMIN = STAFF.said(_("secretariat, admin"))
DELIVERY_FILTERS = ("problems", "pending", "failed", "missed", "sent", "all")


def _delivery_filter(_ctx: Ctx, args: Args) -> str:
    which = args.accept(*DELIVERY_FILTERS)
    if which is None and not args.empty():
        raise UserError(_("Unknown filter {filter}.", filter=repr(args.peek())))
    return which or "problems"


QUERY = p.custom("[open|overdue|all] [group <group>] [<@user>] [project <name...>] [csv]",
                 parse_action_query)
def _retry_which(_ctx: Ctx, args: Args) -> int | str:
    raw = args.next("<id>|failed")
    if raw.lower() == "failed":
        return "failed"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise UserError(_("Expected an id from secretariat deliveries, or failed, not "
                          "{typed}.", typed=repr(raw)))
    return int(raw)


RETRY = p.custom("<id>|failed", _retry_which, rest=False)
FILTER = p.custom(f"[{'|'.join(DELIVERY_FILTERS)}]", _delivery_filter, rest=False)


def register(reg: Registry) -> None:
    reg.noun("secretariat",
             _("cross-group views for the secretariat: actions, deliveries, reports"),
             common=("actions", "summary", "report"))
    reg.kinds.kind("boc_summary", compose_boc_summary)

    @reg.command(
        "secretariat", "actions", p.spec(QUERY),
        _("actions across all groups, oldest due first; csv returns every row as a file"),
        SECRETARIAT_AND_ADMIN,
    )
    def secretariat_actions(ctx: Ctx, v: Values) -> Reply:
        q = v[QUERY]
        reply = Reply(secret=True)  # every group's actions, the restricted ones' too
        if q.csv:
            content, n = actions_csv(ctx, q)
            name = f"actions-{ctx.today.isoformat()}.csv"
            # TRANSLATORS: how many actions ("open actions in repl", ...) a file holds
            reply = reply.say(_n("{n} {actions} in {file}.", "{n} {actions} in {file}.", n,
                                 actions=q.describe(), file=name))
            reply = reply.add(File(name, "text/csv", content, title=q.describe(capital=True)))
            return reply
        table, total = actions_table(ctx, q)
        # TRANSLATORS: a heading: which actions ("Open actions in repl", ...), how many
        reply = reply.say(_("{actions}: {total}", actions=q.describe(capital=True),
                            total=total), style="heading")
        if table is None:
            # TRANSLATORS: no actions match
            return reply.say(_("None."))
        reply = reply.add(table)
        if total > len(table.rows):
            more = total - len(table.rows)
            reply = reply.say(_n("and {n} more — add csv for all.",
                                 "and {n} more — add csv for all.", more))
        return reply

    @reg.command(
        "secretariat", "summary", p.spec(),
        _("per group: open, overdue, done this month, next meeting, unacknowledged decisions"),
        SECRETARIAT_AND_ADMIN,
    )
    def secretariat_summary(ctx: Ctx, _v: Values) -> Reply:
        return summary(ctx)


    @reg.command(
        "secretariat", "deliveries", p.spec(FILTER),
        _("scheduled messages: what is waiting, what failed or was missed, and why"),
        SECRETARIAT_AND_ADMIN,
    )
    def secretariat_deliveries(ctx: Ctx, v: Values) -> Reply:
        which = v[FILTER]
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
        reply = Reply(secret=True)
        # scheduled messages and commands' posts (handlers.posts) alike: both are outbox rows
        reply = reply.say(_(
            "Outgoing messages: {pending} pending, {sending} sending, {sent} sent, "
            "{failed} failed, {missed} missed, {skipped} skipped",
            **{s: counts.get(s, 0)
               for s in ("pending", "sending", "sent", "failed", "missed", "skipped")},
        ), style="heading")
        if not rows:
            if which == "problems":
                return reply.say(_("No failed or missed deliveries."))
            if which == "all":
                return reply.say(_("No deliveries."))
            # TRANSLATORS: {filter} is the filter's word: pending, failed, missed or sent
            return reply.say(_("No {filter} deliveries.", filter=which))
        table_rows = tuple(
            (
                (str(r.id),), (KIND_LABELS.get(r.kind, r.kind.replace("_", " ")),),
                (f"{r.platform}:{r.channel_id}",),
                (When(r.due_at, ctx.settings.timezone),),
                (r.status,), (str(r.attempts),), ((r.last_error or "")[:80],),
            )
            for r in rows
        )
        # TRANSLATORS: table headers of the scheduled messages: what kind of message, the
        # channel it goes to, when, its status, how many times it was tried, the last error
        reply = reply.add(Table((_("id"), _("what"), _("where"), _("due"), _("status"),
                                 _("tries"), _("last error")), table_rows))
        return reply

    @reg.command(
        "secretariat", "retry", p.spec(RETRY),
        _("send failed messages again (one by its id from secretariat deliveries, or all)"),
        SECRETARIAT_AND_ADMIN,
    )
    def secretariat_retry(ctx: Ctx, v: Values) -> Reply:
        which = v[RETRY]
        stmt = select(Outbox).where(Outbox.status == "failed", Outbox.kind != "slot")
        if which != "failed":
            stmt = stmt.where(Outbox.id == which)
        rows = list(ctx.session.scalars(stmt.order_by(Outbox.id).limit(DELIVERIES_CAP)))
        if not rows:
            raise UserError(
                _("No failed message to send again.") if which == "failed"
                else _("No failed message to send again has the id {id} (see secretariat "
                       "deliveries failed).", id=which), show_usage=False)
        for row in rows:
            # due now, as a new row would be: the next tick (or this command's adapter, at
            # once) sends it; its last error stays until it is sent
            row.status, row.due_at, row.attempts = "pending", ctx.now, 0
            row.claimed_until, row.claim_token = None, None
        ctx.audit("retry", "outbox", rows[0].id if len(rows) == 1 else None,
                  count=len(rows))
        reply = Reply(secret=True).say(
            _n("{n} failed message will be sent again now.",
               "{n} failed messages will be sent again now.", len(rows)))
        return reply.but(queued=[r.key for r in rows])
