"""``taskbot run`` serves the feeds and the dashboard when PORT is set: on the Slack HTTP
server's port when Slack runs in HTTP mode, on a server of their own otherwise, and with no
chat platform at all (beside the shell on a terminal, alone when stdin is not one)."""

from __future__ import annotations

import datetime as dt
import os
import pty
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from handlers.reports import dashboard_path, feed_path, link_key, web_secret
from storage.db import make_engine, make_session_factory
from storage.models import Person
from tests.slack.fake_slack import FakeSlack
from tests.support.postgres import _free_port
from tests.support.processes import stop_process
from tests.web.conftest import fetch

ROOT = Path(__file__).resolve().parents[2]


def start_bot(tmp: Path, stdin: int | IO[bytes] = subprocess.DEVNULL,
              **env_extra: str) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    port = _free_port()
    url = f"sqlite:///{tmp / 'taskbot.sqlite3'}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MATRIX_", "TASKBOT_", "DATABASE_URL", "PORT"))}
    env.update(DATABASE_URL=url, PORT=str(port), PYTHONPATH=str(ROOT), **env_extra)
    log = tmp / "bot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=stdin)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"taskbot run exited {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"taskbot run did not listen:\n{log.read_text()}")
        time.sleep(0.1)
    return proc, base, url, log


def check_routes(base: str, db_url: str) -> None:
    """The preset's store: the all-groups feed and a dashboard link answer; forgeries not."""
    engine = make_engine(db_url)
    now = dt.datetime.now(dt.UTC)
    try:
        with make_session_factory(engine).begin() as session:
            secret = web_secret(session, create=True)
            # links are a person's, checked against their roles: an admin's here
            admin = Person(display_name="ops", is_admin=True, created_at=now.replace(tzinfo=None))
            session.add(admin)
            session.flush()
            who, key = admin.id, link_key(session, admin.id, now, create=True) or ""
        assert secret is not None
    finally:
        engine.dispose()
    feed = fetch(base + feed_path(key, "all"))
    assert feed.status == 200 and "BEGIN:VCALENDAR" in feed.body
    assert "Board of Coordinators meeting" in feed.body  # the preset's series
    assert fetch(base + feed_path("0" * 32, "all")).status == 403
    page = fetch(base + dashboard_path(secret, who, key, int(time.time()) + 3600))
    assert page.status == 200 and "Taskbot dashboard" in page.body
    assert fetch(base + dashboard_path(secret, who, key, int(time.time()) - 1)).status == 403


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


def test_routes_share_the_slack_http_port(tmp_path: Path, fake_slack: FakeSlack) -> None:
    proc, base, db_url, log = start_bot(
        tmp_path, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s3cr3t",
        SLACK_API_URL=fake_slack.api_url)
    try:
        check_routes(base, db_url)
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "Slack: listening for /slack/events" in text and "Web:" not in text


def test_routes_have_their_own_server_without_slack_http(tmp_path: Path) -> None:
    # Matrix configured but unreachable: the runner waits for it; the web server still runs
    proc, base, db_url, log = start_bot(
        tmp_path, MATRIX_HOMESERVER=f"http://127.0.0.1:{_free_port()}",
        MATRIX_USER_ID="@taskbot:localhost", MATRIX_ACCESS_TOKEN="syt_test")
    try:
        check_routes(base, db_url)
    finally:
        stop_process(proc)
    assert "Web: calendar feeds and dashboard on port" in log.read_text()


def test_routes_without_a_platform_serve_until_stopped(tmp_path: Path) -> None:
    """No chat platform and stdin not a terminal (a process manager, a container): the
    feeds and dashboard are served until the process is stopped, not the shell's script
    mode, which would read the empty stdin and exit."""
    proc, base, db_url, log = start_bot(tmp_path)
    try:
        check_routes(base, db_url)
        time.sleep(0.5)
        assert proc.poll() is None  # still serving after stdin's end
    finally:
        stop_process(proc)
    text = log.read_text()
    assert "stdin is not a terminal: serving" in text
    assert "Web: calendar feeds and dashboard on port" in text
    assert proc.returncode == 0, text


def test_routes_beside_the_shell_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the shell runs as before, the feeds and dashboard beside it; leaving
    the shell (Ctrl-D) stops both."""
    main, other = pty.openpty()
    try:
        proc, base, db_url, log = start_bot(tmp_path, stdin=other)
        try:
            check_routes(base, db_url)
            os.write(main, b"tg list\n")
            deadline = time.monotonic() + 30
            while "Board of Coordinators" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            os.write(main, b"\x04")  # Ctrl-D: end of input on the terminal
            assert proc.wait(30) == 0, log.read_text()
        finally:
            stop_process(proc)
    finally:
        os.close(main)
        os.close(other)
    text = log.read_text()
    assert "starting the shell, with the calendar feeds and dashboard on PORT" in text
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
