"""``action``: action items, their assignees, due dates, notes and life cycle.

An action belongs to a group (the one named, or the channel's) and to one or more
assignees. Every change writes an ``ActionEvent`` (the history ``action show`` prints) and an
audit row. The queries here (:func:`open_actions`, :func:`count_open_actions`) are shared
with the agenda, the secretariat and delivery, and are shaped for the indexes on
``actions(status, due)``, ``actions(group_id, status, due)`` and
``action_assignees(person_id, action_id)``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    FromClause,
    Select,
    bindparam,
    case,
    func,
    insert,
    join,
    literal,
    select,
)
from sqlalchemy import Table as SqlTable
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload
from sqlalchemy.sql.base import ExecutableOption
from sqlalchemy.sql.elements import ColumnElement

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import not_past, parse_date, take_due_tail
from handlers.core.directory import (
    find_group,
    mention,
    take_group,
)
from handlers.core.grammar import Args, Refused, UserError, check_length, parse_id
from handlers.core.messages import (
    Button,
    Buttons,
    Day,
    Mention,
    Reply,
    Span,
    Table,
    When,
    at_name,
)
from handlers.core.params import Values
from handlers.core.people import is_person, resolve_people, resolve_person
from handlers.core.roles import (
    ANYONE,
    MEMBERS,
    SECRETARIAT,
    Guard,
    Policy,
    is_admin,
    is_chair,
    require_member,
    staff,
)
from handlers.core.router import Registry
from storage.models import (
    TEXT_MAX,
    TITLE_MAX,
    Action,
    ActionAssignee,
    ActionEvent,
    ActionNote,
    Group,
    Identity,
    Membership,
    Person,
)
from storage.sql import folded, undated_last

LIST_LIMIT = 50
DONE_BUTTONS = 20  # Done buttons under a list (Slack: 25 elements per actions block)
OPEN = "open"
DONE = "done"
CANCELLED = "cancelled"


# --- labels and loading --------------------------------------------------------------------


def action_label(action: Action | int) -> str:
    """``A-12``: how an action id is shown everywhere."""
    return f"A-{action if isinstance(action, int) else action.id}"


def _list_options() -> tuple[ExecutableOption, ...]:
    """Eager loads for rendering a list: a fixed number of queries, whatever the row count."""
    return (
        joinedload(Action.group),
        selectinload(Action.assignees)
        .joinedload(ActionAssignee.person, innerjoin=True)
        .selectinload(Person.identities),
    )


def get_action(session: Session, raw: str) -> Action:
    """The action an ``<id>`` argument names; UserError if it is malformed or unknown."""
    action_id = parse_id(raw, "A", "an action")
    action = session.get(Action, action_id)
    if action is None:
        raise UserError(f"No action {action_label(action_id)}.")
    return action


# --- shared queries ------------------------------------------------------------------------
#
# The statements below run on every list, so each shape is built once (functools.cache) with
# bound parameters and reused: constructing a select costs more than SQLite takes to run it.


def _params(
    *, group_id: int | None, person_id: int | None, overdue_before: dt.date | None
) -> dict[str, Any]:
    return {"group_id": group_id, "person_id": person_id, "before": overdue_before}


def _filters(*, group: bool, person: bool, overdue: bool) -> list[ColumnElement[bool]]:
    """The WHERE of a shape, with parameters ``group_id``, ``person_id`` and ``before``."""
    if not person:
        conds: list[ColumnElement[bool]] = [Action.status == OPEN]
    else:
        # One person holds few actions: start from action_assignees(person_id, ...) and look
        # the actions up by id. Without statistics SQLite would rather walk every open action
        # in due order along (status, due) and probe each; ``status || ''`` keeps it off that
        # index, so the plan is the same on a fresh store as on an analysed one.
        # (action_id, person_id) is unique, so the join cannot repeat an action.
        conds = [
            (Action.status + "") == OPEN,
            ActionAssignee.person_id == bindparam("person_id"),
        ]
    if group:
        conds.append(Action.group_id == bindparam("group_id"))
    if overdue:
        conds.append(Action.due < bindparam("before"))
    return conds


def _from(person: bool, with_group: bool) -> FromClause:
    """``actions``, after the assignees when scoped to a person (SQLite keeps that join
    order and walks their index), with the group outer-joined for its slug if asked."""
    frm: FromClause = Action.__table__
    if person:
        frm = join(Action, ActionAssignee, ActionAssignee.action_id == Action.id)
    if with_group:
        frm = frm.outerjoin(Group.__table__, Group.id == Action.group_id)
    return frm


@functools.cache
def _orm_stmts(group: bool, person: bool, overdue: bool) -> tuple[Select[Action], ...]:
    conds = _filters(group=group, person=person, overdue=overdue)
    base = select(Action).select_from(_from(person, False)).where(*conds)
    dated = base.where(Action.due.is_not(None)).order_by(Action.due, Action.id)
    undated = base.where(Action.due.is_(None)).order_by(Action.id)
    options = _list_options()
    return (
        dated.options(*options),
        dated.options(*options).limit(bindparam("limit")),
        undated.options(*options),
        undated.options(*options).limit(bindparam("limit")),
    )


def open_actions(
    session: Session,
    *,
    group_id: int | None = None,
    person_id: int | None = None,
    overdue_before: dt.date | None = None,
    limit: int | None = None,
) -> list[Action]:
    """Open actions, oldest due first and those without a due date last (then by id).

    Dated and undated rows are read by two queries, each ordered along an index, rather
    than one ``NULLS LAST`` sort that SQLite cannot take from the index. ``overdue_before``
    keeps only actions due before that day. Group, assignees and their identities are
    loaded eagerly.
    """
    dated, dated_n, undated, undated_n = _orm_stmts(
        group_id is not None, person_id is not None, overdue_before is not None
    )
    params = _params(group_id=group_id, person_id=person_id, overdue_before=overdue_before)
    if limit is None:
        rows = list(session.scalars(dated, params))
    else:
        rows = list(session.scalars(dated_n, {**params, "limit": limit}))
    if overdue_before is not None or (limit is not None and len(rows) >= limit):
        return rows
    if limit is None:
        rows.extend(session.scalars(undated, params))
    else:
        rows.extend(session.scalars(undated_n, {**params, "limit": limit - len(rows)}))
    return rows


@functools.cache
def _count_stmt(group: bool, person: bool, overdue: bool) -> Select[int]:
    conds = _filters(group=group, person=person, overdue=overdue)
    return select(func.count()).select_from(_from(person, False)).where(*conds)


def count_open_actions(
    session: Session,
    *,
    group_id: int | None = None,
    person_id: int | None = None,
    overdue_before: dt.date | None = None,
) -> int:
    """How many actions :func:`open_actions` would return with no limit."""
    stmt = _count_stmt(group_id is not None, person_id is not None, overdue_before is not None)
    params = _params(group_id=group_id, person_id=person_id, overdue_before=overdue_before)
    return session.scalar(stmt, params) or 0


ListRow = tuple[int, str, str, dt.date | None, str | None]
"""(id, title, status, due, group slug): what a list table shows of one action."""


@functools.cache
def _list_stmts(group: bool, person: bool, overdue: bool) -> tuple[Select[Any], ...]:
    """(all in order) for a person; (dated, undated) otherwise. Parameter ``limit``.

    Each reads a page of actions (LIMIT applies to actions) joined to their assignees and
    identities, so a list is one round trip.
    """
    conds = _filters(group=group, person=person, overdue=overdue)
    cols = (Action.id, Action.title, Action.status, Action.due, Group.slug)
    base = select(*cols).select_from(_from(person, True)).where(*conds)
    limit: BindParameter[Any] = bindparam("limit")
    if person:
        pages = [base.order_by(undated_last(Action.due), Action.id).limit(limit)]
    else:
        pages = [
            base.where(Action.due.is_not(None)).order_by(Action.due, Action.id).limit(limit),
            base.where(Action.due.is_(None)).order_by(Action.id).limit(limit),
        ]
    out = []
    for page in pages:
        sub = page.subquery("page")
        frm = (
            sub.outerjoin(ActionAssignee, ActionAssignee.action_id == sub.c.id)
            .outerjoin(Person, Person.id == ActionAssignee.person_id)
            .outerjoin(Identity, Identity.person_id == Person.id)
        )
        out.append(
            select(
                sub.c.id, sub.c.title, sub.c.status, sub.c.due, sub.c.slug,
                Person.id, Person.display_name, Identity.platform, Identity.external_id,
            )
            .select_from(frm)
            # the page's order (a dated page has no NULL due, an undated one only NULLs),
            # then each action's assignees and identities in the order they were added
            .order_by(
                sub.c.due.is_(None), sub.c.due, sub.c.id, ActionAssignee.id, Identity.id
            )
        )
    return tuple(out)


def _collect(rows: Any, out: list[tuple[ListRow, list[Mention]]]) -> None:
    """Fold (action..., person, identity) rows, ordered by action, into (action, mentions)."""
    last: int | None = None
    people: dict[int, tuple[str, list[tuple[str, str]]]] = {}

    def close() -> None:
        if last is not None:
            out[-1][1].extend(Mention(pid, name, tuple(ids)) for pid, (name, ids) in people.items())

    for aid, title, status, due, slug, pid, name, platform, external_id in rows:
        if aid != last:
            close()
            last, people = aid, {}
            out.append(((aid, title, status, due, slug), []))
        if pid is None:
            continue
        entry = people.get(pid)
        if entry is None:
            entry = people[pid] = (name, [])
        if platform is not None:
            entry[1].append((platform, external_id))
    close()


def list_page(
    session: Session,
    *,
    group_id: int | None = None,
    person_id: int | None = None,
    overdue_before: dt.date | None = None,
    limit: int,
) -> list[tuple[ListRow, list[Mention]]]:
    """The actions :func:`open_actions` would return, as plain rows with their assignees as
    mentions, for rendering a list.

    Building ORM objects (with their assignees and identities) cost several times the SQL,
    so the list commands read only the columns they show. One person's actions are few,
    so they come in one query sorted with the undated last; a group's or everyone's are
    read along the index as in :func:`open_actions`.
    """
    stmts = _list_stmts(group_id is not None, person_id is not None, overdue_before is not None)
    params = _params(group_id=group_id, person_id=person_id, overdue_before=overdue_before)
    out: list[tuple[ListRow, list[Mention]]] = []
    _collect(session.execute(stmts[0], {**params, "limit": limit}), out)
    if len(stmts) == 1 or overdue_before is not None or len(out) >= limit:
        return out
    _collect(session.execute(stmts[1], {**params, "limit": limit - len(out)}), out)
    return out


def create_action(
    ctx: Ctx,
    *,
    group: Group,
    title: str,
    assignees: Sequence[Person],
    due: dt.date | None = None,
    decision_id: int | None = None,
    meeting_series_id: int | None = None,
    meeting_date: dt.date | None = None,
) -> Action:
    """Write a new open action with its assignees, its ``created`` event and an audit row.

    Validation (title length, due date not in the past, permissions) is the caller's.
    """
    action = Action(
        group=group,
        title=title,
        status=OPEN,
        due=due,
        author_id=ctx.actor.id,
        decision_id=decision_id,
        meeting_series_id=meeting_series_id,
        meeting_date=meeting_date,
        created_at=ctx.now,
    )
    for person in _unique(assignees):
        action.assignees.append(ActionAssignee(person=person))
    ctx.session.add(action)
    ctx.session.flush()
    _event(ctx, action, "created", title)
    ctx.audit(
        "create", "action", action.id,
        title=title, group=group.slug, due=due.isoformat() if due else None,
        assignees=[p.id for p in _unique(assignees)], decision=decision_id,
    )
    return action


def set_assignees(ctx: Ctx, action: Action, people: Sequence[Person], **audit: Any) -> None:
    """Make ``people`` the action's assignees (in that order), with its ``assigned`` event
    and an audit row (``audit`` adds to its detail)."""
    people = _unique(people)
    keep = {p.id for p in people}
    for link in list(action.assignees):
        if link.person_id not in keep:
            action.assignees.remove(link)
    have = {link.person_id for link in action.assignees}
    ctx.session.flush()
    for person in people:
        if person.id not in have:
            action.assignees.append(ActionAssignee(person=person))
    ctx.session.flush()
    names = ", ".join(at_name(p.display_name) for p in people)
    _event(ctx, action, "assigned", names)
    ctx.audit("assign", "action", action.id, assignees=[p.id for p in people], **audit)


OPEN_WORK_SHOWN = 5  # ids named when someone leaves a group with open actions


def open_work(ctx: Ctx, group: Group, person: Person) -> tuple[int, list[str]]:
    """How many open actions of ``group`` ``person`` holds, and the labels of the first
    few (oldest due first): what stays open when they leave the group."""
    total = count_open_actions(ctx.session, group_id=group.id, person_id=person.id)
    if not total:
        return 0, []
    rows = list_page(ctx.session, group_id=group.id, person_id=person.id,
                     limit=OPEN_WORK_SHOWN)
    return total, [action_label(row[0]) for row, _who in rows]


def hand_over(ctx: Ctx, group: Group, person: Person, to: Person, why: str) -> list[Action]:
    """Give every open action of ``group`` that ``person`` holds to ``to`` instead (other
    assignees stay); each gets its ``assigned`` event and audit row."""
    moved = open_actions(ctx.session, group_id=group.id, person_id=person.id)
    for action in moved:
        people = [a.person for a in action.assignees if a.person_id != person.id]
        set_assignees(ctx, action, [*people, to], via=why)
    return moved


def labels_line(total: int, labels: Sequence[str]) -> str:
    """``A-3, A-4 and 18 more``: the first few ids of ``total``."""
    more = total - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


# --- rendering -----------------------------------------------------------------------------


def _unique(people: Sequence[Person]) -> list[Person]:
    seen: set[int] = set()
    out: list[Person] = []
    for person in people:
        if person.id not in seen:
            seen.add(person.id)
            out.append(person)
    return out


def people_spans(people: Sequence[Person], empty: str = "-") -> tuple[Span, ...]:
    """Mentions separated by commas."""
    return mention_spans([mention(p) for p in people], empty)


def mention_spans(mentions: Sequence[Mention], empty: str = "-") -> tuple[Span, ...]:
    spans: list[Span] = []
    for i, m in enumerate(mentions):
        if i:
            spans.append(", ")
        spans.append(m)
    return tuple(spans) if spans else (empty,)


def assignees_of(action: Action) -> list[Person]:
    return [a.person for a in action.assignees]


def status_marker(action: Action, today: dt.date) -> str:
    """``open``, ``due today``, ``overdue``, ``done`` or ``cancelled``."""
    return marker(action.status, action.due, today)


def marker(status: str, due: dt.date | None, today: dt.date) -> str:
    if status != OPEN:
        return status
    if due is not None and due < today:
        return "overdue"
    if due == today:
        return "due today"
    return OPEN


def action_row(action: Action, today: dt.date) -> tuple[tuple[Span, ...], ...]:
    """One row of an action table: id, title, assignees, group, due, status."""
    return (
        (action_label(action),),
        (action.title,),
        people_spans(assignees_of(action)),
        (action.group.slug if action.group else "-",),
        (Day(action.due),) if action.due else ("-",),
        (status_marker(action, today),),
    )


def list_row(
    row: ListRow, who: Sequence[Mention], today: dt.date
) -> tuple[tuple[Span, ...], ...]:
    """:func:`action_row` for a row of :func:`list_page` and its assignees."""
    aid, title, status, due, slug = row
    return (
        (action_label(aid),),
        (title,),
        mention_spans(who),
        (slug or "-",),
        (Day(due),) if due else ("-",),
        (marker(status, due, today),),
    )


ACTION_HEADERS = ("id", "title", "assignees", "group", "due", "status")

_CHAIRS_AND_SECRETARIAT = (
    select(Group.slug, Membership.role)
    .join(Membership, Membership.group_id == Group.id)
    .where(
        Membership.person_id == bindparam("person_id"),
        (Membership.role == "chair") | (Group.slug == SECRETARIAT),
    )
)


def done_buttons(
    ctx: Ctx, rows: Sequence[tuple[ListRow, Sequence[Mention]]], cap: int = DONE_BUTTONS
) -> Buttons | None:
    """A Done button for each open action listed that the reader may close (what
    :func:`can_change` allows), the first ``cap`` of them.

    Rows assigned to the reader need no query; otherwise one select reads the groups the
    reader chairs and whether they are in the secretariat, so a long list stays one
    round trip more at most.
    """
    chaired: set[str] | None = None
    everything = False
    out: list[Button] = []
    for (aid, _title, status, _due, slug), who in rows:
        if len(out) >= cap:
            break
        if status != OPEN:
            continue
        if not any(m.person_id == ctx.actor.id for m in who):
            if chaired is None:
                everything = is_admin(ctx)
                chaired = set()
                if not everything:
                    for g, role in ctx.session.execute(
                        _CHAIRS_AND_SECRETARIAT, {"person_id": ctx.actor.id}
                    ):
                        everything = everything or g == SECRETARIAT
                        if role == "chair":
                            chaired.add(g)
            if not everything and slug not in chaired:
                continue
        label = action_label(aid)
        out.append(Button(f"Done {label}", f"action done {label}", "primary"))
    return Buttons(tuple(out)) if out else None


def _when(ctx: Ctx, at: dt.datetime) -> When:
    return When(at, ctx.settings.timezone)


def _summary(action: Action) -> tuple[Span, ...]:
    """``A-12: title (due Fri 04 Dec 2026) for @alice in repl``."""
    spans: list[Span] = [f"{action_label(action)}: {action.title}"]
    if action.due:
        spans += [" (due ", Day(action.due), ")"]
    spans += [" for ", *people_spans(assignees_of(action), "nobody")]
    if action.group:
        spans.append(f" in {action.group.slug}")
    return tuple(spans)


# --- permissions and history ---------------------------------------------------------------


def can_change(ctx: Ctx, action: Action) -> bool:
    """Assignees, chairs of the action's group, the secretariat and admins."""
    if any(a.person_id == ctx.actor.id for a in action.assignees):
        return True
    if action.group is not None and is_chair(ctx, action.group):
        return True
    return staff(ctx)


def require_change(ctx: Ctx, action: Action, what: str) -> None:
    if not can_change(ctx, action):
        group = action.group.slug if action.group else "its group"
        raise Refused(f"an assignee, a chair of {group}, the secretariat or an admin", what)


_EVENT_INSERT = insert(cast(SqlTable, ActionEvent.__table__))


def _event(ctx: Ctx, action: Action, kind: str, detail: str = "") -> None:
    """A history line, inserted at once (no command reads an action's history after
    writing to it, and the unit of work cost more than the insert)."""
    ctx.session.execute(_EVENT_INSERT, {
        "action_id": action.id, "actor_id": ctx.actor.id, "kind": kind,
        "detail": detail[:TEXT_MAX], "at": ctx.now})


def _event_text(event: ActionEvent) -> tuple[Span, ...]:
    kind, detail = event.kind, event.detail
    if kind == "assigned":
        return (f"assigned to {detail}",)
    if kind == "due":
        if not detail:
            return ("due date cleared",)
        try:
            return ("due date set to ", Day(dt.date.fromisoformat(detail)))
        except ValueError:
            return (f"due date set to {detail}",)
    if kind == "note":
        return ("added a note",)
    if kind == "done":
        return ("marked done",)
    if kind == "edited":
        return (f"title changed (was: {detail})",)
    return (kind,)


# --- parsing helpers -----------------------------------------------------------------------


def _take_mentions(ctx: Ctx, args: Args) -> list[str]:
    """Leading ``<@user>`` tokens (written as mentions, so plain words stay text)."""
    raws: list[str] = []
    while (tok := args.peek()) is not None and is_person(ctx, tok):
        raws.append(tok)
        args.pos += 1
    return raws


def _date_or_none(ctx: Ctx, words: list[str]) -> dt.date | None:
    if len(words) == 1 and words[0].lower() in ("none", "never", "-"):
        return None
    due = parse_date(words, ctx.today)
    _not_past(ctx, due)
    return due


def _not_past(ctx: Ctx, due: dt.date) -> None:
    not_past(due, ctx.today)


def _last_keyword(args: Args, word: str, end: int) -> list[str] | None:
    """The words after the last unquoted ``word`` between the cursor and ``end``."""
    for i in range(end - 1, args.pos - 1, -1):
        tok = args.tokens[i]
        if not tok.quoted and tok.value.lower() == word:
            return [t.value for t in args.tokens[i + 1 : end]]
    return None


def _group_named(ctx: Ctx, words: list[str]) -> Group:
    group = find_group(ctx.session, " ".join(words))
    if group is None:
        raise UserError(f"Unknown group {' '.join(words)!r}. `tg list` shows the groups.")
    return group


# --- edit, find and the done list ----------------------------------------------------------

FIND_LIMIT = 20  # rows a search shows
FIND_WORDS = 10  # words a search may hold


def _may_change(what: str) -> Guard:
    """The router's check for a command on one action: the action is looked up by its id
    and the caller must be allowed to change it, before the rest is read. A malformed or
    unknown id is left to the handler to report."""
    def guard(ctx: Ctx, args: Args) -> None:
        raw = args.peek()
        if raw is None:
            return
        try:
            action = get_action(ctx.session, raw)
        except UserError:
            return
        require_change(ctx, action, what)
    return guard


def _holds(word: str) -> ColumnElement[bool]:
    """The action's title or one of its notes holds ``word``, in any case: both sides are
    folded by the same SQL function (storage.sql.folded), so the store's own idea of case
    decides alike for both. LIKE's ``%`` and ``_`` in the word are escaped, and the word
    is a bound value, never SQL."""
    escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = literal("%") + folded(literal(escaped)) + literal("%")

    def holds(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        return folded(column).like(pattern, escape="/")

    return holds(Action.title) | Action.id.in_(
        select(ActionNote.action_id).where(holds(ActionNote.text)))


def _take_since(ctx: Ctx, args: Args) -> dt.date | None:
    """A trailing ``since <date>`` (the last such day, as ``decision list`` reads it); a
    ``since`` whose date does not read is that date's error."""
    from handlers.decisions import past_date

    end, opts = args.take_trailing_options({"since": lambda words: past_date(words, ctx.today)})
    since = opts.get("since")
    if since is None:
        for i in range(len(args.tokens) - 1, args.pos - 1, -1):
            tok = args.tokens[i]
            if not tok.quoted and tok.value.lower() == "since":
                words = [t.value for t in args.tokens[i + 1 :]]
                if not words:
                    raise UserError("Missing <date> after since.")
                parse_date(words, ctx.today)
    args.tokens = args.tokens[:end]
    return since


def _done_list(
    ctx: Ctx, group_id: int | None, person_id: int | None, scope: str, since: dt.date | None
) -> Reply:
    """Done actions, the latest closed first (along ``actions(status, closed_at)``)."""
    from handlers.decisions import local_day_start

    where: list[ColumnElement[bool]] = [Action.status == DONE]
    if group_id is not None:
        where.append(Action.group_id == group_id)
    if person_id is not None:
        where.append(Action.id.in_(
            select(ActionAssignee.action_id).where(ActionAssignee.person_id == person_id)))
    if since is not None:
        where.append(Action.closed_at >= local_day_start(ctx, since))
        scope += f" since {since:%a %d %b %Y}"
    rows = list(ctx.session.scalars(
        select(Action).where(*where).options(*_list_options())
        .order_by(Action.closed_at.desc(), Action.id.desc()).limit(LIST_LIMIT + 1)
    ))
    reply = Reply()
    if not rows:
        return reply.say(f"No done actions {scope}.")
    shown, total = _first_and_total(ctx, rows, where, LIST_LIMIT)
    reply = reply.say(f"Done actions {scope}: {total}", style="heading")
    reply = reply.add(Table(
        ("id", "title", "assignees", "group", "done"),
        tuple(
            (
                (action_label(a),), (a.title,), people_spans(assignees_of(a)),
                (a.group.slug if a.group else "-",),
                (When(a.closed_at, ctx.settings.timezone,
                      with_time=False),) if a.closed_at else ("-",),
            )
            for a in shown
        ),
    ))
    if total > len(shown):
        reply = reply.say(f"…and {total - len(shown)} more. Narrow it down: "
                          "action list mine|<@user>|<group> done since <date>.")
    return reply


# --- commands ------------------------------------------------------------------------------


def open_list(ctx: Ctx, *, group_id: int | None, person_id: int | None, scope: str,
              overdue: bool = False) -> Reply:
    """Open (or overdue) actions of a group, a person or everyone, oldest due first, with
    Done buttons: ``action list`` and the person's home page both show it."""
    before = ctx.today if overdue else None
    rows = list_page(
        ctx.session, group_id=group_id, person_id=person_id, overdue_before=before,
        limit=LIST_LIMIT + 1,
    )
    kind = "overdue actions" if overdue else "open actions"
    reply = Reply()
    if not rows:
        return reply.say(f"No {kind} {scope}.")
    shown = rows[:LIST_LIMIT]
    total = len(rows)
    if len(rows) > LIST_LIMIT:
        total = count_open_actions(
            ctx.session, group_id=group_id, person_id=person_id, overdue_before=before
        )
    reply = reply.say(f"{kind.capitalize()} {scope}: {total}", style="heading")
    today = ctx.today
    reply = reply.add(Table(ACTION_HEADERS, tuple(list_row(r, who, today) for r, who in shown)))
    buttons = done_buttons(ctx, shown)
    if buttons is not None:
        reply = reply.add(buttons)
    if total > len(shown):
        reply = reply.say(
            f"…and {total - len(shown)} more. Narrow it down: "
            "action list mine|<@user>|<group> [overdue]."
        )
    return reply


def _new_action(ctx: Ctx, args: Args) -> tuple[list[str], str, dt.date | None, Group]:
    """``[<@user> ...] <text...> [due <date>] [group <group>]``: the mentions (resolved
    once the caller may add to the group), the title, the due date and the group."""
    raw_users = _take_mentions(ctx, args)
    end, due, group = take_due_tail(args, ctx.today, lambda words: _group_named(ctx, words))
    title = check_length(args.text_between(args.pos, end), TITLE_MAX, "title")
    if not title:
        raise UserError("Missing <text...>: what is to be done.")
    if group is None:
        group = ctx.channel_group
    if group is None:
        tail = _last_keyword(args, "group", end)
        if tail:
            raise UserError(f"Unknown group {' '.join(tail)!r}. `tg list` shows the groups.")
        raise UserError("Name a group with `group <group>`: this channel is not linked to one.")
    args.pos = len(args.tokens)
    return raw_users, title, due, group


def _list_scope(ctx: Ctx, args: Args) -> tuple[str, int | None, Person | None, str,
                                               dt.date | None]:
    """``[mine|all|<@user>|<group>] [overdue|done [since <date>]]``: the state listed, the
    group or the person (neither: all), how to say the scope, and the first day."""
    since = _take_since(ctx, args)
    toks = args.remaining()
    state = OPEN
    if toks and toks[-1].lower() in ("overdue", DONE):
        state = toks[-1].lower()
        args.tokens = args.tokens[:-1]
    elif toks and toks[0].lower() in ("overdue", DONE):
        state = toks[0].lower()
        args.pos += 1
    if since is not None and state != DONE:
        raise UserError("since goes with done: action list done since <date>.")
    group_id: int | None = None
    person: Person | None = None
    scope: str
    word = args.peek()
    if word is None:
        bound = ctx.channel_group
        if bound is not None:
            group_id, scope = bound.id, f"in {bound.slug}"
        else:
            person, scope = ctx.actor, "for you"
    elif args.accept("mine", "me"):
        person, scope = ctx.actor, "for you"
    elif args.accept("all"):
        scope = "in all groups"
    elif is_person(ctx, word):
        args.pos += 1
        person = resolve_person(ctx, word)
        scope = f"for {at_name(person.display_name)}"
    else:
        named = take_group(ctx, args)
        assert named is not None
        group_id, scope = named.id, f"in {named.slug}"
    return state, group_id, person, scope, since


def _due_words(ctx: Ctx, args: Args) -> dt.date | None:
    words = args.remaining()
    if not words:
        raise UserError("Missing <date> (or none to clear it).")
    args.pos = len(args.tokens)
    return _date_or_none(ctx, words)


def _find_words(_ctx: Ctx, args: Args) -> list[str]:
    words = [w for w in args.remaining() if w.strip()]
    args.pos = len(args.tokens)
    if not words:
        raise UserError("Missing <words...>: what to look for.")
    if len(words) > FIND_WORDS:
        raise UserError(f"Too many words ({len(words)}; at most {FIND_WORDS}).")
    return words


ACTION = p.custom("<id>", lambda ctx, args: get_action(ctx.session, args.next("<id>")),
                  rest=False)
NEW_ACTION = p.custom("[<@user> ...] <text...> [due <date>] [group <group>]", _new_action)
LIST_SCOPE = p.custom("[mine|all|<@user>|<group>] [overdue|done [since <date>]]", _list_scope)
ASSIGNEES = p.people()
DUE = p.custom("<date>|none", _due_words)
NOTE = p.text("<text...>", TEXT_MAX, "note")
NEW_TITLE = p.text("<text...>", TITLE_MAX, "title", missing="<text...>: the new title")
FIND = p.custom("<words...>", _find_words)


def _on_one_action(what: str) -> Policy:
    return Policy("assignee, chair and up", guard=_may_change(what))


def register(reg: Registry) -> None:
    reg.noun("action", "action items: who does what by when", common=("add", "list", "done"))

    @reg.command(
        "action", "add", p.spec(NEW_ACTION),
        "a new action item; mentions are the assignees (none: you)", MEMBERS,
    )
    def action_add(ctx: Ctx, v: Values) -> Reply:
        raw_users, title, due, group = v[NEW_ACTION]
        require_member(ctx, group, "action add")
        people = resolve_people(ctx, raw_users) or [ctx.actor]
        action = create_action(ctx, group=group, title=title, assignees=people, due=due)
        return Reply(private=False).say("Added ", *_summary(action), ".")

    @reg.command(
        "action", "list", p.spec(LIST_SCOPE),
        "open actions, oldest due first; done: closed ones, latest first", ANYONE,
    )
    def action_list(ctx: Ctx, v: Values) -> Reply:
        state, group_id, person, scope, since = v[LIST_SCOPE]
        overdue = state == "overdue"
        person_id = person.id if person is not None else None
        if state == DONE:
            return _done_list(ctx, group_id, person_id, scope, since)
        return open_list(ctx, group_id=group_id, person_id=person_id, scope=scope,
                         overdue=overdue)

    @reg.command("action", "show", p.spec(ACTION), "one action in full, with its notes and history",
                 ANYONE)
    def action_show(ctx: Ctx, v: Values) -> Reply:
        action = v[ACTION]
        reply = Reply()
        reply = reply.say(f"{action_label(action)}: {action.title}", style="heading")
        status: list[Span] = [status_marker(action, ctx.today)]
        if action.closed_at is not None:
            status += [" on ", _when(ctx, action.closed_at)]
        reply = reply.say("Status: ", *status)
        group = action.group
        reply = reply.say("Group: ", f"{group.name} ({group.slug})" if group else "none")
        reply = reply.say("Assigned to: ", *people_spans(assignees_of(action), "nobody"))
        reply = reply.say("Due: ", *((Day(action.due),) if action.due else ("no due date",)))
        author: tuple[Span, ...] = (mention(action.author),) if action.author else ("unknown",)
        reply = reply.say("Added by ", *author, " on ", _when(ctx, action.created_at))
        if action.decision is not None:
            text = action.decision.text
            short = text if len(text) <= 80 else text[:79] + "…"
            reply = reply.say(f"Decision: D-{action.decision.id}: {short}")
        if action.meeting_date is not None:
            reply = reply.say("Meeting: ", Day(action.meeting_date))
        if action.notes:
            reply = reply.say("Notes", style="heading")
            for note in action.notes:
                who: tuple[Span, ...] = (mention(note.author),) if note.author else ("someone",)
                reply = reply.say(_when(ctx, note.created_at), " ", *who, f": {note.text}")
        if action.events:
            reply = reply.say("History", style="heading")
            reply = reply.add(
                Table(
                    ("when", "who", "what"),
                    tuple(
                        (
                            (_when(ctx, e.at),),
                            (mention(e.actor),) if e.actor else ("-",),
                            _event_text(e),
                        )
                        for e in action.events
                    ),
                )
            )
        return reply

    def transition(
        verb: str, allowed_from: tuple[str, ...], to: str, kind: str, said: str, summary: str
    ) -> None:
        @reg.command("action", verb, p.spec(ACTION), summary, _on_one_action(f"action {verb}"))
        def handler(ctx: Ctx, v: Values) -> Reply:
            action = v[ACTION]
            if action.status not in allowed_from:
                label = action_label(action)
                if action.status == OPEN:
                    raise UserError(f"{label} is open already.", show_usage=False)
                if action.status == to:
                    raise UserError(f"{label} is already {to}.", show_usage=False)
                raise UserError(
                    f"{label} is {action.status}: `action reopen {label}` first.",
                    show_usage=False,
                )
            action.status = to
            action.closed_at = None if to == OPEN else ctx.now
            _event(ctx, action, kind)
            ctx.audit(verb, "action", action.id, status=to)
            return Reply(private=False).say(f"{said} ", *_summary(action), ".")

    transition("done", (OPEN,), DONE, "done", "Completed", "mark an open action done")
    transition("reopen", (DONE, CANCELLED), OPEN, "reopened", "Reopened",
               "open a done or cancelled action again")
    transition("cancel", (OPEN,), CANCELLED, "cancelled", "Cancelled",
               "cancel an open action")

    @reg.command(
        "action", "assign", p.spec(ACTION, ASSIGNEES), "give the action to these people instead",
        _on_one_action("action assign"),
    )
    def action_assign(ctx: Ctx, v: Values) -> Reply:
        action, people = v[ACTION], v[ASSIGNEES]
        set_assignees(ctx, action, people)
        return Reply(private=False).say(
            f"{action_label(action)} is now for ", *people_spans(people), "."
        )

    @reg.command(
        "action", "due", p.spec(ACTION, DUE), "set or clear the due date",
        _on_one_action("action due"),
    )
    def action_due(ctx: Ctx, v: Values) -> Reply:
        action, due = v[ACTION], v[DUE]
        action.due = due
        _event(ctx, action, "due", due.isoformat() if due else "")
        ctx.audit("due", "action", action.id, due=due.isoformat() if due else None)
        reply = Reply(private=False)
        if due is None:
            return reply.say(f"{action_label(action)} has no due date now.")
        return reply.say(f"{action_label(action)} is now due ", Day(due), ".")

    @reg.command(
        "action", "note", p.spec(ACTION, NOTE), "add a note to the action",
        _on_one_action("action note"),
    )
    def action_note(ctx: Ctx, v: Values) -> Reply:
        action, body = v[ACTION], v[NOTE]
        note = ActionNote(
            action_id=action.id, author_id=ctx.actor.id, text=body, created_at=ctx.now
        )
        ctx.session.add(note)
        ctx.session.flush()
        _event(ctx, action, "note", body)
        ctx.audit("note", "action", action.id, note=note.id)
        return Reply(private=False).say(
            f"Note added to {action_label(action)}: {action.title}."
        )

    @reg.command(
        "action", "edit", p.spec(ACTION, NEW_TITLE),
        "fix the action's title (the old one is kept in its history)",
        _on_one_action("action edit"),
    )
    def action_edit(ctx: Ctx, v: Values) -> Reply:
        action, title = v[ACTION], v[NEW_TITLE]
        label = action_label(action)
        if title == action.title:
            raise UserError(f"{label} reads {title!r} already.", show_usage=False)
        old = action.title
        action.title = title
        _event(ctx, action, "edited", old)
        ctx.audit("edit", "action", action.id, old=old, new=title)
        return Reply(private=False).say("Edited ", *_summary(action), f" (was: {old}).")

    @reg.command(
        "action", "find", p.spec(FIND),
        "actions whose title or notes hold every word (yours and your groups'; "
        "secretariat, admins: all)", ANYONE,
    )
    def action_find(ctx: Ctx, v: Values) -> Reply:
        words = v[FIND]
        where = [_holds(w) for w in words]
        scope = "in all groups"
        if not staff(ctx):
            me = ctx.actor.id
            where.append(
                Action.group_id.in_(select(Membership.group_id).where(Membership.person_id == me))
                | Action.id.in_(
                    select(ActionAssignee.action_id).where(ActionAssignee.person_id == me))
            )
            scope = "in your groups and assigned to you"
        found = list(ctx.session.scalars(
            select(Action).where(*where).options(*_list_options())
            .order_by(case((Action.status == OPEN, 0), else_=1), Action.id.desc())
            .limit(FIND_LIMIT + 1)
        ))
        said = " ".join(repr(w) if " " in w else w for w in words)
        reply = Reply()
        if not found:
            return reply.say(f"No actions {scope} match {said}.")
        shown, total = _first_and_total(ctx, found, where, FIND_LIMIT)
        reply = reply.say(f"Actions {scope} matching {said}: {total}", style="heading")
        reply = reply.add(Table(ACTION_HEADERS, tuple(action_row(a, ctx.today) for a in shown)))
        if total > len(shown):
            reply = reply.say(f"…and {total - len(shown)} more (open first, then the newest). "
                              "Add a word to narrow it down.")
        return reply


def _first_and_total(ctx: Ctx, rows: list[Action], where: list[Any],
                     limit: int) -> tuple[list[Action], int]:
    """``rows`` was fetched with ``limit + 1``: the first ``limit`` to show, and how many
    match in all (counted only when there are more than fit, so a short list costs one query)."""
    total = len(rows)
    if total > limit:
        total = ctx.session.scalar(select(func.count(Action.id)).where(*where)) or 0
    return rows[:limit], total
