"""``taskbot run`` as a real process on Matrix: a crash and restart, and Slack beside it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from storage.models import Action
from tests.matrix.conftest import World, body, reply_to
from tests.slack.conftest import ADMIN, SECRET, SlackBot, bot_env
from tests.slack.conftest import _wait_ready as wait_slack_ready
from tests.slack.fake_slack import FakeSlack
from tests.support.postgres import _free_port
from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]


def matrix_env(world: World, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MATRIX_", "TASKBOT_", "DATABASE_URL", "PORT"))}
    env.update({
        "DATABASE_URL": database_url,
        "MATRIX_HOMESERVER": world.server.url,
        "MATRIX_USER_ID": world.bot_account.user_id,
        "MATRIX_PASSWORD": world.bot_account.password,
        "TASKBOT_ADMINS": ",".join(world.admins),
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


@contextmanager
def taskbot_run(env: dict[str, str], log: Path, ready: str = "Matrix: connected"
                ) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=log.parent, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"taskbot run did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield proc
    finally:
        stop_process(proc)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_crash_and_restart_of_taskbot_run(world: World, tmp_path: Path,
                                          encrypted: bool) -> None:
    """SIGKILL right after an answer (the sync token may not be stored yet), commands typed
    while the bot is down, then a restart: each command answered once, none lost; in a
    plain room and in an encrypted one (the restarted process is the same device)."""
    from tests.matrix.test_encryption import ENCRYPTION, SecretHuman

    url = world.engine.url.render_as_string(hide_password=False)
    env = {**matrix_env(world, url), "MATRIX_STORE_PATH": str(tmp_path / "bot.matrix-store")}
    log = tmp_path / "bot.log"

    async def scenario() -> None:
        alice = (SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
                 if encrypted else world.human("alice"))
        await alice.start()
        bot_id = world.bot_account.user_id
        asked: list[str] = []
        try:
            with taskbot_run(env, log) as proc:
                room = await alice.create_room("Ledger", invite=[bot_id],
                                               initial_state=[ENCRYPTION] if encrypted else [])
                await alice.wait_for(room, lambda e: body(e).startswith("Hello!"))
                for line in ("!tg create ledger Ledger", "!tg link ledger",
                             f"!tg add ledger {alice.user_id}", "!action add before the crash"):
                    asked.append(await alice.say(room, line))
                    r = await alice.wait_reply(room, asked[-1])
                    assert "Usage" not in body(r), body(r)
                proc.kill()  # a crash, not a clean stop
                proc.wait(10)
            for i in range(2):
                asked.append(await alice.say(room, f"!action add while down {i}"))
            with taskbot_run(env, log):
                for event_id in asked[-2:]:
                    r = await alice.wait_reply(room, event_id)
                    assert body(r).startswith("Added A-"), body(r)
                asked.append(await alice.say(room, "!action list all"))
                listing = await alice.wait_reply(room, asked[-1])
                assert "while down 1" in body(listing)
                await asyncio.sleep(1.5)  # room for a wrong replay to show up
            for event_id in asked:
                answers = [e for e in alice.messages_from(room, bot_id)
                           if reply_to(e) == event_id]
                assert len(answers) == 1, (event_id, [body(e) for e in answers])
            assert log.read_text().count("Matrix: connected") == 2
        finally:
            await alice.stop()

    asyncio.run(scenario())
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Action)) == 3
    engine.dispose()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_decision_reaches_matrix_and_slack_at_once(world: World, tmp_path: Path) -> None:
    """One process runs Slack (HTTP mode, recording fake) and Matrix; a decision posted on
    either platform, or in a `taskbot shell` beside it, reaches the target group's Slack
    channel and its Matrix room, once."""
    fake = FakeSlack().start()
    port = _free_port()
    url = world.engine.url.render_as_string(hide_password=False)
    env = bot_env(url, fake, SLACK_SIGNING_SECRET=SECRET, PORT=str(port))
    env.update(matrix_env(world, url, TASKBOT_ADMINS=",".join([ADMIN, *world.admins])))
    env.update({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": fake.api_url,
                "SLACK_SIGNING_SECRET": SECRET, "PORT": str(port)})
    env["TASKBOT_TICK_SECONDS"] = "0.5"  # how soon a row another process wrote goes out
    # the shell: the same store, no platform configured, the login name an admin there
    shell_env = {k: v for k, v in env.items() if not k.startswith(("SLACK_", "MATRIX_"))}
    log = tmp_path / "bot.log"
    slack = None

    async def scenario() -> None:
        alice, carol = world.human("alice"), world.human("carol")
        await alice.start()
        await carol.start()
        bot_id = world.bot_account.user_id
        try:
            room = await alice.create_room("Outreach", invite=[bot_id, carol.user_id])
            await carol.join(room)
            await alice.wait_for(room, lambda e: body(e).startswith("Hello!"))
            for line in ("!tg create outreach Outreach", "!tg link outreach",
                         f"!tg add outreach {carol.user_id}", "!tg create board Board",
                         f"!tg add board {alice.user_id}"):
                await alice.ask(room, line)
            assert slack is not None
            await asyncio.to_thread(slack.slash, "/tg", "link outreach", channel="C_OUT")
            await asyncio.to_thread(
                fake.wait_for, "api", "chat.postMessage", 1, 15,
                lambda c: c.body.get("channel") == "C_OUT" and "linked" in c.dump)

            # from Slack: the Matrix room gets it too
            await asyncio.to_thread(slack.slash, "/decision",
                                    "post outreach Print the leaflets", channel="C_ADMIN")
            await carol.wait_for(room, lambda e: e.get("sender") == bot_id
                                 and "Print the leaflets" in body(e))
            await asyncio.to_thread(
                fake.wait_for, "api", "chat.postMessage", 1, 15,
                lambda c: c.body.get("channel") == "C_OUT" and "Print the leaflets" in c.dump)

            # from Matrix: the Slack channel gets it too
            r = await alice.ask(room, "!decision post outreach Book the venue")
            assert "D-2" in body(r), body(r)
            await asyncio.to_thread(
                fake.wait_for, "api", "chat.postMessage", 1, 15,
                lambda c: c.body.get("channel") == "C_OUT" and "Book the venue" in c.dump)

            # from `taskbot shell`, a second process on the same store that is connected to
            # neither platform: its decision's posts are outbox rows, and the running
            # `taskbot run` delivers them to the group's Slack channel and Matrix room
            shell = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "bot", "shell"], cwd=tmp_path,
                env=shell_env, input="decision post outreach Hire the printer\n",
                capture_output=True, text=True, timeout=60)
            assert shell.returncode == 0, shell.stdout + shell.stderr
            assert "D-3" in shell.stdout, shell.stdout
            await carol.wait_for(room, lambda e: e.get("sender") == bot_id
                                 and "Hire the printer" in body(e))
            await asyncio.to_thread(
                fake.wait_for, "api", "chat.postMessage", 1, 15,
                lambda c: c.body.get("channel") == "C_OUT" and "Hire the printer" in c.dump)
            await asyncio.sleep(1.5)  # room for a second delivery to show up
            printed = [e for e in carol.messages_from(room, bot_id)
                       if "Hire the printer" in body(e)]
            assert len(printed) == 1, [body(e) for e in printed]
            assert len([c for c in fake.find("api", "chat.postMessage")
                        if c.body.get("channel") == "C_OUT"
                        and "Hire the printer" in c.dump]) == 1
        finally:
            await alice.stop()
            await carol.stop()

    try:
        with taskbot_run(env, log, ready="Matrix: connected"):
            wait_slack_ready(f"http://127.0.0.1:{port}", _Alive(), log)
            slack = SlackBot(f"http://127.0.0.1:{port}", fake, _Alive(), log)  # type: ignore[arg-type]
            asyncio.run(scenario())
    finally:
        fake.stop()


class _Alive:
    """Stands in for the process handle the Slack helpers poll (taskbot_run owns it)."""

    returncode = None

    def poll(self) -> None:
        return None




@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_refused_password_is_one_clear_line(world: World, tmp_path: Path) -> None:
    url = world.engine.url.render_as_string(hide_password=False)
    env = matrix_env(world, url, MATRIX_PASSWORD="not-the-password-xyz")
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "configuration" in done.stderr and "refused" in done.stderr, done.stderr
    assert "not-the-password-xyz" not in done.stderr
    assert "Traceback" not in done.stderr
