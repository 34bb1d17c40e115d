"""A command's posts (a decision to its groups, minutes to the group's other channels) go
through the outbox like every scheduled message.

They are written as outbox rows in the command's own transaction, so a crash between the
commit and the send loses nothing: the adapter that ran the command sends them at once
(``DeliveryEngine.deliver``), and any later tick of any process sends what it did not. A
post for a platform this process is not connected to (a decision typed in ``taskbot
shell`` for a group's Slack channel) waits for the process that is. Each row keeps its
key for every try, so Matrix's transaction id stays the same across retries.

The blocks are stored as JSON (:func:`blocks_to_json`), exactly as composed when the
command ran: a post says what was decided then, whatever changed since.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings
from handlers.core.i18n import Msg
from handlers.core.messages import (
    Block,
    Button,
    Buttons,
    Day,
    File,
    Invite,
    Link,
    Mention,
    Post,
    Span,
    Table,
    Text,
    Topic,
    When,
)
from storage import outbox

KIND = "post"
# a post still goes out this long after its command (a platform down for a weekend)
GRACE = dt.timedelta(days=7)
KEY_MAX = 255


# --- the blocks as JSON --------------------------------------------------------------------


def _msg_json(msg: Msg) -> dict[str, Any]:
    """A message with what it takes to translate it for each channel when it is sent."""
    args: dict[str, Any] = {}
    for name, value in msg.args:
        args[name] = {"i": value} if isinstance(value, int | float) else _span_json(value)
    return {"msg": msg.msgid, "pl": msg.plural, "n": msg.n, "args": args}


def _msg(data: dict[str, Any]) -> Msg:
    args: dict[str, Any] = {}
    for name, value in data["args"].items():
        args[name] = value["i"] if isinstance(value, dict) and "i" in value else _span(value)
    n = data.get("n")
    return Msg(str(data["msg"]), str(data.get("pl") or ""), None if n is None else int(n),
               args)


def _label_json(label: str) -> Any:
    return _msg_json(label) if isinstance(label, Msg) else label


def _label(data: Any) -> str:
    return _msg(data) if isinstance(data, dict) else str(data)


def _span_json(span: Span) -> Any:
    if isinstance(span, Msg):
        return _msg_json(span)
    if isinstance(span, str):
        return span
    if isinstance(span, Mention):
        return {"m": span.person_id, "name": span.name, "ids": [list(i) for i in span.ids]}
    if isinstance(span, When):
        return {"at": span.at.isoformat(), "zone": span.zone, "time": span.with_time}
    if isinstance(span, Day):
        return {"day": span.date.isoformat(), **({"form": span.form} if span.form != "day" else {})}
    return {"url": span.url, "label": _label_json(span.label)}


def _span(data: Any) -> Span:
    if isinstance(data, str):
        return data
    if "msg" in data:
        return _msg(data)
    if "m" in data:
        return Mention(int(data["m"]), str(data["name"]),
                       tuple((str(p), str(e)) for p, e in data["ids"]))
    if "at" in data:
        return When(dt.datetime.fromisoformat(data["at"]), str(data["zone"]),
                    bool(data["time"]))
    if "day" in data:
        return Day(dt.date.fromisoformat(data["day"]), form=str(data.get("form", "day")))
    return Link(str(data["url"]), _label(data["label"]))


def _block_json(block: Block) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"text": [_span_json(s) for s in block.spans], "style": block.style}
    if isinstance(block, Table):
        return {"headers": [_label_json(h) for h in block.headers],
                "rows": [[[_span_json(s) for s in cell] for cell in row] for row in block.rows]}
    if isinstance(block, Buttons):
        return {"buttons": [[_label_json(b.label), b.command, b.style] for b in block.buttons]}
    if isinstance(block, Topic):
        return {"topic": block.name, "reply_to": block.reply_to, "stop": block.stop}
    if isinstance(block, Invite):
        return {"invite": block.method, "calendar": block.calendar}
    return {"file": block.name, "mime": block.mime, "title": _label_json(block.title),
            "b64": base64.b64encode(block.content).decode("ascii")}


def _block(data: dict[str, Any]) -> Block:
    if "text" in data:
        return Text(tuple(_span(s) for s in data["text"]), str(data["style"]))
    if "headers" in data:
        return Table(tuple(_label(h) for h in data["headers"]),
                     tuple(tuple(tuple(_span(s) for s in cell) for cell in row)
                           for row in data["rows"]))
    if "invite" in data:
        return Invite(str(data["invite"]), str(data["calendar"]))
    if "topic" in data:
        return Topic(str(data["topic"]), str(data.get("reply_to", "")),
                     str(data.get("stop", "")))
    if "buttons" in data:
        return Buttons(tuple(Button(_label(a), str(b), str(c)) for a, b, c in data["buttons"]))
    return File(str(data["file"]), str(data["mime"]), base64.b64decode(data["b64"]),
                _label(data["title"]))


def blocks_to_json(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [_block_json(b) for b in blocks]


def blocks_from_json(data: Sequence[dict[str, Any]]) -> list[Block]:
    return [_block(d) for d in data]


# --- queueing and composing ------------------------------------------------------------------


def _key(base: str, n: int, platform: str, channel_id: str) -> str:
    key = f"{KIND}:{base}:{n}:{platform}:{channel_id}"
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{KIND}:{digest}"


def queue_posts(session: Session, posts: Sequence[Post], now: dt.datetime,
                base: str | None = None) -> list[str]:
    """Outbox rows for every channel of every post, due now; returns their keys.

    ``base`` names the command run (its idempotency key, when the adapter has one), so the
    same run can never queue its posts twice; without one a fresh token is used.
    """
    base = base or secrets.token_hex(8)
    at = now.astimezone(dt.UTC)
    rows: list[outbox.NewRow] = []
    for n, post in enumerate(posts):
        payload = {"group": post.group_slug, "blocks": blocks_to_json(post.blocks),
                   "grace_s": int(GRACE.total_seconds())}
        rows.extend(outbox.NewRow(_key(base, n, ch.platform, ch.channel_id), KIND,
                                  ch.platform, ch.channel_id, payload, at)
                    for ch in post.channels)
    inserted = outbox.insert_new(session, rows, at)
    return [r.key for r in rows if r.key in set(inserted)]


def compose_post(session: Session, payload: dict[str, Any],
                 settings: CoreSettings) -> list[Block] | None:
    return blocks_from_json(payload["blocks"]) or None


__all__ = ["KIND", "blocks_from_json", "blocks_to_json", "compose_post", "queue_posts"]
