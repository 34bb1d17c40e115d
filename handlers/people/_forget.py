"""``admin forget``: a person erased, the programme's records kept whole.

Their accounts, addresses, pending codes and feed keys are deleted, and their
memberships and join requests with them; the person row stays, under a stable pseudonym
(``former member #12``), so the actions, notes, answers, decisions and audit rows that
name them stay whole but no longer name them. Where the text of a record names them (an
action's title, minutes, a decision, an audit row's details, a queued message), every
mention of their name or ids is replaced by the pseudonym: every text and JSON column of
the schema is searched, so a table added later is swept too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from handlers.core.mentions import MentionRules
from storage.models import (
    Base,
    ContactCode,
    Identity,
    JoinRequest,
    LinkKey,
    Membership,
    Person,
)

TERM_MIN = 2  # a one-letter name is no name to search text for
# the rows that are people's own: the forgotten person's are deleted or rewritten above,
# and everyone else's (another person shown by the same name) are not theirs to touch
OWN_TABLES = frozenset({Person.__tablename__, Identity.__tablename__,
                        ContactCode.__tablename__})


def pseudonym(person_id: int) -> str:
    return f"former member #{person_id}"


def _terms(session: Session, person: Person, mentions: MentionRules) -> list[str]:
    found = {person.display_name}
    for ident in person.identities:
        found.add(ident.external_id)
        found.add(mentions.shown(ident.platform, ident.external_id).lstrip("@"))
    found.update(session.scalars(select(ContactCode.external_id)
                                 .where(ContactCode.person_id == person.id)))
    return sorted((t for t in found if len(t) >= TERM_MIN), key=len, reverse=True)


def _pattern(terms: list[str]) -> re.Pattern[str]:
    """Any of the terms as a whole word (an "@" before it taken with it): "ana" in "Ana's"
    or "@ana", never in "banana", nor as a part of an address (``ana@other.eu``,
    ``bob@ana.eu``)."""
    alternatives = "|".join(re.escape(t) for t in terms)
    return re.compile(rf"(?<![\w.@-])@?(?:{alternatives})(?![\w@-]|\.\w)", re.IGNORECASE)


def _swap(value: Any, pattern: re.Pattern[str], name: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(name, value)
    if isinstance(value, dict | list):
        return json.loads(pattern.sub(name, json.dumps(value, ensure_ascii=False)))
    return value


def _like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sweep(session: Session, table: Table, terms: list[str], pattern: re.Pattern[str],
           name: str) -> int:
    """The table's rows whose text names the person, rewritten; a row whose key does is
    deleted (a mark or a cache, never a record)."""
    changed = 0
    keys = list(table.primary_key.columns)
    for column in table.columns:
        if not isinstance(column.type, String | Text | JSON):
            continue
        as_json = isinstance(column.type, JSON)
        text = cast(column, Text) if as_json else column
        # JSON is stored with non-ASCII escaped: look for that spelling too
        wanted = set(terms) | ({json.dumps(t)[1:-1] for t in terms} if as_json else set())
        hits = or_(*(text.ilike(f"%{_like(t)}%", escape="\\") for t in sorted(wanted)))
        rows = session.execute(select(*keys, column).where(hits)).all()
        if column.primary_key:
            # what the search found by substring, deleted only where the word is hers
            for *ids, value in rows:
                if pattern.search(str(value)):
                    session.execute(delete(table).where(
                        *(k == v for k, v in zip(keys, ids, strict=True))))
                    changed += 1
            continue
        for row in rows:
            *ids, value = row
            new = _swap(value, pattern, name)
            if new != value:
                session.execute(update(table).where(
                    *(k == v for k, v in zip(keys, ids, strict=True))).values({column.name: new}))
                changed += 1
    return changed


def forget_person(session: Session, person: Person, mentions: MentionRules) -> int:
    """Erase ``person`` as the module says; returns how many records' text was rewritten."""
    name = pseudonym(person.id)
    # a word of the pseudonym itself ("member") cannot be searched for: it would be found
    # again in every record just rewritten
    terms = [t for t in _terms(session, person, mentions) if t.lower() not in name.lower()]
    for model in (Identity, ContactCode, LinkKey, Membership, JoinRequest):
        session.execute(delete(model).where(model.person_id == person.id))
    session.execute(update(Person).where(Person.id == person.id).values(
        display_name=name, settings={}, is_admin=False))
    session.flush()
    changed = 0
    if terms:
        pattern = _pattern(terms)
        for table in Base.metadata.sorted_tables:
            if table.name not in OWN_TABLES:
                changed += _sweep(session, table, terms, pattern, name)
    session.expire_all()
    return changed
