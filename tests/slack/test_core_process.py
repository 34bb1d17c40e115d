"""The Slack adapter's core process: commands in a child, replies back, and no orphans."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.container import build
from bot.slack.core_process import CoreProcess
from handlers.core.router import Incoming

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'core.sqlite3'}",
                 admins=frozenset({"UADMIN"}))
    build(s).close()  # migrated, with the preset, as taskbot run leaves it
    return s


def command(line: str, user: str = "UADMIN", channel: str | None = "C1") -> Incoming:
    return Incoming("slack", user, line, channel, user.lower(), "/")


def test_commands_run_in_the_child_and_come_back_rendered(settings: Settings) -> None:
    async def go() -> None:
        core = CoreProcess(settings)
        await core.start()
        try:
            assert core.pids and core.pids[0] != os.getpid()
            reply, rendered = await core.handle(command("tg create demo Demo group"))
            assert not reply.error and rendered is not None
            assert "Created group demo" in rendered.messages[0].text
            assert reply.blocks == ()  # rendered: the neutral blocks stay in the child
            reply, rendered = await core.handle(command("tg nonsense"))
            assert reply.error and rendered is not None
            assert "Unknown tg subcommand" in rendered.messages[0].text
            # in order, many at once
            replies = await asyncio.gather(*(core.handle(command(f"tg show demo {i}"))
                                             for i in range(20)))
            assert len(replies) == 20
        finally:
            await core.close()

    asyncio.run(go())


def test_a_child_that_died_is_replaced(settings: Settings) -> None:
    async def go() -> None:
        core = CoreProcess(settings)
        await core.start()
        try:
            first = core.pids[0]
            os.kill(first, signal.SIGKILL)
            assert wait_gone(first)
            await asyncio.sleep(0.2)  # the parent reads the end of the pipe
            reply, rendered = await core.handle(command("tg list"))
            assert not reply.error and rendered is not None
            assert core.pids and core.pids[0] != first
        finally:
            await core.close()

    asyncio.run(go())


def test_close_ends_the_children(settings: Settings) -> None:
    async def go() -> list[int]:
        core = CoreProcess(settings, workers=2)
        await core.start()
        pids = core.pids
        assert len(pids) == 2
        await core.close()
        return pids

    for pid in asyncio.run(go()):
        assert wait_gone(pid, 5)


def test_the_child_ends_when_its_parent_is_killed(settings: Settings, tmp_path: Path) -> None:
    """``taskbot run`` killed with SIGKILL cannot stop its child: the child sees its pipe
    close and exits, so no orphan keeps the store open."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from bot.config import Settings
        from bot.slack.core_process import CoreProcess

        async def main():
            core = CoreProcess(Settings(database_url={settings.database_url!r}))
            await core.start()
            print(core.pids[0], flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path,
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()
        parent.wait(10)
        assert wait_gone(child), "the core process outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
