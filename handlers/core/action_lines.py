"""Open actions as lines (number, title, assignees, due day), as reminders, nudges and
digests list them: one way of reading and showing them for every scheduled message."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from handlers.core.i18n import _
from handlers.core.messages import Day, Mention, Text
from storage.models import Action, ActionAssignee, Identity, Person
from storage.sql import undated_last


def open_actions(session: Session, *where: Any, limit: int | None = None) -> list[Action]:
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


def person_mention(p: Person) -> Mention:
    return Mention(p.id, p.display_name, tuple((i.platform, i.external_id) for i in p.identities))


def action_text(action_id: int, title: str, assignees: list[Mention],
                due: dt.date | None) -> Text:
    spans: list[Any] = [f"• A-{action_id} {title}"]
    for i, who in enumerate(assignees):
        spans.extend([" — " if i == 0 else ", ", who])
    if due:
        # TRANSLATORS: after an action in a list of actions: the day it is due.
        spans.extend([" ", _("(due {date})", date=Day(due))])
    return Text(tuple(spans))


def action_line(a: Action) -> Text:
    return action_text(a.id, a.title, [person_mention(x.person) for x in a.assignees], a.due)


def open_action_lines(session: Session, group_ids: set[int],
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
        out[r.group_id].append(action_text(r.id, r.title, mentions, r.due))
    return out
