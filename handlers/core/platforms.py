"""The platforms as the core may know them: what each adapter registers about itself.

The core names no platform. An adapter describes its platform once, in a
:class:`Profile` (how people are written there, how commands are written there), and the
composition root hands the table to the core through
:class:`~handlers.context.CoreSettings`. A new platform is one more profile, and no edit
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from handlers.core.mentions import MentionRules, MentionSyntax


@dataclass(frozen=True)
class Profile:
    """One platform, described by its adapter."""

    name: str  # the identity and channel namespace (``Identity.platform``)
    mentions: MentionSyntax
    # the character that starts a command where commands have one ("" where a whole line
    # is the command); a line typed elsewhere may carry it too (pasted from the docs)
    sigil: str = ""
    # whether the platform has shared channels; where it has none (mail), a post to a
    # group reaches each member who reads only there one by one (``handlers.core.reach``)
    rooms: bool = True
    # the word people link an address of this platform to themselves with
    # (``me <contact> <address>``) and ask for personal messages there with (``me notify
    # <contact>``): a platform without rooms whose ids anyone can type (mail)
    contact: str = ""

    def __post_init__(self) -> None:
        if self.mentions.platform != self.name:
            raise ValueError(f"profile {self.name!r} carries {self.mentions.platform!r}'s mentions")
        if len(self.sigil) > 1 or self.sigil.isalnum() or self.sigil.isspace():
            raise ValueError(f"profile {self.name!r}: a sigil is one punctuation character")
        if self.contact and not (self.contact.isascii() and self.contact.isalpha()
                                 and self.contact.islower()):
            raise ValueError(f"profile {self.name!r}: a contact word is lower-case letters")
        if self.contact and (self.rooms or not self.mentions.portable):
            raise ValueError(f"profile {self.name!r}: only a platform without rooms whose "
                             "ids are portable has contact addresses")


@dataclass(frozen=True)
class Platforms:
    """Every registered profile, in registration order: also the order in which a person's
    direct messages prefer them."""

    profiles: tuple[Profile, ...] = ()

    def __post_init__(self) -> None:
        names = [p.name for p in self.profiles]
        if len(set(names)) != len(names):
            raise ValueError(f"a platform is registered twice: {names}")

    @cached_property
    def mentions(self) -> MentionRules:
        return MentionRules(tuple(p.mentions for p in self.profiles))

    @cached_property
    def sigils(self) -> frozenset[str]:
        """Every character some platform starts its commands with."""
        return frozenset(p.sigil for p in self.profiles if p.sigil)

    @cached_property
    def contacts(self) -> dict[str, str]:
        """contact word -> platform, for the platforms people link addresses of."""
        return {p.contact: p.name for p in self.profiles if p.contact}

    @cached_property
    def roomless(self) -> frozenset[str]:
        """The platforms whose people are reached one by one, never in a channel."""
        return frozenset(p.name for p in self.profiles if not p.rooms)

    def strip_sigil(self, line: str) -> str:
        """``line`` without one leading command sigil of any platform (a command pasted
        from another platform's docs is still the command)."""
        return line[1:] if line[:1] in self.sigils else line
