"""How Matrix writes a person: a user id (``@bob:example.org``) or a pill
(``https://matrix.to/#/@bob:example.org``). The homeserver issues the ids, so they are
vouched for, and unique enough to be read on every platform."""

from __future__ import annotations

import re

from handlers.core.mentions import PatternSyntax
from handlers.core.platforms import Profile

_USER_ID = r"@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(?::\d+)?"

MATRIX_MENTIONS = PatternSyntax(
    platform="matrix",
    patterns=(
        re.compile(rf"(?P<id>{_USER_ID})", re.ASCII),
        re.compile(rf"https://matrix\.to/#/(?P<id>{_USER_ID})(?:\?\S*)?", re.ASCII),
    ),
    # "@x:" or a matrix.to link: written as a Matrix id, even where it is not a valid one
    attempt=re.compile(r"@[^\s:]*:|https://matrix\.to/#/"),
)

MATRIX = Profile("matrix", MATRIX_MENTIONS, sigil="!")
