"""Migration steps that are safe on a live PostgreSQL, for revisions to call.

A plain ``CREATE INDEX`` inside the upgrade transaction holds a lock that blocks every write
to the table for the whole build. On PostgreSQL these helpers build the index
``CONCURRENTLY`` outside the transaction (Alembic's ``autocommit_block``), ``IF NOT EXISTS``
so a re-run after an interruption is harmless, and drop first an index an interrupted
concurrent build left behind invalid (it exists, but is never used nor finished). On SQLite
the same step is a plain ``CREATE INDEX IF NOT EXISTS`` in the upgrade's one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text


def _quote(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote(name)


def create_index(name: str, table: str, columns: Sequence[str], *, unique: bool = False) -> None:
    """The index ``name`` on ``table(columns)``, without blocking writes on PostgreSQL."""
    cols = ", ".join(_quote(c) for c in columns)
    kind = "UNIQUE INDEX" if unique else "INDEX"
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"CREATE {kind} IF NOT EXISTS {_quote(name)} ON {_quote(table)} ({cols})")
        return
    with op.get_context().autocommit_block():
        valid = op.get_bind().execute(text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ), {"name": name}).scalar()
        if valid is False:  # left by an interrupted concurrent build
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(name)}")
        op.execute(f"CREATE {kind} CONCURRENTLY IF NOT EXISTS {_quote(name)} "
                   f"ON {_quote(table)} ({cols})")


def drop_index(name: str) -> None:
    """Drop ``name`` without blocking the table's readers and writers on PostgreSQL."""
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {_quote(name)}")
        return
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(name)}")
