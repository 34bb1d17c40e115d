"""How people are written in a command line, per platform, as a table the adapters fill.

The core names no platform: each adapter registers its :class:`MentionSyntax` (a
:class:`PatternSyntax` for ids a client writes, a :class:`NameSyntax` for typed names) and
the composition root hands the table in through :class:`~handlers.context.CoreSettings`.
:mod:`handlers.people` resolves what it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from handlers.core.grammar import typed_name


class MentionSyntax(Protocol):
    """How one platform writes a person in a command line."""

    @property
    def platform(self) -> str:
        """The identity namespace the ids belong to (the adapter's platform name)."""
        ...

    @property
    def vouches(self) -> bool:
        """Whether an id in this syntax, typed on this platform, is a real account."""
        ...

    @property
    def local(self) -> bool:
        """Whether the syntax is read only on its own platform (a bare name is ambiguous
        elsewhere; a platform's unique ids are not)."""
        ...

    @property
    def portable(self) -> bool:
        """Whether an id in this syntax names the same person wherever it is typed, so
        that ``tg add`` on any platform may bring them in (a mail address: no platform
        issues it, and it reaches its owner from anywhere)."""
        ...

    def read(self, raw: str, *, bare: bool) -> str | None:
        """The external id ``raw`` names, or None. ``bare``: the grammar expects a person
        here, so a name without its sigil counts."""
        ...

    def shown(self, external_id: str) -> str:
        """The name a person first seen by this id is shown by (an id may not be for
        everyone's eyes: an address is named by its local part)."""
        ...

    def attempts(self, raw: str) -> bool:
        """Whether ``raw`` is written as a mention (so a malformed one is refused, not
        taken as text or a group name)."""
        ...


@dataclass(frozen=True)
class PatternSyntax:
    """Ids written by pattern: each pattern's group ``id`` is the external id."""

    platform: str
    patterns: tuple[re.Pattern[str], ...]
    attempt: re.Pattern[str]
    vouches: bool = True
    local: bool = False
    portable: bool = False

    def read(self, raw: str, *, bare: bool) -> str | None:
        for pattern in self.patterns:
            if (m := pattern.fullmatch(raw)) is not None:
                return m.group("id")
        return None

    def shown(self, external_id: str) -> str:
        return external_id

    def attempts(self, raw: str) -> bool:
        return self.attempt.match(raw) is not None


@dataclass(frozen=True)
class NameSyntax:
    """People named by a word (``@Émile``): a letter of any script, then letters, ASCII
    digits, ``.``, ``_``, ``-``; NFC, so both ways of typing an accent are one person. No
    one vouches for a typed name, and it means something only where it was typed."""

    platform: str
    vouches: bool = False
    local: bool = True
    portable: bool = False

    def read(self, raw: str, *, bare: bool) -> str | None:
        if not (bare or raw.startswith("@")):
            return None
        return typed_name(raw)

    def shown(self, external_id: str) -> str:
        return external_id

    def attempts(self, raw: str) -> bool:
        return raw.startswith("@")


@dataclass(frozen=True)
class MentionRules:
    """Every registered syntax; what a platform reads is its own first, then the others'
    that are not local."""

    syntaxes: tuple[MentionSyntax, ...] = ()

    @property
    def platforms(self) -> tuple[str, ...]:
        """The registered platforms, in registration order: also the order in which a
        person's direct messages prefer them."""
        return tuple(dict.fromkeys(s.platform for s in self.syntaxes))

    def dm_rank(self, platform: str) -> int:
        """Where ``platform`` stands in the direct-message preference (unknown ones last)."""
        order = self.platforms
        return order.index(platform) if platform in order else len(order)

    def own(self, platform: str) -> MentionSyntax | None:
        return next((s for s in self.syntaxes if s.platform == platform), None)

    def on(self, platform: str) -> list[MentionSyntax]:
        own = [s for s in self.syntaxes if s.platform == platform]
        return own + [s for s in self.syntaxes if s.platform != platform and not s.local]

    def read(self, raw: str, platform: str, *, bare: bool = False) -> tuple[str, str] | None:
        """``(platform, external_id)`` that ``raw`` names when typed on ``platform``."""
        for syntax in self.on(platform):
            if (ident := syntax.read(raw, bare=bare)) is not None:
                return syntax.platform, ident
        return None

    def attempted(self, raw: str, platform: str) -> bool:
        """Whether ``raw`` is written as a mention that ``platform`` reads, well formed or
        not: where a person or text may stand, it is then read as a person or refused,
        never kept as text. (Another platform's local syntax is text here: ``@room`` in a
        title on a platform whose people are not typed names.)"""
        return any(s.attempts(raw) for s in self.on(platform))

    def portable(self, platform: str) -> bool:
        """Whether ``platform``'s ids may be brought in from any platform."""
        own = self.own(platform)
        return own is not None and own.portable

    def shown(self, platform: str, external_id: str) -> str:
        own = self.own(platform)
        return external_id if own is None else own.shown(external_id)

    def vouched(self, ident_platform: str, typed_on: str) -> bool:
        return ident_platform == typed_on and any(
            s.vouches for s in self.syntaxes if s.platform == typed_on)
