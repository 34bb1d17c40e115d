"""SQL constructs that each database spells its own way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnExpressionArgument
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
