"""Task groups: their channels, members, projects and settings, and channel-following."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.groups import _commands, _sync
from handlers.groups._commands import mention_list


def register(reg: Registry) -> None:
    _commands.register(reg)
    _sync.register(reg)


__all__ = [
    "mention_list",
    "register",
]
