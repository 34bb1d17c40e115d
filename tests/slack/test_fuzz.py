"""Any signed body Slack could send, of any shape: slash command forms, interaction
payloads and event callbacks, over real HTTP to a real ``taskbot run`` (issue 11, "Also").

Each is answered without a server error, the bot keeps serving, and nothing raises inside
the work that runs after the acknowledgement: ``bot.log`` holds no traceback. A body of the
wrong shape (a ``user`` that is a string, a ``values`` that is a list) is read as absent.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.slack.conftest import ADMIN, SlackBot
from tests.slack.test_http import posted

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), _TEXT)
_JSON = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)


def _shaped(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Slack's own field names with any values, or any JSON there, plus stray fields."""
    fields = {k: st.one_of(v, _JSON) for k, v in keys.items()}
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda d: st.dictionaries(_TEXT, _JSON, max_size=3).map(lambda extra: {**extra, **d}))


_VALUES = _shaped({
    "text": _shaped({"text": _shaped({"value": _TEXT})}),
    "assignees": _shaped({"assignees": _shaped({"selected_users": st.lists(_TEXT)})}),
    "due": _shaped({"due": _shaped({"selected_date": _TEXT})}),
    "group": _shaped({"group": _shaped({"selected_option": _shaped({"value": _TEXT})})}),
})
_PAYLOAD = _shaped({
    "type": st.sampled_from(["block_actions", "view_submission", "shortcut",
                             "view_closed"]),
    "user": _shaped({"id": st.sampled_from([ADMIN, "U0FUZZ"]) | _TEXT}),
    "channel": _shaped({"id": st.just("C_FUZZ") | _TEXT}),
    "actions": st.lists(_shaped({"action_id": st.sampled_from(["taskbot:1", "taskbot:x"]),
                                 "value": _TEXT, "type": st.just("button")}), max_size=2),
    "view": _shaped({"callback_id": st.just("taskbot_action_add"), "type": st.just("modal"),
                     "private_metadata": _TEXT,
                     "state": _shaped({"values": _VALUES})}),
    "trigger_id": _TEXT,
    "team": _shaped({"id": st.just("T1")}),
    "api_app_id": st.just("A1"),
})
_EVENT = _shaped({
    "type": st.sampled_from(["message", "app_home_opened", "member_joined_channel",
                             "member_left_channel", "app_mention"]),
    "user": st.sampled_from([ADMIN, "U0FUZZ"]) | _TEXT,
    "channel": st.just("C_FUZZ") | _TEXT,
    "text": _TEXT, "ts": _TEXT, "tab": _TEXT, "subtype": _TEXT,
})


def _worked_through(bot: SlackBot) -> None:
    """The bot serves, and the work of the requests before this one raised nothing: a
    command sent after them is answered (they had their turn on the loop and in the core
    process first), and bot.log holds no traceback."""
    assert bot.proc.poll() is None, bot.log.read_text()
    with urllib.request.urlopen(f"{bot.url}/healthz", timeout=10) as resp:
        assert resp.status == 200
    assert bot.reply(bot.slash("/tg", "help", channel="C_FUZZ"))
    log = bot.log.read_text()
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def fuzzed(slack_bot: SlackBot) -> SlackBot:
    slack_bot.slash("/tg", "create fuzz Fuzz", channel="C_FUZZ")
    posted(slack_bot, "C_FUZZ", contains="Created group fuzz")
    slack_bot.slash("/tg", "link fuzz", channel="C_FUZZ")
    posted(slack_bot, "C_FUZZ", contains="now linked")
    return slack_bot


@FUZZ
@given(form=_shaped({
    "command": st.sampled_from(["/action", "/tg", "/meeting", "/decision", "/secretariat",
                                "/help", "/admin", "/nope"]),
    "text": _TEXT, "user_id": st.sampled_from([ADMIN, "U0FUZZ"]) | _TEXT,
    "channel_id": st.just("C_FUZZ") | _TEXT, "trigger_id": _TEXT, "team_id": st.just("T1"),
}))
def test_any_slash_form_is_answered(fuzzed: SlackBot, form: dict[str, Any]) -> None:
    # a form carries strings only; the response_url, if any, is the fake's
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
    fields["response_url"] = fuzzed.fake.response_url("fuzz")
    result = fuzzed.post(urlencode(fields), "application/x-www-form-urlencoded")
    assert result.status < 500, result
    _worked_through(fuzzed)


@FUZZ
@given(payload=_PAYLOAD | _JSON, raw=st.booleans())
def test_any_interaction_payload_is_answered(fuzzed: SlackBot, payload: Any,
                                             raw: bool) -> None:
    if isinstance(payload, dict):
        payload["response_url"] = fuzzed.fake.response_url("fuzz")
    body = urlencode({"payload": json.dumps(payload) if not raw else str(payload)})
    result = fuzzed.post(body, "application/x-www-form-urlencoded")
    assert result.status < 500, result
    _worked_through(fuzzed)


@FUZZ
@given(event=_EVENT | _JSON, n=st.integers(0, 10**9))
def test_any_event_callback_is_answered(fuzzed: SlackBot, event: Any, n: int) -> None:
    body = json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1",
                       "type": "event_callback", "event_id": f"EvFUZZ{n}", "event": event,
                       "authorizations": [{"team_id": "T1", "user_id": "UBOT",
                                           "is_bot": True}]})
    result = fuzzed.post(body, "application/json")
    assert result.status < 500, result
    _worked_through(fuzzed)

