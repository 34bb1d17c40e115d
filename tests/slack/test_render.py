"""The Block Kit renderer: escaping, mentions, dates, tables, buttons, files, limits."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.render import (
    MAX_BLOCKS,
    MAX_TEXT,
    action_modal,
    escape,
    home_view,
    modal_command,
    render_blocks,
    span_mrkdwn,
    unescape,
)
from handlers.core.grammar import tokenize
from handlers.core.messages import (
    Button,
    Buttons,
    Day,
    File,
    Link,
    Mention,
    Table,
    Text,
    When,
)

ALICE = Mention(1, "Alice <!here>", (("matrix", "@alice:x"), ("slack", "U0ALICE")))
SHELL_BOB = Mention(2, "bob", (("shell", "bob"),))


@pytest.mark.parametrize("raw", ["<!channel>", "<!here>", "<@U123>", "<!subteam^S1>",
                                 "a & b", "<https://evil.example|click>"])
def test_user_text_never_becomes_markup(raw: str) -> None:
    out = render_blocks([Text(("Title: ", raw))]).messages[0]
    dumped = json.dumps(out.blocks) + out.text
    assert "<" not in dumped.replace("\\u003c", "<").split("Title: ", 1)[1]
    assert escape(raw) in dumped


def test_escape_round_trip() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert unescape(escape("a &lt; <b> & c")) == "a &lt; <b> & c"


def test_mentions() -> None:
    assert span_mrkdwn(ALICE) == "<@U0ALICE>"
    assert span_mrkdwn(SHELL_BOB) == "@bob"
    # an id that is not a Slack user id is shown as a name, escaped
    forged = Mention(3, "<!channel>", (("slack", "U1> <!channel"),))
    assert span_mrkdwn(forged) == "@&lt;!channel&gt;"


def test_when_and_day_use_date_tokens_with_fallbacks() -> None:
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    when = span_mrkdwn(When(at, "Europe/Brussels"))
    assert when == (f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}"
                    "|Tue 01 Dec 2026 10:00 CET>")
    day = span_mrkdwn(Day(dt.date(2026, 12, 4)))
    noon = int(dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC).timestamp())
    assert day == f"<!date^{noon}^{{date_short_pretty}}|Fri 04 Dec 2026>"
    no_time = span_mrkdwn(When(at, "Europe/Brussels", with_time=False))
    assert "{time}" not in no_time and "{date_short_pretty}" in no_time


def test_links() -> None:
    assert span_mrkdwn(Link("https://x.org/a?b=1&c=2", "the <plan>")) == (
        "<https://x.org/a?b=1&amp;c=2|the &lt;plan&gt;>")
    assert span_mrkdwn(Link("https://x.org/a|b")) == "<https://x.org/a%7Cb>"


def test_styles() -> None:
    out = render_blocks([
        Text(("Taskbot commands",), "heading"),
        Text(("line one\nline two",), "quote"),
        Text(("Usage: /action add <text>",), "code"),
        Text(("Due ", Day(dt.date(2026, 12, 4))), "heading"),
    ]).messages[0].blocks
    assert out[0] == {"type": "header", "text": {"type": "plain_text",
                                                 "text": "Taskbot commands", "emoji": True}}
    assert out[1]["text"]["text"] == ">line one\n>line two"
    assert out[2]["text"]["text"] == "```Usage: /action add &lt;text&gt;```"
    assert out[3]["type"] == "section" and out[3]["text"]["text"].startswith("*Due <!date^")


def test_table_rows_as_mrkdwn_lines() -> None:
    table = Table(("id", "title", "who"), (
        (("A-1",), ("Write <it>",), (ALICE,)),
        (("A-2",), ("Read",), (SHELL_BOB, ", ", ALICE)),
    ))
    msg = render_blocks([table]).messages[0]
    assert len(msg.blocks) == 1
    lines = msg.blocks[0]["text"]["text"].split("\n")
    assert lines == ["_id · title · who_", "*A-1*  Write &lt;it&gt; · <@U0ALICE>",
                     "*A-2*  Read · @bob, <@U0ALICE>"]
    assert "A-1 · Write &lt;it&gt; · @Alice &lt;!here&gt;" in msg.text


def test_buttons_carry_the_command_line() -> None:
    msg = render_blocks([
        Buttons((Button("Done", "action done A-1", "primary"), Button("Show", "action show A-1"))),
        Buttons((Button("Acknowledge", "decision ack D-2", "danger"),)),
    ]).messages[0]
    first, second = msg.blocks
    assert second["elements"][0]["style"] == "danger"
    assert [e["value"] for e in first["elements"]] == ["action done A-1", "action show A-1"]
    assert first["elements"][0]["style"] == "primary" and "style" not in first["elements"][1]
    ids = [e["action_id"] for b in msg.blocks for e in b["elements"]]
    assert len(set(ids)) == 3 and all(i.startswith("taskbot:") for i in ids)
    many = render_blocks([Buttons(tuple(Button(f"b{i}", f"action done {i}")
                                        for i in range(30)))]).messages[0]
    assert [len(b["elements"]) for b in many.blocks] == [25, 5]


def test_files_are_set_aside() -> None:
    csv = File("actions.csv", "text/csv", b"id,title\n")
    out = render_blocks([Text(("3 actions in actions.csv",)), csv])
    assert out.files == [csv] and len(out.messages) == 1


def test_long_content_is_split_within_limits() -> None:
    rows = tuple(((f"A-{i}",), ("x" * 120 + " <!channel>",), (Day(dt.date(2026, 12, 4)),))
                 for i in range(600))
    blocks = [Text((f"para {i}",)) for i in range(70)] + [Table(("id", "title", "due"), rows)]
    out = render_blocks(blocks)
    assert len(out.messages) >= 3
    for m in out.messages:
        assert 0 < len(m.blocks) <= MAX_BLOCKS
        assert len(m.text) <= 3000
        for b in m.blocks:
            if b["type"] == "section":
                body = b["text"]["text"]
                assert len(body) <= MAX_TEXT
                assert body.count("<") == body.count(">")  # no token cut in half
    every = "".join(json.dumps(m.blocks) for m in out.messages)
    assert every.count("*A-") == 600


def test_one_long_line_is_cut_outside_tokens() -> None:
    spans = tuple(x for i in range(400) for x in (f"word{i} & ", Day(dt.date(2026, 12, 4))))
    out = render_blocks([Text(spans)])
    sections = [b["text"]["text"] for m in out.messages for b in m.blocks]
    assert len(sections) > 1
    for body in sections:
        assert len(body) <= MAX_TEXT
        assert body.count("<!date") == body.count(">")
        assert not re.search(r"&[a-z]*$", body)


@given(st.lists(st.text(max_size=200), min_size=1, max_size=20))
def test_no_user_text_escapes_as_markup(texts: list[str]) -> None:
    out = render_blocks([Text(tuple(texts)), Table(("a",), tuple(((t,),) for t in texts))])
    for m in out.messages:
        for b in m.blocks:
            if b["type"] == "section":
                assert "<" not in b["text"]["text"] and ">" not in b["text"]["text"]
        assert "<" not in m.text


def test_home_view_stays_within_100_blocks() -> None:
    body = [Text((f"line {i}",)) for i in range(150)]
    view = home_view([("Your open actions", body), ("Recent decisions", body)])
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert view["blocks"][0]["type"] == "header"


def test_modal_round_trip_to_a_command_line() -> None:
    view = action_modal([("repl", "Replication"), ("comms", "Communication")], "{}", "comms")
    group = next(b for b in view["blocks"] if b["block_id"] == "group")
    assert group["element"]["initial_option"]["value"] == "comms"
    line = modal_command({
        "text": {"text": {"value": 'Book "the" venue due friday'}},
        "assignees": {"assignees": {"selected_users": ["U0ONE", "U0TWO", "bad id"]}},
        "due": {"due": {"selected_date": "2030-03-01"}},
        "group": {"group": {"selected_option": {"value": "repl"}}},
    })
    assert line == "action add <@U0ONE> <@U0TWO> \"Book 'the' venue due friday\" due 2030-03-01 group repl"
    # the title is one quoted token, so words like "due" inside it stay in the title
    assert tokenize(line)[4].value == "Book 'the' venue due friday"
