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
from handlers.messages import (
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
    plain_of,
)

PLATFORM = "matrix"
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
                return f"@{name}"
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
        return span.name if span.id_on(PLATFORM) else f"@{span.name}"
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
    r = _Renderer(prefix)
    html_parts = [r.block_html(b) for b in blocks]
    plain = "\n".join(block_plain(b, prefix) for b in blocks)
    files = [b for b in blocks if isinstance(b, File)]
    return Rendered(defuse(plain), "".join(html_parts), r.user_ids, files)


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

_PILL = re.compile(
    r'<a\s[^>]*href=["\']https://matrix\.to/#/(?P<id>(?:@|%40)[^"\'?]+)[^"\']*["\'][^>]*>.*?</a>',
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")
_REPLY_FALLBACK = re.compile(r"<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)


def command_text(body: str, formatted_body: str | None) -> str:
    """The command line a person typed, with pills turned back into Matrix user ids.

    Clients put only the display name of a pill in ``body``; the user id is in the HTML.
    """
    if formatted_body and "matrix.to" in formatted_body:
        from urllib.parse import unquote

        text = _REPLY_FALLBACK.sub("", formatted_body)
        text = _PILL.sub(lambda m: " " + unquote(m.group("id")) + " ", text)
        text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
        text = html.unescape(_TAG.sub("", text))
        return " ".join(text.split())
    # a reply's plain body starts with "> " quote lines of the event replied to
    lines = body.splitlines()
    while lines and lines[0].startswith("> "):
        lines.pop(0)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).strip()
