"""What a message is about (``Topic``) travels with its blocks and is shown by no chat
renderer; a feature's short replies to a message about one of its things expand to its
commands, and only to verbs it has."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.matrix.render import render as matrix_render
from bot.slack.render import render_blocks as slack_render
from bot.textrender import render_blocks as text_render
from handlers.catalog import build_registry
from handlers.core.messages import Text, Topic, shown, topic
from handlers.core.posts import blocks_from_json, blocks_to_json
from handlers.core.router import Registry


def test_a_topic_is_carried_but_never_shown_in_chat() -> None:
    blocks = [Text(("Decision D-12",)), topic("decision", 12), Text(("Adopt the kit",))]
    assert blocks_from_json(blocks_to_json(blocks)) == blocks
    bare = [b for b in blocks if not isinstance(b, Topic)]
    assert shown(blocks) == bare
    assert text_render(blocks) == text_render(bare)
    # Matrix keeps the topic in the event's content (org.taskbot.topic, for replies to
    # it), never in what is shown
    with_topic, without = matrix_render(blocks), matrix_render(bare)
    assert with_topic.topic == "decision:12" and without.topic == ""
    assert dataclasses.replace(with_topic, topic="") == without
    assert with_topic.content("m.notice")["org.taskbot.topic"] == "decision:12"
    assert "org.taskbot.topic" not in without.content("m.notice")
    assert slack_render(blocks) == slack_render(bare)


@pytest.mark.parametrize("name", ["", "decision", "Decision:1", "decision:", "a:b c",
                                  "decision:1;drop", "x:" + "1" * 41, "d:1:2:3:4:5"])
def test_a_topic_name_is_a_word_and_ids(name: str) -> None:
    if name == "":
        assert Topic(name).name == ""  # an answer with no topic: only what it answers
        return
    with pytest.raises(ValueError):
        Topic(name)


def test_short_replies_expand_to_the_feature_s_commands() -> None:
    reg = build_registry()
    assert reg.expand("decision:12", "ack") == "decision ack 12"
    assert reg.expand("decision:12", "ACK replication") == "decision ack 12 replication"
    assert reg.expand("action:7", "note sent it") == "action note 7 sent it"
    assert reg.expand("action:7", "action done 8") == "action done 8"  # written out: itself
    assert reg.expand("meeting:3:2026-12-09", "done") == "done"  # no words for meetings
    assert reg.expand("unknown:1", "ack") == "ack"


@given(st.text(max_size=60))
def test_any_line_expands_to_itself_or_to_one_declared_command(line: str) -> None:
    reg = build_registry()
    out = reg.expand("action:7", line)
    if out != line:
        noun, verb, ref, *_ = out.split(" ", 3)
        assert (noun, ref) == ("action", "7") and reg.find(noun, verb) is not None


def test_reply_words_must_name_real_verbs_once() -> None:
    reg = build_registry()
    with pytest.raises(ValueError, match="twice"):
        reg.reply_words("decision", "decision", ("ack",))
    with pytest.raises(ValueError, match="no verb"):
        Registry().reply_words("thing", "action", ("done",))
