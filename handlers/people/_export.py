"""``me export``: everything the bot keeps about a person, as one JSON file for them.

What refers to a person is found in the schema itself (every column that points at
``people``), so a table added later is in the export without a change here; so are the
audit rows about them (``entity = person``). Secrets are left out: a code's hash, a link's
token. The file goes to the person alone (a private reply with a file: their direct chat).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from storage.models import AuditLog, Base, Person

SECRET_COLUMNS = frozenset({"code_hash", "token"})
ROWS_MAX = 50_000  # per table: a person's rows, never the store's
LINK_CHUNK = 1000  # ids per query for the rows theirs point at


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _person_columns(table: Table) -> list[Any]:
    return [fk.parent for fk in table.foreign_keys
            if fk.column.table.name == Person.__tablename__]


def person_data(session: Session, person: Person, now: dt.datetime) -> dict[str, Any]:
    """The export as a JSON-ready mapping: the person's own row, then per table the rows
    that name them, every column but the secret ones."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        columns = _person_columns(table)
        where = [c == person.id for c in columns]
        if table.name == AuditLog.__tablename__:
            where.append((table.c.entity == "person") & (table.c.entity_id == person.id))
        if not where:
            continue
        keep = [c for c in table.columns if c.name not in SECRET_COLUMNS]
        rows = session.execute(select(*keep).where(or_(*where))
                               .order_by(*table.primary_key.columns).limit(ROWS_MAX))
        found = [{c.name: _value(v) for c, v in zip(keep, row, strict=True)} for row in rows]
        if found:
            tables[table.name] = found
    return {
        "exported_at": now.isoformat(),
        "person": {"id": person.id, "display_name": person.display_name,
                   "is_admin": person.is_admin, "created_at": _value(person.created_at),
                   "settings": person.settings or {}},
        "tables": tables,
        "linked": _linked(session, tables),
    }


def _linked(session: Session, tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The rows the person's rows point at (the actions they are assigned, the decisions
    they acknowledged, the groups they are in), so the file says what each row is about."""
    wanted: dict[str, set[Any]] = {}
    by_name = {t.name: t for t in Base.metadata.sorted_tables}
    for name, rows in tables.items():
        for fk in by_name[name].foreign_keys:
            target = fk.column.table
            if target.name in (Person.__tablename__, name):
                continue
            key = next(iter(target.primary_key.columns)).name
            have = {row[key] for row in tables.get(target.name, ())}  # exported already
            ids = {row[fk.parent.name] for row in rows
                   if row.get(fk.parent.name) is not None} - have
            if ids:
                wanted.setdefault(target.name, set()).update(ids)
    linked: dict[str, list[dict[str, Any]]] = {}
    for name, ids in sorted(wanted.items()):
        table = by_name[name]
        key_column = next(iter(table.primary_key.columns))
        keep = [c for c in table.columns if c.name not in SECRET_COLUMNS]
        ordered = sorted(ids)[:ROWS_MAX]
        rows_out: list[dict[str, Any]] = []
        for at in range(0, len(ordered), LINK_CHUNK):  # SQLite takes so many parameters
            found = session.execute(select(*keep).where(
                key_column.in_(ordered[at:at + LINK_CHUNK])).order_by(key_column))
            rows_out += [{c.name: _value(v) for c, v in zip(keep, row, strict=True)}
                         for row in found]
        linked[name] = rows_out
    return linked


def export_json(session: Session, person: Person, now: dt.datetime) -> bytes:
    return json.dumps(person_data(session, person, now), ensure_ascii=False, indent=1,
                      sort_keys=True).encode("utf-8")
