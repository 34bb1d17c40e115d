"""A person's own page: their actions, their groups' next meetings, recent decisions."""

from __future__ import annotations

from handlers.home._page import home

__all__ = [
    "home",
]
