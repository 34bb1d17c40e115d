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
from collections.abc import Callable, Sequence
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
from handlers.core.i18n import Msg, _, _n, listed
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
    # TRANSLATORS: as in "'x' is not an action id (like A-12 or 12)."
    action_id = parse_id(raw, "A", _("an action"))
    action = session.get(Action, action_id)
    if action is None:
        raise UserError(_("No action {action}.", action=action_label(action_id)))
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
    if more <= 0:
        return ", ".join(labels)
    # TRANSLATORS: {labels} is a list of action ids, like "A-3, A-4"
    return _n("{labels} and {n} more", "{labels} and {n} more", more, labels=", ".join(labels))


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


def people_arg(people: Sequence[Person], empty: str) -> Msg | Mention | str:
    """The people as one argument of a message: each a mention (a ping where the platform
    has one), separated by commas; ``empty`` when there is none."""
    mentions = [mention(p) for p in people]
    if not mentions:
        return empty
    found = listed(mentions)
    assert isinstance(found, Msg | Mention)
    return found


def assignees_of(action: Action) -> list[Person]:
    return [a.person for a in action.assignees]


def status_marker(action: Action, today: dt.date) -> str:
    """``open``, ``due today``, ``overdue``, ``done`` or ``cancelled``."""
    return marker(action.status, action.due, today)


def marker(status: str, due: dt.date | None, today: dt.date) -> str:
    if status != OPEN:
        if status == DONE:
            # TRANSLATORS: an action's status (a table cell, "Status: done")
            return _("done")
        if status == CANCELLED:
            # TRANSLATORS: an action's status (a table cell, "Status: cancelled")
            return _("cancelled")
        return status
    if due is not None and due < today:
        # TRANSLATORS: an action's status (a table cell, "Status: overdue")
        return _("overdue")
    if due == today:
        # TRANSLATORS: an action's status (a table cell, "Status: due today")
        return _("due today")
    # TRANSLATORS: an action's status (a table cell, "Status: open")
    return _("open")


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


ACTION_HEADERS = (
    # TRANSLATORS: a table's header: an action's id
    _("id"),
    # TRANSLATORS: a table's header: an action's title
    _("title"),
    # TRANSLATORS: a table's header: the people an action is assigned to
    _("assignees"),
    # TRANSLATORS: a table's header: an action's group
    _("group"),
    # TRANSLATORS: a table's header: an action's due date
    _("due"),
    # TRANSLATORS: a table's header: an action's status (open, overdue, done...)
    _("status"),
)

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
        # TRANSLATORS: a button that marks the action {action} done
        out.append(Button(_("Done {action}", action=label), f"action done {label}", "primary"))
    return Buttons(tuple(out)) if out else None


def _when(ctx: Ctx, at: dt.datetime) -> When:
    return When(at, ctx.settings.timezone)


def _summary(action: Action) -> Msg:
    """``A-12: title (due Fri 04 Dec 2026) for @alice in repl``."""
    label, title = action_label(action), action.title
    # TRANSLATORS: who an action is for, when it is for no one ("A-12: title for nobody")
    who = people_arg(assignees_of(action), _("nobody"))
    if action.due and action.group:
        return _("{action}: {title} (due {day}) for {who} in {group}", action=label,
                 title=title, day=Day(action.due), who=who, group=action.group.slug)
    if action.due:
        return _("{action}: {title} (due {day}) for {who}", action=label, title=title,
                 day=Day(action.due), who=who)
    if action.group:
        return _("{action}: {title} for {who} in {group}", action=label, title=title,
                 who=who, group=action.group.slug)
    return _("{action}: {title} for {who}", action=label, title=title, who=who)


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
        if action.group is None:
            raise Refused(_("an assignee, a chair of its group, the secretariat or an admin"),
                          what)
        raise Refused(_("an assignee, a chair of {group}, the secretariat or an admin",
                        group=action.group.slug), what)


_EVENT_INSERT = insert(cast(SqlTable, ActionEvent.__table__))


def _event(ctx: Ctx, action: Action, kind: str, detail: str = "") -> None:
    """A history line, inserted at once (no command reads an action's history after
    writing to it, and the unit of work cost more than the insert)."""
    ctx.session.execute(_EVENT_INSERT, {
        "action_id": action.id, "actor_id": ctx.actor.id, "kind": kind,
        "detail": detail[:TEXT_MAX], "at": ctx.now})


def _event_text(event: ActionEvent) -> tuple[Span, ...]:
    """What a history line says (the table's ``what`` column)."""
    kind, detail = event.kind, event.detail
    if kind == "assigned":
        # TRANSLATORS: a line of an action's history; {who}: names, like "@alice, @bob"
        return (_("assigned to {who}", who=detail),)
    if kind == "due":
        if not detail:
            # TRANSLATORS: a line of an action's history
            return (_("due date cleared"),)
        try:
            # TRANSLATORS: a line of an action's history
            return (_("due date set to {day}", day=Day(dt.date.fromisoformat(detail))),)
        except ValueError:
            return (_("due date set to {day}", day=detail),)
    if kind == "note":
        # TRANSLATORS: a line of an action's history
        return (_("added a note"),)
    if kind == "done":
        # TRANSLATORS: a line of an action's history
        return (_("marked done"),)
    if kind == "edited":
        # TRANSLATORS: a line of an action's history; {title}: the title it had before
        return (_("title changed (was: {title})", title=detail),)
    if kind == "created":
        # TRANSLATORS: a line of an action's history: it was added
        return (_("created"),)
    if kind == "reopened":
        # TRANSLATORS: a line of an action's history
        return (_("reopened"),)
    if kind == "cancelled":
        # TRANSLATORS: a line of an action's history
        return (_("cancelled"),)
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
        raise UserError(_("Unknown group {group}. `tg list` shows the groups.",
                          group=repr(" ".join(words))))
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
                    # TRANSLATORS: <date> and since are what is typed: keep them
                    raise UserError(_("Missing <date> after since."))
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
    rows = list(ctx.session.scalars(
        select(Action).where(*where).options(*_list_options())
        .order_by(Action.closed_at.desc(), Action.id.desc()).limit(LIST_LIMIT + 1)
    ))
    reply = Reply()
    if not rows:
        if since is not None:
            return reply.say(_("No done actions {scope} since {day}.", scope=scope,
                               day=Day(since)))
        # TRANSLATORS: {scope}: "in repl", "for you", "for @alice" or "in all groups"
        return reply.say(_("No done actions {scope}.", scope=scope))
    shown, total = _first_and_total(ctx, rows, where, LIST_LIMIT)
    if since is not None:
        heading = _("Done actions {scope} since {day}: {total}", scope=scope, day=Day(since),
                    total=total)
    else:
        heading = _("Done actions {scope}: {total}", scope=scope, total=total)
    reply = reply.say(heading, style="heading")
    reply = reply.add(Table(
        # TRANSLATORS: a table's header: the day an action was done
        (*ACTION_HEADERS[:4], _("done")),
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
        reply = reply.say(_more_listed(total - len(shown),
                                       "action list mine|<@user>|<group> done since <date>"))
    return reply


def _more_listed(more: int, usage: str) -> Msg:
    """The line under a list cut short: how many more, and the command that narrows it."""
    # TRANSLATORS: under a list cut short; {usage} is a command line to type, keep it as is
    return _n("…and {n} more. Narrow it down: {usage}.",
              "…and {n} more. Narrow it down: {usage}.", more, usage=usage)


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
    reply = Reply()
    if not rows:
        if overdue:
            return reply.say(_("No overdue actions {scope}.", scope=scope))
        # TRANSLATORS: {scope}: "in repl", "for you", "for @alice" or "in all groups"
        return reply.say(_("No open actions {scope}.", scope=scope))
    shown = rows[:LIST_LIMIT]
    total = len(rows)
    if len(rows) > LIST_LIMIT:
        total = count_open_actions(
            ctx.session, group_id=group_id, person_id=person_id, overdue_before=before
        )
    if overdue:
        heading = _("Overdue actions {scope}: {total}", scope=scope, total=total)
    else:
        heading = _("Open actions {scope}: {total}", scope=scope, total=total)
    reply = reply.say(heading, style="heading")
    today = ctx.today
    reply = reply.add(Table(ACTION_HEADERS, tuple(list_row(r, who, today) for r, who in shown)))
    buttons = done_buttons(ctx, shown)
    if buttons is not None:
        reply = reply.add(buttons)
    if total > len(shown):
        reply = reply.say(_more_listed(total - len(shown),
                                       "action list mine|<@user>|<group> [overdue]"))
    return reply


def _new_action(ctx: Ctx, args: Args) -> tuple[list[str], str, dt.date | None, Group]:
    """``[<@user> ...] <text...> [due <date>] [group <group>]``: the mentions (resolved
    once the caller may add to the group), the title, the due date and the group."""
    raw_users = _take_mentions(ctx, args)
    end, due, group = take_due_tail(args, ctx.today, lambda words: _group_named(ctx, words))
    # TRANSLATORS: what is too long, as in "The title is too long (...)"
    title = check_length(args.text_between(args.pos, end), TITLE_MAX, _("title"))
    if not title:
        # TRANSLATORS: <text...> is what is typed: keep it
        raise UserError(_("Missing <text...>: what is to be done."))
    if group is None:
        group = ctx.channel_group
    if group is None:
        tail = _last_keyword(args, "group", end)
        if tail:
            raise UserError(_("Unknown group {group}. `tg list` shows the groups.",
                              group=repr(" ".join(tail))))
        # TRANSLATORS: `group <group>` is what is typed: keep it
        raise UserError(_("Name a group with `group <group>`: this channel is not linked "
                          "to one."))
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
        # TRANSLATORS: "since" and "done" are words typed in the command {usage}: keep them
        raise UserError(_("since goes with done: {usage}.",
                          usage="action list done since <date>"))
    group_id: int | None = None
    person: Person | None = None
    scope: str
    word = args.peek()
    if word is None:
        bound = ctx.channel_group
        if bound is not None:
            group_id, scope = bound.id, _in_group(bound)
        else:
            person, scope = ctx.actor, _for_you()
    elif args.accept("mine", "me"):
        person, scope = ctx.actor, _for_you()
    elif args.accept("all"):
        # TRANSLATORS: which actions a list shows, as in "Open actions in all groups: 3"
        scope = _("in all groups")
    elif is_person(ctx, word):
        args.pos += 1
        person = resolve_person(ctx, word)
        # TRANSLATORS: which actions a list shows, as in "Open actions for @alice: 3"
        scope = _("for {who}", who=at_name(person.display_name))
    else:
        named = take_group(ctx, args)
        assert named is not None
        group_id, scope = named.id, _in_group(named)
    return state, group_id, person, scope, since


def _in_group(group: Group) -> Msg:
    # TRANSLATORS: which actions a list shows, as in "Open actions in repl: 3"
    return _("in {group}", group=group.slug)


def _for_you() -> Msg:
    # TRANSLATORS: which actions a list shows, as in "Open actions for you: 3"
    return _("for you")


def _due_words(ctx: Ctx, args: Args) -> dt.date | None:
    words = args.remaining()
    if not words:
        # TRANSLATORS: <date> and none are what is typed: keep them
        raise UserError(_("Missing <date> (or none to clear it)."))
    args.pos = len(args.tokens)
    return _date_or_none(ctx, words)


def _find_words(_ctx: Ctx, args: Args) -> list[str]:
    words = [w for w in args.remaining() if w.strip()]
    args.pos = len(args.tokens)
    if not words:
        # TRANSLATORS: <words...> is what is typed: keep it
        raise UserError(_("Missing <words...>: what to look for."))
    if len(words) > FIND_WORDS:
        raise UserError(_("Too many words ({count}; at most {limit}).", count=len(words),
                          limit=FIND_WORDS))
    return words


ACTION = p.custom("<id>", lambda ctx, args: get_action(ctx.session, args.next("<id>")),
                  rest=False)
NEW_ACTION = p.custom("[<@user> ...] <text...> [due <date>] [group <group>]", _new_action)
LIST_SCOPE = p.custom("[mine|all|<@user>|<group>] [overdue|done [since <date>]]", _list_scope)
ASSIGNEES = p.people()
DUE = p.custom("<date>|none", _due_words)
# TRANSLATORS: what is too long, as in "The note is too long (...)"
NOTE = p.text("<text...>", TEXT_MAX, _("note"))
NEW_TITLE = p.text("<text...>", TITLE_MAX, _("title"),
                   # TRANSLATORS: what is missing, as in "Missing <text...>: the new title."
                   missing=_("<text...>: the new title"))
FIND = p.custom("<words...>", _find_words)


def _on_one_action(what: str) -> Policy:
    # TRANSLATORS: who may run a command (help shows it)
    return Policy(_("assignee, chair and up"), guard=_may_change(what))


def register(reg: Registry) -> None:
    reg.noun("action", _("action items: who does what by when"),
             common=("add", "list", "done"))

    @reg.command(
        "action", "add", p.spec(NEW_ACTION),
        _("a new action item; mentions are the assignees (none: you)"), MEMBERS,
    )
    def action_add(ctx: Ctx, v: Values) -> Reply:
        raw_users, title, due, group = v[NEW_ACTION]
        require_member(ctx, group, "action add")
        people = resolve_people(ctx, raw_users) or [ctx.actor]
        action = create_action(ctx, group=group, title=title, assignees=people, due=due)
        # TRANSLATORS: {summary}: the action, as "A-12: title (due Fri 04 Dec 2026) for
        # @alice in repl"
        return Reply(private=False).say(_("Added {summary}.", summary=_summary(action)))

    @reg.command(
        "action", "list", p.spec(LIST_SCOPE),
        # TRANSLATORS: help for "action list"; "done" is a word typed in the command
        _("open actions, oldest due first; done: closed ones, latest first"), ANYONE,
    )
    def action_list(ctx: Ctx, v: Values) -> Reply:
        state, group_id, person, scope, since = v[LIST_SCOPE]
        overdue = state == "overdue"
        person_id = person.id if person is not None else None
        if state == DONE:
            return _done_list(ctx, group_id, person_id, scope, since)
        return open_list(ctx, group_id=group_id, person_id=person_id, scope=scope,
                         overdue=overdue)

    @reg.command("action", "show", p.spec(ACTION),
                 _("one action in full, with its notes and history"), ANYONE)
    def action_show(ctx: Ctx, v: Values) -> Reply:
        action = v[ACTION]
        reply = Reply()
        reply = reply.say(_("{action}: {title}", action=action_label(action), title=action.title),
                          style="heading")
        status = status_marker(action, ctx.today)
        if action.closed_at is not None:
            # TRANSLATORS: {status}: done or cancelled; {when}: a day and time
            reply = reply.say(_("Status: {status} on {when}", status=status,
                                when=_when(ctx, action.closed_at)))
        else:
            # TRANSLATORS: {status}: open, due today, overdue...
            reply = reply.say(_("Status: {status}", status=status))
        group = action.group
        if group is not None:
            # TRANSLATORS: {name}: the group's full name, {group}: its short name
            reply = reply.say(_("Group: {name} ({group})", name=group.name, group=group.slug))
        else:
            reply = reply.say(_("Group: none"))
        reply = reply.say(_("Assigned to: {who}",
                            who=people_arg(assignees_of(action), _("nobody"))))
        if action.due:
            reply = reply.say(_("Due: {day}", day=Day(action.due)))
        else:
            reply = reply.say(_("Due: no due date"))
        if action.author:
            reply = reply.say(_("Added by {who} on {when}", who=mention(action.author),
                                when=_when(ctx, action.created_at)))
        else:
            reply = reply.say(_("Added by unknown on {when}", when=_when(ctx, action.created_at)))
        if action.decision is not None:
            text = action.decision.text
            short = text if len(text) <= 80 else text[:79] + "…"
            decision = f"D-{action.decision.id}"
            # TRANSLATORS: {decision}: its id (D-12); {text}: what was decided
            reply = reply.say(_("Decision: {decision}: {text}", decision=decision, text=short))
        if action.meeting_date is not None:
            reply = reply.say(_("Meeting: {day}", day=Day(action.meeting_date)))
        if action.notes:
            # TRANSLATORS: a heading: the notes added to an action
            reply = reply.say(_("Notes"), style="heading")
            for note in action.notes:
                when = _when(ctx, note.created_at)
                if note.author:
                    # TRANSLATORS: a note: when it was written, by whom, and what it says
                    reply = reply.say(_("{when} {who}: {text}", when=when,
                                        who=mention(note.author), text=note.text))
                else:
                    reply = reply.say(_("{when} someone: {text}", when=when, text=note.text))
        if action.events:
            # TRANSLATORS: a heading: what was done to an action, and when
            reply = reply.say(_("History"), style="heading")
            reply = reply.add(
                Table(
                    (
                        # TRANSLATORS: a table's header (an action's history): the time
                        _("when"),
                        # TRANSLATORS: a table's header (an action's history): the person
                        _("who"),
                        # TRANSLATORS: a table's header (an action's history): what they did
                        _("what"),
                    ),
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
        verb: str, allowed_from: tuple[str, ...], to: str, kind: str,
        said: Callable[[Msg], Msg], summary: str,
    ) -> None:
        @reg.command("action", verb, p.spec(ACTION), summary, _on_one_action(f"action {verb}"))
        def handler(ctx: Ctx, v: Values) -> Reply:
            action = v[ACTION]
            if action.status not in allowed_from:
                raise UserError(_not_now(action, to), show_usage=False)
            action.status = to
            action.closed_at = None if to == OPEN else ctx.now
            _event(ctx, action, kind)
            ctx.audit(verb, "action", action.id, status=to)
            return Reply(private=False).say(said(_summary(action)))

    transition("done", (OPEN,), DONE, "done",
               lambda summary: _("Completed {summary}.", summary=summary),
               _("mark an open action done"))
    transition("reopen", (DONE, CANCELLED), OPEN, "reopened",
               lambda summary: _("Reopened {summary}.", summary=summary),
               _("open a done or cancelled action again"))
    transition("cancel", (OPEN,), CANCELLED, "cancelled",
               lambda summary: _("Cancelled {summary}.", summary=summary),
               _("cancel an open action"))

    @reg.command(
        "action", "assign", p.spec(ACTION, ASSIGNEES),
        _("give the action to these people instead"), _on_one_action("action assign"),
    )
    def action_assign(ctx: Ctx, v: Values) -> Reply:
        action, people = v[ACTION], v[ASSIGNEES]
        set_assignees(ctx, action, people)
        return Reply(private=False).say(_("{action} is now for {who}.",
                                          action=action_label(action),
                                          who=people_arg(people, "-")))

    @reg.command(
        "action", "due", p.spec(ACTION, DUE), _("set or clear the due date"),
        _on_one_action("action due"),
    )
    def action_due(ctx: Ctx, v: Values) -> Reply:
        action, due = v[ACTION], v[DUE]
        action.due = due
        _event(ctx, action, "due", due.isoformat() if due else "")
        ctx.audit("due", "action", action.id, due=due.isoformat() if due else None)
        reply = Reply(private=False)
        if due is None:
            return reply.say(_("{action} has no due date now.", action=action_label(action)))
        return reply.say(_("{action} is now due {day}.", action=action_label(action),
                           day=Day(due)))

    @reg.command(
        "action", "note", p.spec(ACTION, NOTE), _("add a note to the action"),
        _on_one_action("action note"),
    )
    def action_note(ctx: Ctx, v: Values) -> Reply:
        action, body = v[ACTION], v[NOTE]
        note = ActionNote(
            action_id=action.id, author_id=ctx.actor.id, text=body, created_at=ctx.now
        )
        ctx.session.add(note)
        ctx.session.flush()
        _event(ctx, action, "note")  # the text is the note's alone (retention purges it)
        ctx.audit("note", "action", action.id, note=note.id)
        return Reply(private=False).say(
            _("Note added to {action}: {title}.", action=action_label(action), title=action.title)
        )

    @reg.command(
        "action", "edit", p.spec(ACTION, NEW_TITLE),
        _("fix the action's title (the old one is kept in its history)"),
        _on_one_action("action edit"),
    )
    def action_edit(ctx: Ctx, v: Values) -> Reply:
        action, title = v[ACTION], v[NEW_TITLE]
        label = action_label(action)
        if title == action.title:
            # TRANSLATORS: {title}: the title, quoted
            raise UserError(_("{action} reads {title} already.", action=label,
                              title=repr(title)), show_usage=False)
        old = action.title
        action.title = title
        _event(ctx, action, "edited", old)
        ctx.audit("edit", "action", action.id, old=old, new=title)
        # TRANSLATORS: {summary}: the action, as in "Added {summary}."; {old}: its old title
        return Reply(private=False).say(_("Edited {summary} (was: {old}).",
                                          summary=_summary(action), old=old))

    @reg.command(
        "action", "find", p.spec(FIND),
        _("actions whose title or notes hold every word (yours and your groups'; "
          "secretariat, admins: all)"), ANYONE,
    )
    def action_find(ctx: Ctx, v: Values) -> Reply:
        words = v[FIND]
        where = [_holds(w) for w in words]
        scope = _("in all groups")
        if not staff(ctx):
            me = ctx.actor.id
            where.append(
                Action.group_id.in_(select(Membership.group_id).where(Membership.person_id == me))
                | Action.id.in_(
                    select(ActionAssignee.action_id).where(ActionAssignee.person_id == me))
            )
            # TRANSLATORS: which actions a search looks at, as in "No actions {scope} match x."
            scope = _("in your groups and assigned to you")
        found = list(ctx.session.scalars(
            select(Action).where(*where).options(*_list_options())
            .order_by(case((Action.status == OPEN, 0), else_=1), Action.id.desc())
            .limit(FIND_LIMIT + 1)
        ))
        said = " ".join(repr(w) if " " in w else w for w in words)
        reply = Reply()
        if not found:
            # TRANSLATORS: {words}: the words looked for, as typed
            return reply.say(_("No actions {scope} match {words}.", scope=scope, words=said))
        shown, total = _first_and_total(ctx, found, where, FIND_LIMIT)
        reply = reply.say(_("Actions {scope} matching {words}: {total}", scope=scope,
                            words=said, total=total), style="heading")
        reply = reply.add(Table(ACTION_HEADERS, tuple(action_row(a, ctx.today) for a in shown)))
        if total > len(shown):
            more = total - len(shown)
            reply = reply.say(_n(
                "…and {n} more (open first, then the newest). Add a word to narrow it down.",
                "…and {n} more (open first, then the newest). Add a word to narrow it down.",
                more))
        return reply


def _not_now(action: Action, to: str) -> Msg:
    """Why ``action`` cannot be made ``to`` from where it is (open, done or cancelled)."""
    label = action_label(action)
    if action.status == OPEN:
        return _("{action} is open already.", action=label)
    if action.status == to == DONE:
        return _("{action} is already done.", action=label)
    if action.status == to == CANCELLED:
        return _("{action} is already cancelled.", action=label)
    reopen = f"action reopen {label}"
    if action.status == DONE:
        # TRANSLATORS: {command} is a command to type (action reopen A-12): keep it as is
        return _("{action} is done: `{command}` first.", action=label, command=reopen)
    return _("{action} is cancelled: `{command}` first.", action=label, command=reopen)


def _first_and_total(ctx: Ctx, rows: list[Action], where: list[Any],
                     limit: int) -> tuple[list[Action], int]:
    """``rows`` was fetched with ``limit + 1``: the first ``limit`` to show, and how many
    match in all (counted only when there are more than fit, so a short list costs one query)."""
    total = len(rows)
    if total > limit:
        total = ctx.session.scalar(select(func.count(Action.id)).where(*where)) or 0
    return rows[:limit], total
