"""The neutral reply as Matrix message content: an HTML body plus a plain body.

Mentions become pills (matrix.to links) and are listed in ``m.mentions`` so exactly those
people are pinged; user text is HTML-escaped and ``@room`` is broken with a word joiner, so a
stored title like "@room look!" can never ping a whole room. File blocks are not part of the
text: the adapter uploads them and sends each as an ``m.file`` event.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from bot.textrender import render_table
from handlers.core.grammar import MAX_LINE
from handlers.core.messages import (
    Block,
    Buttons,
    Day,
    File,
    Link,
    Mention,
    Span,
    Table,
    Text,
    When,
    at_name,
    plain_of,
    shown,
    topic_of,
)

PLATFORM = "matrix"
# what a message of the bot's is about (its Topic: ``checkin:replication``), kept in the
# event's content, so that a reply to it can be read as the platform-neutral core reads a
# reply (``Registry.expand``)
TOPIC_KEY = "org.taskbot.topic"
_ROOM = re.compile(r"@(room)\b", re.IGNORECASE)
_SAFE_URL = re.compile(r"^(https?|mailto):", re.IGNORECASE)


def defuse(value: str) -> str:
    """Break ``@room`` so no client reads it as a room-wide mention."""
    return _ROOM.sub("@\u2060\\1", value)


def matrix_to(user_id: str) -> str:
    return "https://matrix.to/#/" + quote(user_id, safe="@:")


@dataclass
class Rendered:
    body: str
    html: str
    user_ids: list[str] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    topic: str = ""

    def content(self, msgtype: str = "m.notice", reply_to: str | None = None) -> dict[str, Any]:
        """The ``m.room.message`` content; ``reply_to`` makes it a reply to that event."""
        content: dict[str, Any] = {
            "msgtype": msgtype,
            "body": self.body,
            "format": "org.matrix.custom.html",
            "formatted_body": self.html,
            "m.mentions": {"user_ids": sorted(set(self.user_ids))},
        }
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        if self.topic:
            content[TOPIC_KEY] = self.topic
        return content


class _Renderer:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.user_ids: list[str] = []

    def span_html(self, span: Span) -> str:
        if isinstance(span, str):
            return defuse(html.escape(span, quote=False)).replace("\n", "<br/>")
        if isinstance(span, Mention):
            user_id = span.id_on(PLATFORM)
            name = defuse(html.escape(span.name, quote=False))
            if user_id is None:
                return at_name(name)
            self.user_ids.append(user_id)
            return f'<a href="{html.escape(matrix_to(user_id))}">{name}</a>'
        if isinstance(span, Link):
            label = defuse(html.escape(span.label or span.url, quote=False))
            if not _SAFE_URL.match(span.url):
                return defuse(html.escape(plain_of(span), quote=False))
            return f'<a href="{html.escape(span.url)}">{label}</a>'
        assert isinstance(span, When | Day)
        return html.escape(plain_of(span), quote=False)

    def spans_html(self, spans: tuple[Span, ...]) -> str:
        return "".join(self.span_html(s) for s in spans)

    def block_html(self, block: Block) -> str:
        if isinstance(block, Text):
            inner = self.spans_html(block.spans)
            if block.style == "heading":
                return f"<p><strong>{inner}</strong></p>"
            if block.style == "quote":
                return f"<blockquote>{inner}</blockquote>"
            if block.style == "code":
                code = defuse(html.escape("".join(plain_of(s) for s in block.spans), quote=False))
                return f"<pre><code>{code}</code></pre>"
            return f"<p>{inner}</p>"
        if isinstance(block, Table):
            head = "".join(f"<th>{html.escape(h, quote=False)}</th>" for h in block.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{self.spans_html(cell)}</td>" for cell in row) + "</tr>"
                for row in block.rows
            )
            return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        if isinstance(block, Buttons):
            items = "".join(
                f"<li>{html.escape(b.label, quote=False)}: "
                f"<code>{defuse(html.escape(self.prefix + b.command, quote=False))}</code></li>"
                for b in block.buttons
            )
            return f"<ul>{items}</ul>"
        assert isinstance(block, File)
        return f"<p><em>{html.escape(block.name, quote=False)} follows as a file.</em></p>"


def _plain_span(span: Span) -> str:
    if isinstance(span, Mention):
        # a pill's fallback is the display name; someone with no Matrix id reads as @name
        return span.name if span.id_on(PLATFORM) else at_name(span.name)
    return plain_of(span)


def block_plain(block: Block, prefix: str) -> str:
    if isinstance(block, Text):
        body = "".join(_plain_span(s) for s in block.spans)
        if block.style == "heading":
            return body
        if block.style == "quote":
            return "\n".join(f"> {line}" for line in body.splitlines())
        return body
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Buttons):
        return "\n".join(f"- {b.label}: {prefix}{b.command}" for b in block.buttons)
    assert isinstance(block, File)
    return f"({block.name} follows as a file.)"


def render(blocks: list[Block], prefix: str = "!") -> Rendered:
    """Both bodies of one message, the people it mentions, and the files to send after it."""
    seen = shown(blocks)
    r = _Renderer(prefix)
    html_parts = [r.block_html(b) for b in seen]
    plain = "\n".join(block_plain(b, prefix) for b in seen)
    files = [b for b in seen if isinstance(b, File)]
    about = topic_of(blocks)
    return Rendered(defuse(plain), "".join(html_parts), r.user_ids, files,
                    about.name if about is not None else "")


def file_content(block: File, content_uri: str) -> dict[str, Any]:
    return {
        "msgtype": "m.file",
        "body": defuse(block.name),
        "filename": block.name,
        "url": content_uri,
        "info": {"mimetype": block.mime, "size": len(block.content)},
        "m.mentions": {},
    }


# --- reading commands -----------------------------------------------------------------------

# A command line is at most MAX_LINE characters; its HTML twin is longer by its markup (a pill
# is about 40 characters of tags around a name). Anything longer is not a command: it is
# refused before any parsing, so no body can hold the loop (Synapse allows 64 KB events).
MAX_BODY = 4 * MAX_LINE
PILL_PREFIX = "https://matrix.to/#/"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# what may follow "<" in a tag (HTML: a letter, "/", "!" or "?")
_TAG_START = dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/!?", True)


class TooLong(ValueError):
    """A message body over :data:`MAX_BODY`: never parsed, never a command."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} characters; at most {MAX_BODY}")
        self.size = size


def _attributes(tag: str) -> dict[str, str]:
    """The attributes of one tag's inside (``a href="..." x=y``), in one pass."""
    attrs: dict[str, str] = {}
    i, n = 0, len(tag)
    while i < n and not tag[i].isspace():  # the tag name
        i += 1
    while i < n:
        while i < n and (tag[i].isspace() or tag[i] == "/"):
            i += 1
        start = i
        while i < n and not tag[i].isspace() and tag[i] not in "=/":
            i += 1
        name = tag[start:i].translate(_ASCII_LOWER)
        while i < n and tag[i].isspace():
            i += 1
        value = ""
        if i < n and tag[i] == "=":
            i += 1
            while i < n and tag[i].isspace():
                i += 1
            if i < n and tag[i] in "\"'":
                close = tag.find(tag[i], i + 1)
                end = n if close == -1 else close
                value, i = tag[i + 1:end], end + 1
            else:
                start = i
                while i < n and not tag[i].isspace():
                    i += 1
                value = tag[start:i]
        if name:
            attrs.setdefault(name, html.unescape(value))
        elif i == start:
            i += 1  # a stray "=": step over it
    return attrs


def _pill_id(tag: str) -> str | None:
    """The Matrix user id an ``<a>`` tag links to, if it is a pill."""
    from urllib.parse import unquote

    href = _attributes(tag).get("href", "")
    if not href.startswith(PILL_PREFIX):
        return None
    ident = href[len(PILL_PREFIX):].split("?", 1)[0]
    if not ident.startswith(("@", "%40")) or len(ident) < 2:
        return None
    return unquote(ident)


def read_formatted(formatted: str) -> str:
    """The text of a message's HTML with pills as user ids, in one left-to-right pass.

    Linear by construction: every search starts where the last one ended, and a search that
    found nothing is not repeated. (The regexes this replaces backtracked: a 4 KB body held
    the event loop for seconds. The standard library's ``html.parser`` is no way out on
    Python 3.11: it rescans unterminated constructs, ``"<a " * 20_000`` took 115 s.)
    A tag runs from ``<`` (before a letter, ``/``, ``!`` or ``?``) to the next ``>``; any
    other ``<``, and one with no ``>`` after it, is text. The
    reply fallback (``<mx-reply>`` .. ``</mx-reply>``) is dropped; a pill's label is
    replaced by its user id; ``<br>`` and every other tag separate nothing but words.
    """
    low = formatted.translate(_ASCII_LOWER)  # same length, so positions agree
    out: list[str] = []
    n = len(formatted)
    i = 0
    # where the next closer is (or -1: none left), so each is searched for once per match
    closers: dict[str, int] = {}

    def closer(marker: str, after: int) -> int:
        known = closers.get(marker)
        if known is None or (known != -1 and known < after):
            known = low.find(marker, after)
            closers[marker] = known
        return known

    while i < n:
        lt = formatted.find("<", i)
        if lt == -1:
            out.append(html.unescape(formatted[i:]))
            break
        gt = closer(">", lt + 1)
        if gt == -1:  # no tag can close: the rest is text
            out.append(html.unescape(formatted[i:]))
            break
        out.append(html.unescape(formatted[i:lt]))
        if not _TAG_START.get(formatted[lt + 1], False):
            out.append("<")  # "a < b" or "<>": not a tag (and "<" needs no unescaping)
            i = lt + 1
            continue
        tag = formatted[lt + 1:gt]
        name = tag.split(None, 1)[0].translate(_ASCII_LOWER)
        i = gt + 1
        if name == "mx-reply":
            end = closer("</mx-reply>", i)
            if end != -1:
                i = end + len("</mx-reply>")
            continue
        if name == "a":
            ident = _pill_id(tag)
            if ident is not None:
                end = closer("</a>", i)
                if end != -1:
                    out.append(f" {ident} ")
                    i = end + len("</a>")
                    continue
        out.append(" " if name.rstrip("/") == "br" else "")
    return " ".join("".join(out).split())


def command_text(body: str, formatted_body: str | None) -> str:
    """The command line a person typed, with pills turned back into Matrix user ids.

    Clients put only the display name of a pill in ``body``; the user id is in the HTML.
    Raises :class:`TooLong` for a body over :data:`MAX_BODY`, before reading a character.
    """
    for part in (body, formatted_body or ""):
        if len(part) > MAX_BODY:
            raise TooLong(len(part))
    if formatted_body and "matrix.to" in formatted_body:
        return read_formatted(formatted_body)
    # a reply's plain body starts with "> " quote lines of the event replied to
    lines = body.splitlines()
    first = 0
    while first < len(lines) and lines[first].startswith("> "):
        first += 1
    while first < len(lines) and not lines[first].strip():
        first += 1
    return "\n".join(lines[first:]).strip()


# --- reading a reply ------------------------------------------------------------------------

REPLY_LINES = 10  # lines of one reply read as commands at most (a check-in's questions)
# where a line ends in a message's HTML (linear: no quantifier nests in another)
_LINE_END = re.compile(r"<br\s*/?>|</?(?:p|div|li)(?:\s[^<>]*)?>|\n", re.IGNORECASE)


def _without_fallback(formatted: str) -> str:
    """The HTML without its reply fallback (``<mx-reply>`` .. ``</mx-reply>``)."""
    low = formatted.translate(_ASCII_LOWER)
    start = low.find("<mx-reply>")
    end = low.find("</mx-reply>", start) if start != -1 else -1
    if end == -1:
        return formatted
    return formatted[:start] + formatted[end + len("</mx-reply>"):]


def reply_lines(body: str, formatted_body: str | None) -> list[str]:
    """The non-empty lines a person typed in a reply, without the fallback that quotes
    the message replied to (the plain body's leading ``> `` lines and the blank line after
    them, the HTML's ``<mx-reply>``), pills read back as user ids. Raises
    :class:`TooLong` as :func:`command_text` does, before reading a character."""
    for part in (body, formatted_body or ""):
        if len(part) > MAX_BODY:
            raise TooLong(len(part))
    if formatted_body and "matrix.to" in formatted_body:
        pieces = _LINE_END.split(_without_fallback(formatted_body))
        lines = [read_formatted(piece) for piece in pieces]
    else:
        lines = body.splitlines()
        first = 0
        while first < len(lines) and (lines[first].startswith("> ") or lines[first] == ">"):
            first += 1
        lines = lines[first:]
    return [line.strip() for line in lines if line.strip()]
