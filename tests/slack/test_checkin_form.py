"""A check-in prompt's Answer button on Slack: a form with one field per question, filled
with the person's answers so far; its submission saves what changed, once.

Signed requests in, the recording fake's Web API out; the round is written into the bot's
store (``taskbot run`` here runs on the real clock), the Board's own openings switched off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.slack.render import (
    Rendered,
    checkin_answers,
    checkin_modal,
    checkin_slug,
    form_answer,
    render_blocks,
)
from handlers.checkins import Form
from handlers.core.messages import Text
from storage.db import make_engine
from tests.slack.conftest import SlackBot
from tests.slack.fake_slack import Call
from tests.slack.test_http import ALICE, posted, setup_group
from tests.support.checkins import answer_rows, answers, close_rounds, open_round, person_id

DM = "D0ALICE"  # the fake's conversations.open: the bot's direct chat with Alice


@pytest.fixture
def store(slack_bot: SlackBot) -> Iterator[Engine]:
    engine = make_engine(slack_bot.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _no_openings(bot: SlackBot) -> None:
    """The Board's rounds open only as a test writes them."""
    bot.slash("/tg", "settings boc checkin off", channel="C_CKSET")
    posted(bot, "C_CKSET", contains="checkin")


def click(bot: SlackBot, value: str, trigger: str, user: str = ALICE) -> None:
    result = bot.interact({
        "type": "block_actions", "user": {"id": user, "name": user.lower()},
        "channel": {"id": DM}, "team": {"id": "T1"}, "api_app_id": "A1",
        "response_url": bot.fake.response_url(trigger), "trigger_id": trigger,
        "container": {"type": "message", "channel_id": DM},
        "actions": [{"type": "button", "action_id": "taskbot:1", "block_id": "b1",
                     "value": value, "text": {"type": "plain_text", "text": "Answer"}}],
    })
    assert result.status == 200


def opened_view(bot: SlackBot, trigger: str) -> dict[str, Any]:
    call = bot.fake.wait_for("api", "views.open",
                             where=lambda c: c.body.get("trigger_id") == trigger)[0]
    view = call.body["view"]
    return json.loads(view) if isinstance(view, str) else view  # type: ignore[no-any-return]


def submission(view: dict[str, Any], fields: dict[str, str], trigger: str) -> dict[str, Any]:
    return {
        "type": "view_submission", "user": {"id": ALICE, "name": "alice"},
        "team": {"id": "T1"}, "api_app_id": "A1", "trigger_id": trigger,
        "view": {
            "id": "V9", "type": "modal", "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": {
                block: {"answer": {"type": "plain_text_input", "value": value or None}}
                for block, value in fields.items()}},
        },
    }


def dm_posts(bot: SlackBot, after: float) -> list[Call]:
    return [c for c in bot.fake.find("api", "chat.postMessage")
            if c.body.get("channel") == DM and c.at > after]


def test_the_answer_button_opens_the_form_and_a_submission_saves_once(
        slack_bot: SlackBot, store: Engine) -> None:
    _no_openings(slack_bot)
    setup_group(slack_bot, "ckform", "C_CKFORM", ALICE)
    round_id = open_round(store, "ckform", [person_id(store, "slack", ALICE)], ahead=40)
    typed = slack_bot.reply(slack_bot.slash("/checkin", "ckform Guide drafted",
                                            channel="C_CKFORM", user=ALICE))
    assert "question 1" in typed, typed

    click(slack_bot, "checkin ckform", "t.ckopen")
    view = opened_view(slack_bot, "t.ckopen")
    assert view["callback_id"] == "taskbot_checkin"
    assert view["title"]["text"] == "Check-in: Group ckform"
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["q1", "q2", "q3"]
    assert inputs[0]["label"]["text"].startswith("1. What has the group moved forward")
    assert inputs[1]["label"]["text"] == "2. What is blocked, and by what?"
    assert inputs[0]["element"]["initial_value"] == "Guide drafted"
    assert "initial_value" not in inputs[1]["element"]
    assert all(b["element"]["multiline"] for b in inputs)
    assert "Group ckform" in json.dumps(view["blocks"])  # the introduction names the group
    assert not slack_bot.fake.find("respond", "t.ckopen")  # the form is the answer

    before = time.monotonic()
    body = submission(view, {"q1": "Guide drafted",  # unchanged: not saved again
                             "q2": "Waiting for the data agreement\nfrom the city",
                             "q3": ""}, "t.cksub")
    assert slack_bot.interact(body).status == 200
    told = slack_bot.fake.wait_for("api", "chat.postMessage",
                                   where=lambda c: c.body.get("channel") == DM
                                   and c.at > before)[0]
    assert "question 2" in told.dump and "question 1" not in told.dump, told.dump
    assert answers(store, round_id) == {
        1: "Guide drafted", 2: "Waiting for the data agreement\nfrom the city"}
    first = answer_rows(store, round_id)

    # Slack delivers the same submission again: nothing more is saved or said
    assert slack_bot.interact(body).status == 200
    time.sleep(1.0)
    assert answer_rows(store, round_id) == first
    assert len(dm_posts(slack_bot, before)) == 1

    # a second form, two fields changed: both saved, one answer for both
    click(slack_bot, "checkin ckform", "t.ckopen2")
    view = opened_view(slack_bot, "t.ckopen2")
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert inputs[1]["element"]["initial_value"] == (
        "Waiting for the data agreement\nfrom the city")
    before = time.monotonic()
    body = submission(view, {"q1": "Guide published", "q2": inputs[1]["element"][
        "initial_value"], "q3": "A letter to the ministry"}, "t.cksub2")
    assert slack_bot.interact(body).status == 200
    told = slack_bot.fake.wait_for("api", "chat.postMessage",
                                   where=lambda c: c.body.get("channel") == DM
                                   and c.at > before)[0]
    assert "question 1" in told.dump and "question 3" in told.dump, told.dump
    assert "All answered" in told.dump
    assert answers(store, round_id) == {
        1: "Guide published", 2: "Waiting for the data agreement\nfrom the city",
        3: "A letter to the ministry"}
    assert {via for _n, via, _at in answer_rows(store, round_id)} == {"slack"}
    time.sleep(0.5)
    assert len(dm_posts(slack_bot, before)) == 1


def test_the_answer_button_with_no_round_open_answers_with_the_error(
        slack_bot: SlackBot, store: Engine) -> None:
    _no_openings(slack_bot)
    setup_group(slack_bot, "cknone", "C_CKNONE", ALICE)
    close_rounds(store)
    click(slack_bot, "checkin cknone", "t.cknone")
    said = slack_bot.reply("t.cknone")
    assert '"ephemeral"' in said and "No check-in" in said, said
    assert not [c for c in slack_bot.fake.find("api", "views.open")
                if c.body.get("trigger_id") == "t.cknone"]


def test_a_form_that_cannot_open_says_to_type_the_command(
        slack_bot: SlackBot, store: Engine) -> None:
    _no_openings(slack_bot)
    setup_group(slack_bot, "ckfail", "C_CKFAIL", ALICE)
    open_round(store, "ckfail", [person_id(store, "slack", ALICE)], ahead=50)
    slack_bot.fake.rate_limit("views.open", times=1)
    click(slack_bot, "checkin ckfail", "t.ckfail")
    said = slack_bot.reply("t.ckfail")
    assert "/checkin ckfail &lt;answer&gt;" in said or "/checkin ckfail <answer>" in said, said


# --- the form's pieces (no server) ----------------------------------------------------------


def test_only_a_prompts_button_opens_the_form() -> None:
    assert checkin_slug("checkin replication") == "replication"
    for value in ("checkin", "checkin replication edit 2 x", "checkin Replication",
                  "action done A-1", " checkin replication", None):
        assert checkin_slug(value) is None


def test_the_form_fits_slacks_limits() -> None:
    form = Form(slug="comms", title="Check-in: Communication and Dissemination", lang="en",
                intro=(Text(("Check-in for Communication",), "heading"),),
                questions=tuple(f"Question {n} " + "x" * 2500 for n in range(1, 13)),
                answers=tuple("y" * 2500 if n == 1 else "" for n in range(1, 13)))
    view = checkin_modal(form, "{}", "Save", "Cancel")
    assert len(view["title"]["text"]) == 24 and view["title"]["text"].endswith("…")
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert len(inputs) == 10
    assert all(len(b["label"]["text"]) <= 2000 for b in inputs)
    assert len(inputs[0]["element"]["initial_value"]) == 2000
    values = {"q1": {"answer": {"value": " Line one\r\nLine two \n"}},
              "q2": {"answer": {"value": None}}, "q3": "not an object"}
    assert checkin_answers(values, 3) == {1: "Line one\nLine two", 2: "", 3: ""}


def test_one_answer_for_a_whole_form() -> None:
    def rendered(*lines: str) -> Rendered:
        return render_blocks([Text((line,)) for line in lines])

    message = form_answer(
        [rendered("Saved your answer to question 1.", "Next, question 2: ..."),
         rendered("Saved your answer to question 3.", "Next, question 2: ...")],
        [rendered("The check-in closed."), rendered("The check-in closed.")])
    assert message is not None
    texts = [b["text"]["text"] for b in message.blocks]
    assert texts == ["Saved your answer to question 1.", "Saved your answer to question 3.",
                     "Next, question 2: ...", "The check-in closed."]
    assert form_answer([], []) is None
