"""The neutral reply as a mail: a subject, a plain-text part and an HTML part.

Every piece of user text is HTML-escaped and links are kept only for http, https and
mailto; the subject is one line with control characters removed (a header is never built
from raw user text). Buttons become the commands a reader can type (in chat, or as a reply
when the bot reads its mailbox). File blocks are attachments, not text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.textrender import render_table
from handlers.core.i18n import _, said
from handlers.core.messages import (
    Block,
    Buttons,
    File,
    Invite,
    Link,
    Span,
    Table,
    Text,
    Topic,
    invite_of,
    plain_of,
    plain_spans,
    shown,
    topic_of,
)

SUBJECT_MAX = 120
_SAFE_URL = re.compile(r"^(https?|mailto):", re.IGNORECASE)
_STYLE = ("font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;"
          "font-size:14px;line-height:1.45;color:#1d1c1d")


@dataclass
class Mail:
    subject: str
    text: str
    html: str
    files: list[File] = field(default_factory=list)
    topic: Topic | None = None  # what it is about: its thread, and what a short reply means
    invite: Invite | None = None  # a calendar invitation, a part of its own


def one_line(value: str, limit: int = SUBJECT_MAX) -> str:
    """``value`` as a header may carry it: control and format characters (CR, LF, bidi
    overrides) become spaces, runs of space one, cut to ``limit`` with an ellipsis."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                      for c in value)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def _span_html(span: Span) -> str:
    if isinstance(span, Link) and _SAFE_URL.match(span.url):
        label = html.escape(span.label or span.url, quote=False)
        return f'<a href="{html.escape(span.url)}">{label}</a>'
    return html.escape(plain_of(span), quote=False).replace("\n", "<br>")


def _spans_html(spans: tuple[Span, ...]) -> str:
    return "".join(_span_html(s) for s in spans)


def _block_html(block: Block, replies: bool) -> str:
    if isinstance(block, Text):
        inner = _spans_html(block.spans)
        if block.style == "heading":
            return f"<h3 style=\"margin:12px 0 6px\">{inner}</h3>"
        if block.style == "quote":
            return ("<blockquote style=\"margin:6px 0;padding-left:10px;"
                    f"border-left:3px solid #ccc\">{inner}</blockquote>")
        if block.style == "code":
            return f"<pre>{html.escape(plain_spans(block.spans), quote=False)}</pre>"
        return f"<p style=\"margin:6px 0\">{inner}</p>"
    if isinstance(block, Table):
        cell = "style=\"border:1px solid #ddd;padding:4px 8px;text-align:left\""
        head = "".join(f"<th {cell}>{html.escape(h, quote=False)}</th>" for h in block.headers)
        rows = "".join(
            "<tr>" + "".join(f"<td {cell}>{_spans_html(c)}</td>" for c in row) + "</tr>"
            for row in block.rows)
        return ("<table style=\"border-collapse:collapse;margin:6px 0\">"
                f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    if isinstance(block, Buttons):
        intro = said(_("Reply with a line, or type in chat:") if replies
                     else _("In chat, type:"), block.lang)
        items = "".join(
            f"<li>{html.escape(b.label, quote=False)}: "
            f"<code>{html.escape(b.command, quote=False)}</code></li>" for b in block.buttons)
        return f"<p style=\"margin:6px 0\">{intro}</p><ul>{items}</ul>"
    assert isinstance(block, File)
    attached = html.escape(said(_("Attached: {name}", name=block.name), block.lang),
                           quote=False)
    return f"<p style=\"margin:6px 0\"><em>{attached}</em></p>"


def _block_text(block: Block, replies: bool) -> str:
    if isinstance(block, Text):
        body = plain_spans(block.spans)
        if block.style == "heading":
            return f"{body}\n{'=' * min(len(body), 72)}"
        if block.style == "quote":
            return "\n".join(f"| {line}" for line in body.splitlines())
        return body
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Buttons):
        intro = said(_("Reply with a line, or type in chat:") if replies
                     else _("In chat, type:"), block.lang)
        return "\n".join([intro, *(f"  {b.command}    ({b.label})" for b in block.buttons)])
    assert isinstance(block, File)
    return said(_("Attached: {name}", name=block.name), block.lang)


def subject_of(blocks: Sequence[Block]) -> str:
    """The first line of the first text block: what the message is about."""
    for block in blocks:
        if isinstance(block, Text):
            first = plain_spans(block.spans).strip().split("\n", 1)[0]
            if first.strip():
                return one_line(first)
    return "Taskbot"


def render_mail(every: Sequence[Block], *, replies: bool = False) -> Mail:
    """``replies``: the bot reads its mailbox, so a reply runs the commands it lists."""
    blocks = shown(every)
    body = [b for b in blocks if not isinstance(b, File)]
    files = [b for b in blocks if isinstance(b, File)]
    text = "\n\n".join(_block_text(b, replies) for b in blocks) + "\n\n-- \nTaskbot\n"
    inner = "".join(_block_html(b, replies) for b in blocks)
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>"
            f"<body><div style=\"{_STYLE}\">{inner}"
            "<p style=\"margin-top:18px;color:#777;font-size:12px\">Taskbot</p>"
            "</div></body></html>")
    return Mail(subject_of(body), text, page, files, topic_of(every), invite_of(every))
