"""Task groups: their channels, members, projects and settings, and channel-following."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.groups import _commands
from handlers.groups._sync import channel_membership_changed


def register(reg: Registry) -> None:
    _commands.register(reg)


__all__ = [
    "channel_membership_changed", "register",
]
