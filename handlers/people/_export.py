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
            if target.name in (Person.__tablename__, name) or target.name in tables:
                continue
            ids = {row[fk.parent.name] for row in rows if row.get(fk.parent.name) is not None}
            if ids:
                wanted.setdefault(target.name, set()).update(ids)
    linked: dict[str, list[dict[str, Any]]] = {}
    for name, ids in sorted(wanted.items()):
        table = by_name[name]
        key = next(iter(table.primary_key.columns))
        keep = [c for c in table.columns if c.name not in SECRET_COLUMNS]
        found = session.execute(select(*keep).where(key.in_(sorted(ids)[:ROWS_MAX]))
                                .order_by(key))
        linked[name] = [{c.name: _value(v) for c, v in zip(keep, row, strict=True)}
                        for row in found]
    return linked


def export_json(session: Session, person: Person, now: dt.datetime) -> bytes:
    return json.dumps(person_data(session, person, now), ensure_ascii=False, indent=1,
                      sort_keys=True).encode("utf-8")
