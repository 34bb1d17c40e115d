"""Tokens and argument parsing shared by every command.

Tokens keep their position in the line so free text (``<text...>``) is reproduced exactly as
typed, apostrophes and spacing included. Options that trail free text (``due <date>``,
``group <group>``) are taken from the right only when what follows them parses, so
"report due to the weather" stays text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from handlers.core.i18n import _, _n

T = TypeVar("T")

MAX_LINE = 4000
# The longest value a trailing option can have (``due <date>``, ``group <name...>``, ``for
# <duration>``): a group's full name is the longest. Longer runs are never tried, so peeling
# options costs the line's length once, not once per keyword in it.
OPTION_MAX = 128
# C0 control characters but tab and newline: the store (PostgreSQL) refuses NUL, and none of
# them belongs in a command
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def control_character_error(line: str) -> str | None:
    """The error message for a line with a control character in it, or None."""
    m = _CONTROL.search(line)
    if m is None:
        return None
    code = format(ord(m.group()), "04X")
    return _("That line contains a control character (U+{code}); type it again.", code=code)


class UserError(Exception):
    """A problem with what the user typed; the router adds the command's usage."""

    def __init__(self, message: str, *, show_usage: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.show_usage = show_usage


class Refused(UserError):
    """A permission refusal; the message names the role that is needed."""

    def __init__(self, needed: str, what: str | None = None) -> None:
        # TRANSLATORS: {who} is who may (an admin, a chair of a group); {what} is a
        # command, like `tg add`.
        super().__init__(_("Only {who} can do {what}.", who=needed, what=what) if what
                         else _("Only {who} can do this.", who=needed))


@dataclass(frozen=True)
class Token:
    value: str
    start: int
    end: int
    quoted: bool = False


_QUOTES = {'"': '"', "“": "”", "”": "”"}


def tokenize(line: str) -> list[Token]:
    """Split on whitespace; ``"..."`` groups words, ``<...>`` (a bracketed mention) is one
    token."""
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        start = i
        ch = line[i]
        if ch in _QUOTES:
            close = line.find(_QUOTES[ch], i + 1)
            if close != -1:
                tokens.append(Token(line[i + 1 : close], start, close + 1, quoted=True))
                i = close + 1
                continue
        if ch == "<":
            close = line.find(">", i + 1)
            if close != -1 and not any(c.isspace() for c in line[i : close]):
                tokens.append(Token(line[i : close + 1], start, close + 1))
                i = close + 1
                continue
        while i < n and not line[i].isspace():
            i += 1
        tokens.append(Token(line[start:i], start, i))
    return tokens


class Args:
    """A cursor over the tokens of one command line (after the command words)."""

    def __init__(self, line: str, tokens: Sequence[Token]) -> None:
        self.line = line
        self.tokens = list(tokens)
        self.pos = 0
        # an option keyword whose value did not parse: token -> why, so that a line left
        # over with it says what was wrong with the option, not just "unexpected"
        self.failed_options: dict[int, str] = {}

    @classmethod
    def of(cls, line: str) -> Args:
        return cls(line, tokenize(line))

    def __len__(self) -> int:
        return len(self.tokens) - self.pos

    def empty(self) -> bool:
        return self.pos >= len(self.tokens)

    def peek(self, k: int = 0) -> str | None:
        i = self.pos + k
        return self.tokens[i].value if i < len(self.tokens) else None

    def next(self, what: str) -> str:
        if self.empty():
            # TRANSLATORS: {what} is what the command needed next, like <group> or text.
            raise UserError(_("Missing {what}.", what=what))
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok.value

    def accept(self, *words: str) -> str | None:
        """Consume the next token if it is one of ``words`` (case-insensitive)."""
        tok = self.peek()
        if tok is not None and tok.lower() in words:
            self.pos += 1
            return tok.lower()
        return None

    def remaining(self) -> list[str]:
        return [t.value for t in self.tokens[self.pos :]]

    def text_between(self, start: int, end: int) -> str:
        """The original text of tokens ``start``..``end``-1 (absolute indexes)."""
        if start >= end:
            return ""
        toks = self.tokens[start:end]
        if len(toks) == 1 and toks[0].quoted:
            return toks[0].value
        return self.line[toks[0].start : toks[-1].end].strip()

    # TRANSLATORS: what a command is missing, as in "Missing text.".
    def rest_text(self, what: str = _("text"), *, required: bool = True) -> str:
        text = self.text_between(self.pos, len(self.tokens))
        self.pos = len(self.tokens)
        if required and not text:
            # TRANSLATORS: {what} is what the command needed next, like <group> or text.
            raise UserError(_("Missing {what}.", what=what))
        return text

    def done(self) -> None:
        if self.empty():
            return
        failed = [i for i in self.failed_options if self.pos <= i < len(self.tokens)]
        if failed:
            i = min(failed)
            option = self.line[self.tokens[i].start:self.tokens[-1].end]
            raise UserError(_("Could not read {option}: {problem}", option=repr(option),
                              problem=self.failed_options[i]))
        raise UserError(_("Unexpected {word}.", word=repr(self.peek())))

    def take_trailing_options(
        self, parsers: dict[str, Callable[[list[str]], T]]
    ) -> tuple[int, dict[str, T]]:
        """Peel ``keyword <value...>`` options off the end of the line.

        Returns the end index of what is left (free text) and the parsed options. An option
        is taken only if its keyword stands after the cursor and its value (at most
        OPTION_MAX characters) parses; the rightmost such keyword wins, so a keyword inside
        the text is left alone.
        """
        end = len(self.tokens)
        found: dict[str, T] = {}
        progress = True
        while progress:
            progress = False
            for i in range(end - 1, self.pos - 1, -1):
                if i + 1 < end and self.tokens[end - 1].end - self.tokens[i + 1].start > OPTION_MAX:
                    break  # every keyword further left has a longer value still
                word = self.tokens[i].value.lower()
                if word not in parsers or word in found or self.tokens[i].quoted:
                    continue
                values = [t.value for t in self.tokens[i + 1 : end]]
                if not values:
                    continue
                try:
                    found[word] = parsers[word](values)
                except UserError as err:
                    self.failed_options.setdefault(i, err.message)
                    continue
                self.failed_options.pop(i, None)
                end = i
                progress = True
                break
        return end, found


# --- small value parsers -------------------------------------------------------------------

_ID = re.compile(r"^(?:([A-Za-z])-?)?(\d{1,9})$", re.ASCII)


def ascii_int(raw: str, max_digits: int = 18) -> int | None:
    """``raw`` as a whole number when it is 0-9 only (at most ``max_digits`` of them), else
    None. Every number read from outside text goes through here or an ``re.ASCII``
    pattern: ``str.isdigit`` also passes ``²`` (which ``int`` then refuses with an
    exception) and ``int`` reads other scripts' digits (``٣`` is 3), signs, spaces and ``_``.
    """
    if 0 < len(raw) <= max_digits and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def parse_id(raw: str, prefix: str, what: str) -> int:
    """``A-12``, ``a12`` or ``12`` for prefix ``A``."""
    m = _ID.match(raw.strip())
    if not m or (m.group(1) and m.group(1).upper() != prefix):
        # TRANSLATORS: {what} is the kind of record, like "an action"; {prefix} a letter.
        raise UserError(_("{raw} is not {what} id (like {prefix}-12 or 12).", raw=repr(raw),
                          what=what, prefix=prefix))
    return int(m.group(2))


def check_length(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if len(value) > limit:
        # TRANSLATORS: {what} is what was typed, like "title".
        raise UserError(_n("The {what} is too long ({n} character; at most {limit}).",
                           "The {what} is too long ({n} characters; at most {limit}).",
                           len(value), what=what, limit=limit))
    return value


# a typed name: a letter of any script, then letters, ASCII digits, '.', '_', '-'
_TYPED_NAME = re.compile(r"^@?([^\W\d_](?:[^\W\d]|[0-9.\-]){0,63})$")


def typed_name(raw: str) -> str | None:
    """The person a typed word names (``@Émile`` or ``Émile``, NFC so that both ways of
    typing an accent are one person), or None."""
    m = _TYPED_NAME.match(unicodedata.normalize("NFC", raw.strip()))
    return m.group(1) if m else None


