"""Schedule kinds are registered by the features that own them, each once, and handed to
the delivery engine by the composition root (no module-level table to mutate)."""

from __future__ import annotations

import pytest

from handlers.catalog import build_registry
from handlers.core.scheduling import ScheduleKinds


def test_every_kind_is_registered_once_by_its_feature() -> None:
    kinds = build_registry().kinds
    assert sorted(kinds.composers) == [
        "ack_reminder", "action_nudge", "boc_report", "boc_summary", "checkin_prompt",
        "checkin_reminder", "meeting_minutes",
        "meeting_reminder", "post", "proposal_reminder", "weekly_digest"]
    planners = {f"{p.__module__}.{p.__qualname__}" for p in kinds.planners}
    assert len(planners) == len(kinds.planners)
    # each planner lives in the feature that owns its kind, none in the engine or the core
    assert all(name.startswith("handlers.") and ".core." not in name
               and ".delivery." not in name for name in planners), planners


def test_two_registries_share_nothing() -> None:
    first, second = build_registry().kinds, build_registry().kinds
    assert first.composers == second.composers
    assert first.composers is not second.composers and first.planners is not second.planners


def test_a_kind_cannot_be_claimed_twice() -> None:
    kinds = ScheduleKinds()
    kinds.kind("x", lambda session, payload, settings: None)
    with pytest.raises(ValueError, match="'x' is registered twice"):
        kinds.kind("x", lambda session, payload, settings: None)
