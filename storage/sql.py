"""SQL constructs that each database spells its own way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnExpressionArgument, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class UndatedLast(ColumnElement[Any]):
    """An ``ORDER BY`` key: ``column`` ascending with its NULLs after every value.

    SQLite sorts NULLs first, so it needs a leading ``column IS NULL``; PostgreSQL already
    sorts them last, and there that leading key would only stop it from reading an index in
    order and make every sort dearer (the full CSV export's select: 0.86 s against 0.35 s).
    """

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnExpressionArgument[Any]) -> None:
        self.column: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)


@compiles(UndatedLast)
def _nulls_first_databases(element: UndatedLast, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IS NULL, {column}"


@compiles(UndatedLast, "postgresql")
def _postgresql(element: UndatedLast, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


def undated_last(column: ColumnExpressionArgument[Any]) -> UndatedLast:
    return UndatedLast(column)


SQLITE_LOWER = "taskbot_lower"  # registered on every SQLite connection (storage.db)


def sqlite_lower(value: str | None) -> str | None:
    """Python's ``str.lower`` for SQLite, whose own ``lower()`` folds ASCII letters only."""
    return None if value is None else value.lower()


class Folded(ColumnElement[str]):
    """``column`` in lower case, for case-insensitive matching: ``lower()`` on PostgreSQL
    (which folds every letter under a UTF-8 ``LC_CTYPE``), :func:`sqlite_lower` on SQLite
    (so ``Émile`` finds ``émile`` there too). Compare it with ``str.lower()`` of the words."""

    inherit_cache = True
    type = String()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnExpressionArgument[Any]) -> None:
        self.column: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)


@compiles(Folded)
def _lower(element: Folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.column, **kw)})"


@compiles(Folded, "sqlite")
def _sqlite_lower(element: Folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.column, **kw)})"


def folded(column: ColumnExpressionArgument[Any]) -> Folded:
    return Folded(column)
