"""Governance as code: make groups, channels, roles and series match a declaration."""

from __future__ import annotations

from handlers.governance._presets import (
    Outcome,
    apply_governance,
    apply_with_overrides,
    describe,
    export_governance,
)

__all__ = [
    "Outcome", "apply_governance", "apply_with_overrides", "describe", "export_governance",
]
