"""Catalogs for tests: a pseudo-language that wraps every message, so what a person reads
that no catalog could translate (English nobody marked) stands out."""

from __future__ import annotations

import gettext
import re

from handlers.core.i18n import install

PSEUDO = "qps"  # the code tools use for a pseudo-locale
OPEN, CLOSE = "⟦", "⟧"


class Wrapped(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return OPEN + message + CLOSE

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return OPEN + (msgid1 if n == 1 else msgid2) + CLOSE


def install_pseudo() -> str:
    install(PSEUDO, Wrapped())
    return PSEUDO


_MARKED = re.compile(OPEN + "[^" + OPEN + CLOSE + "]*" + CLOSE)


def unmarked(text: str) -> str:
    """What is left of ``text`` once every translated message is taken out (nested ones
    from the inside out)."""
    while True:
        shorter = _MARKED.sub(" ", text)
        if shorter == text:
            return text
        text = shorter
