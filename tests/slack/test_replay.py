"""A signed Slack request acted on once within its five-minute signature window: the same
bytes with the same signature sent again (a replay, or Slack's own retry of an event) get an
empty 200 and change nothing, also after the bot restarts. Real ``taskbot run`` over HTTP,
real signatures, both databases."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, func, select

from storage.db import normalise_url
from storage.models import Action
from tests.slack.conftest import (
    ADMIN,
    SECRET,
    SlackBot,
    _wait_ready,
    bot_env,
    database_url,
)
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_http import posted, setup_group
from tests.support.postgres import _free_port
from tests.support.processes import stop_process


def actions_titled(bot: SlackBot, title: str) -> int:
    engine = create_engine(normalise_url(bot.database_url))
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Action)
                                   .where(Action.title == title)) or 0)
    finally:
        engine.dispose()


def slash_form(bot: SlackBot, text: str, name: str, channel: str = "C_REPLAY") -> str:
    return urlencode({
        "token": "legacy", "team_id": "T1", "team_domain": "test", "channel_id": channel,
        "channel_name": "general", "user_id": ADMIN, "user_name": "admin",
        "command": "/action", "text": text, "api_app_id": "A1",
        "response_url": bot.fake.response_url(name), "trigger_id": f"trig.{name}",
    })


def send_twice(bot: SlackBot, body: str, channel: str, title: str) -> None:
    """The request, its effect, then the very same signed bytes again: refused before its
    200 (the first one's mark is committed by then), so nothing can follow it."""
    ts = int(time.time())
    first = bot.post(body, "application/x-www-form-urlencoded", timestamp=ts)
    assert first.status == 200
    posted(bot, channel, contains=title)
    again = bot.post(body, "application/x-www-form-urlencoded", timestamp=ts)
    assert (again.status, again.body) == (200, "")


def test_the_same_signed_slash_command_twice_adds_one_action(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "replay", "C_REPLAY", ADMIN)
    title = f"Replayed report {time.monotonic_ns()}"
    body = slash_form(slack_bot, f"add {title}", "replay1")
    send_twice(slack_bot, body, "C_REPLAY", title)
    marker = slack_bot.reply(slack_bot.slash("/action", "list mine", channel="C_REPLAY"))
    assert title in marker
    assert actions_titled(slack_bot, title) == 1
    assert len(slack_bot.fake.find("respond", "replay1")) <= 1
    added = [c for c in slack_bot.fake.find("api", "chat.postMessage") if title in c.dump]
    assert len(added) == 1, added


def test_the_same_signed_button_click_twice_acts_once(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "click", "C_CLICK", ADMIN)
    title = f"Clicked once {time.monotonic_ns()}"
    slack_bot.slash("/action", f"add {title}", channel="C_CLICK")
    posted(slack_bot, "C_CLICK", contains=title)
    label = next(json.loads(c.dump)["text"].split(":")[0].split()[-1]
                 for c in slack_bot.fake.find("api", "chat.postMessage") if title in c.dump)
    payload = {
        "type": "block_actions", "user": {"id": ADMIN, "name": "admin"},
        "channel": {"id": "C_CLICK"}, "team": {"id": "T1"}, "api_app_id": "A1",
        "response_url": slack_bot.fake.response_url("click1"), "trigger_id": "t.click1",
        "container": {"type": "message", "channel_id": "C_CLICK"},
        "actions": [{"type": "button", "action_id": "taskbot:1", "block_id": "b1",
                     "value": f"action note {label} clicked",
                     "text": {"type": "plain_text", "text": "Note"}}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    before = len(posted(slack_bot, "C_CLICK"))
    ts = int(time.time())
    assert slack_bot.post(body, "application/x-www-form-urlencoded", timestamp=ts).status \
        == 200
    posted(slack_bot, "C_CLICK", count=before + 1)  # the note's answer
    again = slack_bot.post(body, "application/x-www-form-urlencoded", timestamp=ts)
    assert (again.status, again.body) == (200, "")
    shown = slack_bot.reply(slack_bot.slash("/action", f"show {label}", channel="C_CLICK"))
    assert json.loads(shown)["text"].count("added a note") == 1, shown


@pytest.fixture(params=["sqlite", "postgresql"])
def restartable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SlackBot]:
    """A bot that the test can stop and start again on the same store and port."""
    fake = FakeSlack().start()
    port = _free_port()
    env = bot_env(database_url(request.param, request, tmp_path), fake,
                  SLACK_SIGNING_SECRET=SECRET, PORT=str(port))
    log = tmp_path / "bot.log"
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                                    env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        _wait_ready(url, proc, log)
        return proc

    bot = SlackBot(url, fake, start(), log, database_url=env["DATABASE_URL"])
    bot.restart = lambda: (stop_process(bot.proc), setattr(bot, "proc", start()))  # type: ignore[attr-defined]
    try:
        yield bot
    finally:
        stop_process(bot.proc)
        fake.stop()


def test_a_replay_after_a_restart_is_refused(restartable: SlackBot) -> None:
    bot = restartable
    setup_group(bot, "replay", "C_REPLAY", ADMIN)
    title = "Survives a restart"
    body = slash_form(bot, f"add {title}", "before")
    ts = int(time.time())
    assert bot.post(body, "application/x-www-form-urlencoded", timestamp=ts).status == 200
    posted(bot, "C_REPLAY", contains=title)
    bot.restart()  # type: ignore[attr-defined]
    again = bot.post(body, "application/x-www-form-urlencoded", timestamp=ts)
    assert (again.status, again.body) == (200, "")
    assert title in bot.reply(bot.slash("/action", "list mine", channel="C_REPLAY"))
    assert actions_titled(bot, title) == 1
