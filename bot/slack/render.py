"""Slack Block Kit and mrkdwn rendering of the neutral reply.

Everything that came from a person (titles, names, notes) is escaped (``&``, ``<``, ``>``), so
``<!channel>``, ``<!here>`` or ``<@U…>`` typed as text is shown, never acted on; only the
markup made here (mentions of known Slack users, ``<!date>`` tokens, links) is live. Long
content is split so that no text passes 3,000 characters and no message 50 blocks.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.slack.fields import list_field, object_field, text_field
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
    day_text,
    plain_of,
    plain_spans,
    shown,
)

if TYPE_CHECKING:
    from handlers.checkins import Form

PLATFORM = "slack"
MAX_BLOCKS = 50  # per message
MAX_HOME_BLOCKS = 100  # per Home tab view
MAX_TEXT = 3000  # per section text
MAX_HEADER = 150  # header blocks are plain_text of at most 150 characters
MAX_BUTTONS = 25  # elements of one actions block
MAX_BUTTON_LABEL = 75
MAX_VALUE = 2000
MAX_FALLBACK = 3000

SlackBlock = dict[str, Any]
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


def escape(raw: str) -> str:
    """Slack's three control characters as entities: user text can never become markup."""
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(raw: str) -> str:
    """Undo Slack's escaping of typed text (slash commands with ``should_escape``)."""
    return raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _fallback_token(raw: str) -> str:
    return escape(raw).replace("|", "/")


def span_mrkdwn(span: Span) -> str:
    if isinstance(span, str):
        return escape(span)
    if isinstance(span, Mention):
        ext = span.id_on(PLATFORM)
        if ext is not None and _USER_ID.match(ext):
            return f"<@{ext}>"
        return escape(at_name(span.name))
    if isinstance(span, When):
        token = "{date_short_pretty} {time}" if span.with_time else "{date_short_pretty}"
        return f"<!date^{int(span.at.timestamp())}^{token}|{_fallback_token(plain_of(span))}>"
    if isinstance(span, Day):
        if span.form != "day":  # Slack's date token has no month-only or year-less form
            return escape(plain_of(span))
        return _day_mrkdwn(span.date, span.lang)
    assert isinstance(span, Link)
    url = escape(span.url).replace("|", "%7C")
    if span.label and span.label != span.url:
        return f"<{url}|{escape(span.label)}>"
    return f"<{url}>"


@functools.lru_cache(maxsize=4096)
def _day_mrkdwn(day: dt.date, lang: str = "en") -> str:
    # noon UTC: the same calendar day for every reader from UTC-11 to UTC+11
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    fallback = _fallback_token(day_text(day, lang))
    return f"<!date^{int(noon.timestamp())}^{{date_short_pretty}}|{fallback}>"


def spans_mrkdwn(spans: tuple[Span, ...]) -> str:
    if len(spans) == 1:  # most table cells
        return span_mrkdwn(spans[0])
    return "".join([span_mrkdwn(s) for s in spans])


def _cut(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line ends where possible and never
    inside a ``<…>`` token or an ``&…;`` entity."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(line) > limit:
            cut = limit
            opened, amp = line.rfind("<", 0, cut), line.rfind("&", 0, cut)
            if opened > line.rfind(">", 0, cut) and opened > 0:
                cut = opened
            elif amp > line.rfind(";", 0, cut) and amp > 0 and cut - amp < 8:
                cut = amp
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current or not pieces:
        pieces.append(current)
    return pieces


def _section(mrkdwn: str) -> SlackBlock:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


@dataclass
class Message:
    """One Slack message: its blocks and the plain fallback shown in notifications."""

    blocks: list[SlackBlock]
    text: str


@dataclass
class Rendered:
    messages: list[Message] = field(default_factory=list)
    files: list[File] = field(default_factory=list)


@dataclass
class _Builder:
    pairs: list[tuple[SlackBlock, str]] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    button_seq: int = 0

    def add(self, block: SlackBlock, fallback: str) -> None:
        self.pairs.append((block, fallback))

    def text(self, block: Text) -> None:
        fallback = escape(plain_spans(block.spans))
        if block.style == "heading":
            plain = plain_spans(block.spans)
            if all(isinstance(s, str) for s in block.spans) and 0 < len(plain) <= MAX_HEADER \
                    and "\n" not in plain:
                # plain_text is never parsed as markup, so it needs no escaping
                self.add({"type": "header", "text": {"type": "plain_text", "text": plain,
                                                     "emoji": True}}, fallback)
                return
            body = f"*{spans_mrkdwn(block.spans)}*"
        elif block.style == "quote":
            body = "\n".join(f">{line}" for line in spans_mrkdwn(block.spans).split("\n"))
        elif block.style == "code":
            body = f"```{spans_mrkdwn(block.spans)}```"
        else:
            body = spans_mrkdwn(block.spans)
        if not body.strip():
            return
        for piece in _cut(body, MAX_TEXT):
            if piece.strip():
                self.add(_section(piece), fallback)
                fallback = ""

    def table(self, table: Table) -> None:
        lines = ["_" + escape(" · ".join(table.headers)) + "_"] if table.headers else []
        plain = [" · ".join(table.headers)]
        # the notification text is cut at MAX_FALLBACK: rows past it need no plain text
        plain_size = len(plain[0])
        for row in table.rows:
            cells = [spans_mrkdwn(cell) for cell in row]
            if not cells:
                continue
            first = f"*{cells[0]}*" if cells[0].strip() else cells[0]
            lines.append("  ".join([first, " · ".join(cells[1:])]).rstrip())
            if plain_size <= MAX_FALLBACK:
                plain.append(" · ".join([plain_spans(cell) for cell in row]))
                plain_size += len(plain[-1]) + 1
        fallback = escape("\n".join(plain))
        for piece in _cut("\n".join(lines), MAX_TEXT):
            self.add(_section(piece), fallback)
            fallback = ""

    def buttons(self, block: Buttons) -> None:
        usable = [b for b in block.buttons if len(b.command) <= MAX_VALUE]
        for start in range(0, len(usable), MAX_BUTTONS):
            elements = []
            for b in usable[start:start + MAX_BUTTONS]:
                self.button_seq += 1
                element: SlackBlock = {
                    "type": "button",
                    "action_id": f"taskbot:{self.button_seq}",
                    "text": {"type": "plain_text", "text": b.label[:MAX_BUTTON_LABEL] or "?",
                             "emoji": True},
                    "value": b.command,
                }
                if b.style in ("primary", "danger"):
                    element["style"] = b.style
                elements.append(element)
            self.add({"type": "actions", "elements": elements}, "")

    def block(self, block: Block) -> None:
        if isinstance(block, Text):
            self.text(block)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, Buttons):
            self.buttons(block)
        else:
            assert isinstance(block, File)
            self.files.append(block)


def _fallback(parts: list[str]) -> str:
    text = "\n".join(p for p in parts if p)
    if len(text) <= MAX_FALLBACK:
        return text
    cut = _cut(text, MAX_FALLBACK - 1)[0]
    return cut + "…"


def render_blocks(blocks: Sequence[Block], max_blocks: int = MAX_BLOCKS) -> Rendered:
    """The neutral blocks as Slack messages (each within Slack's limits) and the files."""
    builder = _Builder()
    for block in shown(blocks):
        builder.block(block)
    out = Rendered(files=builder.files)
    for start in range(0, len(builder.pairs), max_blocks):
        chunk = builder.pairs[start:start + max_blocks]
        out.messages.append(Message([b for b, _ in chunk], _fallback([f for _, f in chunk])))
    return out


def to_slack_blocks(blocks: Sequence[Block], limit: int) -> list[SlackBlock]:
    """One list of Slack blocks (for a view), cut at ``limit`` with a note saying so."""
    builder = _Builder()
    for block in shown(blocks):
        builder.block(block)
    out = [b for b, _ in builder.pairs]
    if len(out) > limit:
        out = [*out[:limit - 1], _section("_… more than fits here; use the commands._")]
    return out


def home_view(sections: list[tuple[str, list[Block]]]) -> dict[str, Any]:
    """The Home tab: a header per section, then the section's rendering."""
    blocks: list[SlackBlock] = []
    for title, body in sections:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.append({"type": "header",
                       "text": {"type": "plain_text", "text": title[:MAX_HEADER]}})
        blocks.extend(to_slack_blocks(body, MAX_HOME_BLOCKS))
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = [*blocks[:MAX_HOME_BLOCKS - 1],
                  _section("_… more than fits here; use the commands._")]
    return {"type": "home", "blocks": blocks}


ACTION_MODAL = "taskbot_action_add"


def action_modal(groups: list[tuple[str, str]], metadata: str,
                 initial_group: str | None = None) -> dict[str, Any]:
    """The ``/action`` form: assignees, text, due date and group."""
    group_input: SlackBlock
    if groups:
        options = [{"text": {"type": "plain_text", "text": f"{name} ({slug})"[:75]},
                    "value": slug} for slug, name in groups[:100]]
        element: SlackBlock = {"type": "static_select", "action_id": "group",
                               "options": options}
        initial = next((o for o in options if o["value"] == initial_group), None)
        if initial is not None:
            element["initial_option"] = initial
        group_input = {"type": "input", "block_id": "group", "label":
                       {"type": "plain_text", "text": "Group"}, "element": element}
    else:
        group_input = {"type": "input", "block_id": "group", "label":
                       {"type": "plain_text", "text": "Group"},
                       "element": {"type": "plain_text_input", "action_id": "group"}}
    return {
        "type": "modal",
        "callback_id": ACTION_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "New action"},
        "submit": {"type": "plain_text", "text": "Add"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "input", "block_id": "text", "label":
             {"type": "plain_text", "text": "What is to be done"},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": False,
                         "max_length": 500}},
            {"type": "input", "block_id": "assignees", "optional": True, "label":
             {"type": "plain_text", "text": "Assignees (none: you)"},
             "element": {"type": "multi_users_select", "action_id": "assignees"}},
            {"type": "input", "block_id": "due", "optional": True, "label":
             {"type": "plain_text", "text": "Due date"},
             "element": {"type": "datepicker", "action_id": "due"}},
            group_input,
        ],
    }


def modal_command(values: dict[str, Any]) -> str:
    """The ``action add`` line a submitted modal stands for (``view.state.values``)."""

    def value(block: str) -> dict[str, Any]:
        return object_field(object_field(values, block), block)

    title = (text_field(value("text"), "value") or "").strip()
    users = [u for u in list_field(value("assignees"), "selected_users")
             if isinstance(u, str) and _USER_ID.match(u)]
    due = text_field(value("due"), "selected_date")
    group_el = value("group")
    group = (text_field(object_field(group_el, "selected_option"), "value")
             or text_field(group_el, "value"))
    quoted = '"' + title.replace('"', "'") + '"'
    parts = ["action add", *(f"<@{u}>" for u in users), quoted]
    if due:
        parts += ["due", str(due)]
    if group:
        parts += ["group", str(group).strip()]
    return " ".join(parts)


# --- the check-in form ----------------------------------------------------------------------

CHECKIN_MODAL = "taskbot_checkin"
MAX_MODAL_TITLE = 24  # a modal's title, submit and close labels
MAX_LABEL = 2000  # an input's label
MAX_ANSWER = 2000  # an answer, as the store keeps it (TEXT_MAX)
MAX_QUESTIONS = 10  # a round's questions at most (handlers.checkins.QUESTIONS_MAX)
# the button on a check-in's prompt: ``checkin <group>`` (a group's slug)
_CHECKIN_BUTTON = re.compile(r"checkin ([a-z][a-z0-9-]{1,63})", re.ASCII)


def checkin_slug(command: str | None) -> str | None:
    """The group of a check-in prompt's button (``checkin <group>``), or None."""
    found = _CHECKIN_BUTTON.fullmatch(command or "")
    return found.group(1) if found else None


def fitted(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def answer_digest(answer: str) -> str:
    """A short digest of an answer as the form showed it: the submission compares each
    field with it, so only what the person changed is saved (the answers themselves would
    not fit in the view's 3,000 characters of metadata)."""
    return hashlib.sha256(answer.strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def checkin_modal(form: Form, metadata: str, submit: str, close: str) -> dict[str, Any]:
    """The check-in form: the round's introduction, then one multi-line field per question
    holding the person's answer so far."""
    blocks = to_slack_blocks(form.intro, 10)
    for n, (question, answer) in enumerate(
            zip(form.questions, form.answers, strict=True), 1):
        if n > MAX_QUESTIONS:
            break
        element: SlackBlock = {"type": "plain_text_input", "action_id": "answer",
                               "multiline": True, "max_length": MAX_ANSWER}
        if answer:
            element["initial_value"] = answer[:MAX_ANSWER]
        blocks.append({"type": "input", "block_id": f"q{n}", "optional": True,
                       "label": {"type": "plain_text", "text": fitted(f"{n}. {question}",
                                                                       MAX_LABEL)},
                       "element": element})
    return {
        "type": "modal",
        "callback_id": CHECKIN_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": fitted(form.title, MAX_MODAL_TITLE)},
        "submit": {"type": "plain_text", "text": fitted(submit, MAX_MODAL_TITLE)},
        "close": {"type": "plain_text", "text": fitted(close, MAX_MODAL_TITLE)},
        "blocks": blocks,
    }


def checkin_answers(values: dict[str, Any], count: int) -> dict[int, str]:
    """Each question's field of a submitted check-in form (``view.state.values``), by its
    number: as typed, line ends made ``\\n``, outer blanks dropped ("" for an empty one)."""
    out: dict[int, str] = {}
    for n in range(1, min(count, MAX_QUESTIONS) + 1):
        field_ = object_field(object_field(values, f"q{n}"), "answer")
        raw = text_field(field_, "value") or ""
        out[n] = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    return out


def form_answer(saved: Sequence[Rendered], refused: Sequence[Rendered]) -> Message | None:
    """One message for a submitted form's commands: of each saved field its first line
    ("Saved your answer to question 2"), the last one whole (what is next), then each
    distinct refusal; None when there is nothing to say."""
    blocks: list[SlackBlock] = []
    texts: list[str] = []
    for i, rendered in enumerate(saved):
        messages = [m for m in rendered.messages if m.blocks]
        if not messages:
            continue
        if i + 1 < len(saved):
            blocks.append(messages[0].blocks[0])
            texts.append(messages[0].text.split("\n", 1)[0])
            continue
        for m in messages:
            blocks.extend(m.blocks)
            texts.append(m.text)
    said_already: set[str] = set()
    for rendered in refused:
        for m in rendered.messages:
            if m.text not in said_already:
                said_already.add(m.text)
                blocks.extend(m.blocks)
                texts.append(m.text)
    if not blocks:
        return None
    return Message(blocks[:MAX_BLOCKS], _fallback(texts))
