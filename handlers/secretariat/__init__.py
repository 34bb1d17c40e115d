"""The secretariat's cross-group views and the BoC summary before each Board meeting."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.secretariat import _commands
from handlers.secretariat._commands import (
    CSV_HEADER,
    ActionQuery,
    actions_table,
    csv_batches,
    known_projects,
    matching,
    query_params,
    write_csv,
)


def register(reg: Registry) -> None:
    _commands.register(reg)


__all__ = [
    "CSV_HEADER", "ActionQuery", "actions_table", "csv_batches", "known_projects", "matching",
    "query_params", "register", "write_csv",
]
