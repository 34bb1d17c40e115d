"""How a mail address is written in a command line, and the profile of the mail platform.

An address is read as a person wherever a ``<@user>`` is accepted (``ana@city.eu``,
``<ana@city.eu>``, ``mailto:ana@city.eu``), on every platform: no platform issues it, so it
is portable (``tg add`` brings it in from anywhere) but vouched for by no one. It is
validated before anything is stored: a dot-atom local part and a dotted host name (ASCII),
within the lengths SMTP allows, and kept in lower case so that one mailbox is one person.
A person first seen by an address is named by its local part: the address itself is shown
to no one who could not see it already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.core.platforms import Profile

PLATFORM = "email"
ADDRESS_MAX = 254  # RFC 5321's path limit, less the angle brackets
LOCAL_MAX = 64

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})", re.ASCII)
_WRAPPED = re.compile(r"<(?P<a>[^<>\s]*)>|mailto:(?P<m>\S*)", re.IGNORECASE)
# written as an address: something, then "@" (a Matrix id or a Slack mention starts with "@"
# or "<@", a typed name with "@": none of them is an attempt)
_ATTEMPT = re.compile(r"(?:mailto:|<)?[^\s@<>/:]+@", re.IGNORECASE)


def parse_address(raw: str) -> str | None:
    """The address ``raw`` is, in lower case, or None when it is not a valid one."""
    if len(raw) > ADDRESS_MAX + 9:  # "mailto:" or "<>" around the longest address
        return None
    wrapped = _WRAPPED.fullmatch(raw)
    text = (wrapped.group("a") if wrapped.group("a") is not None else wrapped.group("m")) \
        if wrapped else raw
    if len(text) > ADDRESS_MAX:
        return None
    m = _ADDRESS.fullmatch(text)
    if m is None or len(m.group("local")) > LOCAL_MAX:
        return None
    return text.lower()


@dataclass(frozen=True)
class AddressSyntax:
    """The mail platform's :class:`~handlers.core.mentions.MentionSyntax`."""

    platform: str = PLATFORM
    vouches: bool = False  # anyone can type any address: typing one proves nothing
    local: bool = False  # an address means the same mailbox on every platform
    portable: bool = True

    def read(self, raw: str, *, bare: bool) -> str | None:
        return parse_address(raw)

    def attempts(self, raw: str) -> bool:
        return _ATTEMPT.match(raw) is not None

    def shown(self, external_id: str) -> str:
        return external_id.partition("@")[0] or external_id


EMAIL = Profile(PLATFORM, AddressSyntax(), rooms=False, contact="email")
