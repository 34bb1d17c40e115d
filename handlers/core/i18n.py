"""Messages in the reader's language, times in the reader's zone: decided once, at the edge.

A handler writes every sentence it shows as ``_("No action {label}.", label=...)``. The
value is a :class:`Msg`: a ``str`` holding the English text (so code, logs and tests that
read it as text see what they always saw) that keeps its message id and arguments. Nothing
is translated where the reply is built, because the builder does not know who reads it: a
command's reply is read by the caller, the same decision's post by each group in its own
language, its mail copy by each recipient. :func:`localize` is applied where that is known,
once: the router for the reply to a command, the delivery engine for every outbox row. An
argument may be a span (a mention, a time, a day): the translated sentence is cut at its
placeholders, so a mention stays a mention wherever the language puts it.

Catalogs are gettext ``.po`` files in ``handlers/locale/<lang>/LC_MESSAGES/taskbot.po``,
read through Babel (plural rules included); dates and weekdays come from Babel's CLDR data.
``python -m scripts.messages`` extracts the template and updates the catalogs;
``tests/test_catalogs.py`` fails when a catalog misses a message or a placeholder.
"""

from __future__ import annotations

import functools
import gettext
import io
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Union

from handlers.core.messages import (
    Block,
    Button,
    Buttons,
    Day,
    File,
    Link,
    Mention,
    Reply,
    Span,
    Table,
    Text,
    When,
    plain_of,
)

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "taskbot"

Arg = Union[str, int, float, Mention, When, Day, Link, "Msg"]


def _plain(value: Arg) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return plain_of(value)


def _spanned(value: Arg) -> bool:
    """Whether an argument must stay a span (a native mention, a time for the reader)."""
    if isinstance(value, Msg):
        return value.spanned
    return isinstance(value, Mention | When | Day | Link)


class Msg(str):
    """A sentence for the reader: its English text, with what it takes to say it in
    another language (its message id, plural and arguments)."""

    msgid: str
    plural: str
    n: int | None
    args: tuple[tuple[str, Arg], ...]
    spanned: bool

    def __new__(cls, msgid: str, plural: str = "", n: int | None = None,
                args: Mapping[str, Arg] | None = None) -> Msg:
        items = tuple((args or {}).items())
        chosen = plural if plural and n != 1 else msgid
        text = chosen.format_map({k: _plain(v) for k, v in items}) if items or "{" in chosen \
            else chosen
        self = super().__new__(cls, text)
        self.msgid, self.plural, self.n, self.args = msgid, plural, n, items
        self.spanned = any(_spanned(v) for _, v in items)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Msg, (self.msgid, self.plural, self.n, dict(self.args)))

    @property
    def key(self) -> tuple[Any, ...]:
        """What the message is, as a value: its id and its arguments (a message among them
        by its own key: two messages may read the same in English and not in another
        language)."""
        return (self.msgid, self.plural, self.n,
                tuple((k, v.key if isinstance(v, Msg) else v) for k, v in self.args))


def _(msgid: str, /, **args: Arg) -> Msg:
    """A message to translate; ``{name}`` placeholders take ``args``."""
    return Msg(msgid, args=args) if args else _bare(msgid)


@functools.lru_cache(maxsize=4096)
def _bare(msgid: str) -> Msg:
    """A message without arguments, made once (a status word is said on every row)."""
    return Msg(msgid)


def _n(singular: str, plural: str, n: int, /, **args: Arg) -> Msg:
    """A message whose form follows the number ``n`` (also given to it as ``{n}``)."""
    return Msg(singular, plural, n, {"n": n, **args})


def listed(items: Sequence[Arg]) -> Arg:
    """Items joined with ", " as one argument of a message, each mention or day kept a span:
    a list, not a sentence, so it has nothing to translate and is not marked."""
    if len(items) == 1:
        return items[0]
    names = {f"item{i}": item for i, item in enumerate(items)}
    return Msg(", ".join("{" + n + "}" for n in names), args=names)


# --- catalogs ----------------------------------------------------------------------------------


_extra: dict[str, gettext.NullTranslations] = {}


def install(lang: str, translations: gettext.NullTranslations) -> None:
    """A catalog from elsewhere (a test's pseudo-language, which shows what is not marked)."""
    _extra[lang] = translations
    translations_for.cache_clear()


def normalize(lang: str) -> str:
    """``pt-BR``, ``PT_br`` -> ``pt``: the languages the bot has are plain codes."""
    return lang.strip().replace("_", "-").split("-")[0].lower()


@functools.cache
def translations_for(lang: str) -> gettext.NullTranslations:
    if lang in _extra:
        return _extra[lang]
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def available() -> tuple[str, ...]:
    return tuple(sorted({*LANGUAGES, *_extra}))


# --- the reader --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """Who reads a message: their language, and their zone (None: keep each time's own,
    the group's, as a shared channel does)."""

    lang: str = DEFAULT_LANGUAGE
    zone: str | None = None

    @property
    def plain(self) -> bool:
        return self.lang == DEFAULT_LANGUAGE and self.zone is None


ENGLISH = Reader()


def translate(msg: Msg, lang: str) -> str:
    """The message's template in ``lang``, placeholders not filled."""
    tr = translations_for(lang)
    if msg.plural:
        return tr.ngettext(msg.msgid, msg.plural, msg.n if msg.n is not None else 2)
    return tr.gettext(msg.msgid)


_FORMATTER = string.Formatter()


@functools.lru_cache(maxsize=8192)
def _parsed(template: str) -> tuple[tuple[str, str | None], ...] | None:
    """A template's literal text and placeholders, in order (parsed once: the same few
    hundred templates are said again and again); None for a broken one."""
    try:
        return tuple((literal, field) for literal, field, _s, _c in _FORMATTER.parse(template))
    except ValueError:
        return None


def spans_of(msg: Msg, reader: Reader) -> tuple[Span, ...]:
    """The message in the reader's language: text, with its span arguments in place."""
    if (reader.lang == DEFAULT_LANGUAGE and not msg.spanned) or not msg.msgid:
        return (str.__str__(msg),) if msg else ()
    if not msg.spanned:  # text alone: the same words in every row, said once
        return _said_text(msg.key, msg, reader.lang)
    return _spans_of(msg, reader)


@functools.lru_cache(maxsize=8192)
def _said_text(_key: tuple[Any, ...], msg: Msg, lang: str) -> tuple[Span, ...]:
    """A message holding no span, in ``lang``, cached by its key (``msg`` rides along
    uncompared: equal keys say the same thing)."""
    return _spans_of(msg, Reader(lang))


def _spans_of(msg: Msg, reader: Reader) -> tuple[Span, ...]:
    parsed = _parsed(translate(msg, reader.lang))
    if parsed is None:  # a broken translation: the English stays readable
        return (str.__str__(msg),)
    if len(parsed) == 1 and parsed[0][1] is None:  # no placeholder: the text alone
        return (parsed[0][0],) if parsed[0][0] else ()
    args = dict(msg.args)
    out: list[Span] = []
    for literal, field in parsed:
        if literal:
            out.append(literal)
        if field is None:
            continue
        value = args.get(field, "{" + field + "}")
        if isinstance(value, Msg):
            out.extend(spans_of(value, reader))
        elif isinstance(value, str):
            out.append(value)
        elif isinstance(value, int | float):
            out.append(str(value))
        else:
            out.append(_span(value, reader))
    return _merged(out)


def text_of(value: str, reader: Reader) -> str:
    """A label (a table's header, a button): plain text in the reader's language."""
    if not isinstance(value, Msg) or (reader.lang == DEFAULT_LANGUAGE and not value.spanned):
        return value if not isinstance(value, Msg) else str.__str__(value)
    return "".join(plain_of(s) for s in spans_of(value, reader))


def _merged(spans: list[Span]) -> tuple[Span, ...]:
    out: list[Span] = []
    for s in spans:
        if isinstance(s, str) and out and isinstance(out[-1], str):
            out[-1] = out[-1] + s
        elif not (isinstance(s, str) and not s):
            out.append(s)
    return tuple(out)


def _dates(lang: str) -> str:
    """The language dates are written in: Babel's, for a language the bot has."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@functools.lru_cache(maxsize=4096)
def _day(span: Day, lang: str) -> Day:
    return replace(span, lang=lang)


@functools.lru_cache(maxsize=4096)
def _when(span: When, zone: str, lang: str) -> When:
    return replace(span, zone=zone, lang=lang)


def _span(span: Span, reader: Reader) -> Span:
    if isinstance(span, When):
        zone, lang = reader.zone or span.zone, _dates(reader.lang)
        if zone == span.zone and lang == span.lang:
            return span
        return _when(span, zone, lang)
    if isinstance(span, Day):
        lang = _dates(reader.lang)
        return span if span.lang == lang else _day(span, lang)
    if isinstance(span, Link) and isinstance(span.label, Msg):
        return replace(span, label=text_of(span.label, reader))
    return span


def localize_span(span: Span, reader: Reader) -> Span:
    """One time or day as the reader reads it (a page built as HTML, not as blocks)."""
    return _span(span, reader)


def _spans(spans: tuple[Span, ...], reader: Reader) -> tuple[Span, ...]:
    if len(spans) == 1:  # a table's cell, mostly: one span
        one = spans[0]
        kind = type(one)
        if kind is str:
            return spans
        if kind is Msg:
            return spans_of(one, reader)  # type: ignore[arg-type]
        if kind is not Mention:
            return (_span(one, reader),)
        return spans
    out: list[Span] = []
    for s in spans:
        if isinstance(s, Msg):
            out.extend(spans_of(s, reader))
        elif isinstance(s, str):
            out.append(s)
        else:
            out.append(_span(s, reader))
    return _merged(out)


def _needs(spans: Sequence[Span]) -> bool:
    """Whether English spans need work for an English reader in no zone of their own: only
    a message holding spans (a mention inside a sentence) does."""
    return any(isinstance(s, Msg) and s.spanned for s in spans)


def _plain_block(block: Block) -> Block:
    """The block for an English reader who keeps each time's zone: unchanged, unless a
    message in it holds spans (they are put in place)."""
    if isinstance(block, Text):
        return Text(_spans(block.spans, ENGLISH), block.style) if _needs(block.spans) else block
    if isinstance(block, Table):
        if any(_needs(cell) for row in block.rows for cell in row):
            return _block(block, ENGLISH)
        return block
    if isinstance(block, Buttons | File) and block.lang != DEFAULT_LANGUAGE:
        return replace(block, lang=DEFAULT_LANGUAGE)
    return block


def _block(block: Block, reader: Reader) -> Block:
    if isinstance(block, Text):
        return Text(_spans(block.spans, reader), block.style)
    if isinstance(block, Table):
        return Table(tuple(text_of(h, reader) for h in block.headers),
                     tuple(tuple(_spans(cell, reader) for cell in row) for row in block.rows))
    if isinstance(block, Buttons):
        return Buttons(tuple(Button(text_of(b.label, reader), b.command, b.style)
                             for b in block.buttons), reader.lang)
    if isinstance(block, File):
        return replace(block, title=text_of(block.title, reader), lang=reader.lang)
    return block


def localize(blocks: Sequence[Block], reader: Reader) -> list[Block]:
    """The blocks as ``reader`` reads them: every message in their language, every time in
    their zone (or its own), mentions inside sentences kept as mentions."""
    if reader.plain:
        return [_plain_block(b) for b in blocks]
    return [_block(b, reader) for b in blocks]


def localized(reply: Reply, reader: Reader) -> Reply:
    """The reply as its reader reads it (its posts are localized per channel, later)."""
    return replace(reply.but(blocks=localize(reply.blocks, reader)), lang=reader.lang)


def said(msg: str, lang: str) -> str:
    """A message in ``lang``, as plain text: what an adapter writes of its own beside a
    reply already said in that language (``Reply.lang``)."""
    return text_of(msg, Reader(lang))


__all__ = [
    "DEFAULT_LANGUAGE",
    "ENGLISH",
    "LANGUAGES",
    "Msg",
    "Reader",
    "_",
    "_n",
    "available",
    "install",
    "listed",
    "localize",
    "localized",
    "normalize",
    "said",
    "spans_of",
    "text_of",
    "translate",
    "translations_for",
]
