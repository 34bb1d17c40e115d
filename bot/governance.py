"""Governance files: TOML in, ``handlers.governance`` does the work.

The Scalable Cities preset ships as package data (``bot/presets/scalable_cities.toml``).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings
from handlers.core.grammar import UserError
from handlers.governance import Outcome, apply_governance, apply_with_overrides

PRESET = "scalable_cities.toml"


def load_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{source} is not valid TOML: {err}", show_usage=False) from None


def read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"Cannot read {path}: {err.strerror or err}", show_usage=False) from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text.", show_usage=False) from None
    return load_toml(text, str(path))


def preset_text() -> str:
    return resources.files("bot").joinpath("presets", PRESET).read_text(encoding="utf-8")


def apply_data(session: Session, settings: CoreSettings, data: dict[str, Any]) -> list[str]:
    return apply_governance(session, settings, data, now=settings.clock())


def apply_file(session: Session, settings: CoreSettings, path: Path | str) -> list[str]:
    """Apply a governance file inside the caller's transaction; returns the changes."""
    return apply_data(session, settings, read_file(Path(path)))


def apply_preset(session: Session, settings: CoreSettings) -> list[str]:
    """Apply the shipped Scalable Cities preset inside the caller's transaction."""
    return apply_data(session, settings, load_toml(preset_text(), f"preset {PRESET}"))


def outcome_of_file(session: Session, settings: CoreSettings, path: Path | str) -> Outcome:
    """Apply a file in the caller's transaction; the outcome names what undoes chat."""
    return apply_with_overrides(session, settings, read_file(Path(path)), now=settings.clock())


def outcome_of_preset(session: Session, settings: CoreSettings) -> Outcome:
    data = load_toml(preset_text(), f"preset {PRESET}")
    return apply_with_overrides(session, settings, data, now=settings.clock())
