"""One person where there were two: what named the one dropped names the one kept.

When someone links an address (``me email``) that an admin had added as a person of its
own (``tg add <group> <address>``), the two are one person: their memberships, actions,
notes, answers and audit rows move to the person who linked it. Every column that refers
to a person is found in the schema itself, so a table added later is merged too; a row
that would then be there twice (both were members of one group) keeps the kept person's.
"""

from __future__ import annotations

from sqlalchemy import Column, Table, UniqueConstraint, delete, exists, update
from sqlalchemy.orm import Session

from storage.models import Base, Person


def _unique_sets(table: Table) -> list[list[Column[object]]]:
    sets = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    # a primary key of several columns, one a person (an electorate, a round's askees)
    if len(table.primary_key.columns) > 1:
        sets.append(list(table.primary_key.columns))
    # a partial unique index is covered by the plain constraint beside it (NULLs compared
    # as equal below), so only whole-table unique indexes count
    sets += [list(i.columns) for i in table.indexes
             if i.unique and i.dialect_options["sqlite"].get("where") is None
             and i.dialect_options["postgresql"].get("where") is None]
    return sets


def merge_person(session: Session, keep: Person, drop: Person) -> None:
    """Every reference to ``drop`` made a reference to ``keep``; ``drop`` deleted."""
    assert keep.id != drop.id
    session.flush()
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != Person.__tablename__:
                continue
            col = fk.parent
            for unique in _unique_sets(table):
                if col not in unique:
                    continue
                others = [c for c in unique if c is not col]
                twin = table.alias("twin")
                clash = exists().where(twin.c[col.name] == keep.id, *(
                    twin.c[c.name].is_not_distinct_from(c) for c in others))
                session.execute(delete(table).where(col == drop.id, clash))
            session.execute(update(table).where(col == drop.id).values({col.name: keep.id}))
    session.expire_all()
    gone = session.get(Person, drop.id)
    if gone is not None:
        session.delete(gone)
    session.flush()
