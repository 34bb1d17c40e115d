"""The catalog: every feature the bot has, registered in the order help lists them.

The one module above the features; the composition root builds its registry here. The core
(router) imports no feature, so a feature is added by adding it to this list.
"""

from __future__ import annotations

from handlers import (
    actions,
    admin,
    checkins,
    decisions,
    groups,
    meeting_mode,
    meetings,
    people,
    proposals,
    reports,
    secretariat,
)
from handlers.core.platforms import Platforms
from handlers.core.router import Registry

FEATURES = (groups, meetings, meeting_mode, actions, decisions, proposals, checkins, secretariat,
            reports, people, admin)


def build_registry(platforms: Platforms | None = None) -> Registry:
    """Every feature's commands and kinds; ``platforms``: the profiles of the platforms the
    process serves, for the commands their declarations add (``me email``)."""
    reg = Registry(platforms)
    for feature in FEATURES:
        feature.register(reg)
    return reg
