"""Admins beyond TASKBOT_ADMINS, made and unmade by other admins."""

from __future__ import annotations

from handlers.admin import _commands
from handlers.core.router import Registry


def register(reg: Registry) -> None:
    _commands.register(reg)


__all__ = [
    "register",
]
