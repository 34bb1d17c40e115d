"""Socket Mode: ``taskbot run`` with an app token asks the fake's ``apps.connections.open``
for a websocket URL, connects, acknowledges a slash command envelope and answers it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.slack.conftest import bot_env
from tests.slack.fake_slack import FakeSlack
from tests.support.processes import stop_process


def test_socket_mode_slash_command(tmp_path: Path) -> None:
    fake = FakeSlack().start()
    env = bot_env(f"sqlite:///{tmp_path / 'taskbot.sqlite3'}", fake,
                  SLACK_APP_TOKEN="xapp-1-test")
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        assert fake.ws_connected.wait(60), log.read_text()
        opened = fake.find("api", "apps.connections.open")
        assert opened and opened[0].headers["authorization"] == "Bearer xapp-1-test"
        fake.push_envelope({
            "envelope_id": "env-1", "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "command": "/taskbot-help", "text": "meeting", "user_id": "U0SOCK",
                "channel_id": "C_SOCK", "team_id": "T1", "api_app_id": "A1",
                "response_url": fake.response_url("sock1"), "trigger_id": "t.sock",
            },
        })
        acked = fake.wait_for("ws", "env-1", timeout=10)
        assert acked[0].body["envelope_id"] == "env-1"
        answer = fake.wait_for("respond", "sock1", timeout=15)[0].dump
        assert "/meeting schedule" in answer and '"ephemeral"' in answer
    finally:
        stop_process(proc)
        fake.stop()
