"""Meeting mode: a meeting run in its channel, its captured lines, and its minutes."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.meeting_mode import _capture, _minutes
from handlers.meeting_mode._capture import zone_of


def register(reg: Registry) -> None:
    _capture.register(reg)
    _minutes.register(reg)


__all__ = [
    "register", "zone_of",
]
