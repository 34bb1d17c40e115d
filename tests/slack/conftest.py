"""``taskbot run`` in Slack HTTP mode as a real subprocess, against the recording fake.

One bot process per database per module (start-up runs the migrations and the preset);
tests use their own channels and groups so they do not depend on each other's order.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.slack.fake_slack import FakeSlack, sign
from tests.support.postgres import _free_port
from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN = "U0ADMIN"
_db_seq = itertools.count(1)


@dataclass
class HttpResult:
    status: int
    body: str
    seconds: float


@dataclass
class SlackBot:
    """The running bot and the fake it talks to, with helpers that speak as Slack does."""

    url: str
    fake: FakeSlack
    proc: subprocess.Popen[bytes]
    log: Path
    _seq: Any = None
    database_url: str = ""

    def __post_init__(self) -> None:
        self._seq = itertools.count(1)

    def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
             signed: bool = True, timestamp: int | None = None) -> HttpResult:
        all_headers = {"Content-Type": content_type}
        if signed:
            all_headers.update(sign(SECRET, body, timestamp))
        all_headers.update(headers or {})
        req = urllib.request.Request(f"{self.url}/slack/events", data=body.encode(),
                                     headers=all_headers, method="POST")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return HttpResult(resp.status, resp.read().decode(), time.monotonic() - start)
        except urllib.error.HTTPError as err:
            return HttpResult(err.code, err.read().decode(), time.monotonic() - start)

    def slash(self, command: str, text: str, *, user: str = ADMIN, channel: str = "C100",
              trigger_id: str | None = None) -> str:
        """Send a slash command; returns the name of its response_url at the fake."""
        name = f"r{next(self._seq)}"
        form = {
            "token": "legacy", "team_id": "T1", "team_domain": "test", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": "A1",
            "response_url": self.fake.response_url(name),
            "trigger_id": trigger_id or f"trig.{name}",
        }
        result = self.post(urlencode(form), "application/x-www-form-urlencoded")
        assert result.status == 200, result
        assert result.seconds < 3, f"acknowledged after {result.seconds:.2f}s"
        return name

    def interact(self, payload: dict[str, Any]) -> HttpResult:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], event_id: str, retry: int | None = None) -> HttpResult:
        body = json.dumps({
            "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        })
        headers = {} if retry is None else {"X-Slack-Retry-Num": str(retry),
                                            "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(body, "application/json", headers=headers)

    def reply(self, name: str, timeout: float = 15) -> str:
        """The JSON of what arrived at response_url ``name``."""
        return self.fake.wait_for("respond", name, timeout=timeout)[0].dump


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"taskbot run exited {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"taskbot run did not listen within 60s:\n{log.read_text()}")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    try:
        yield server
    finally:
        server.stop()


def bot_env(database_url: str, fake: FakeSlack, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MATRIX_", "TASKBOT_", "DATABASE_URL", "PORT"))}
    env.update({
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": fake.api_url,
        "TASKBOT_ADMINS": ADMIN,
        "TASKBOT_TIMEZONE": "Europe/Brussels",
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def database_url(kind: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'taskbot.sqlite3'}"
    base = make_url(request.getfixturevalue("pg_url"))
    name = f"slack_e2e_{os.getpid()}_{next(_db_seq)}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def slack_bot(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackBot]:
    tmp = tmp_path_factory.mktemp("slackbot")
    fake = FakeSlack().start()
    port = _free_port()
    db = database_url(request.param, request, tmp)
    env = bot_env(db, fake, SLACK_SIGNING_SECRET=SECRET, PORT=str(port))
    log = tmp / "bot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield SlackBot(url, fake, proc, log, database_url=db)
    finally:
        stop_process(proc)
        fake.stop()
