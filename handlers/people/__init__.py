"""People: ``me``, what the bot knows of each person and where it reaches them (an address
linked with a code, where personal messages go)."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.people import _commands, _settings
from handlers.people._forget import forget_person, pseudonym
from handlers.people._merge import merge_person


def register(reg: Registry) -> None:
    _commands.register(reg)
    _settings.register(reg)


__all__ = ["forget_person", "merge_person", "pseudonym", "register"]
