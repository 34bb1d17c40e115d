"""``taskbot run`` killed with SIGKILL while it delivers, then restarted: no reminder lost,
none doubled on Matrix (the transaction id comes from the outbox key), and on Slack, which
has no idempotency, at most the one post that was in flight at the kill repeats. And a
command's post (a decision's) killed between its commit and its send: sent once after.

The process is real (``python -m bot run``, TASKBOT_TICK_SECONDS=0.5, lease 3 s), so is the
homeserver; the store is SQLite or PostgreSQL. The platform is slowed down (Synapse's
per-user message rate, a delay in the Slack fake) so that the kill lands mid-delivery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from nio import AsyncClient, AsyncClientConfig, MessageDirection, RoomMessagesError, SyncError
from sqlalchemy import Engine, func, select

from storage.models import Channel, Decision, Outbox
from tests.delivery.common import seed_reminders, statuses, tally
from tests.matrix.conftest import Human, World, body
from tests.matrix.test_run import matrix_env, taskbot_run
from tests.slack.conftest import SECRET, SlackBot, bot_env
from tests.slack.fake_slack import FakeSlack
from tests.support.postgres import _free_port

N = 60
# A short lease, so the restarted process takes over the killed one's rows soon, yet long
# enough for the whole batch: a tick sends only while a quarter of its lease is left (at 10
# messages a second, 12 s leaves 7.8 s of sending for 60 rows), so the kill lands while the
# rows are claimed rather than while the engine is giving back the ones it had no time for.
FAST = {"TASKBOT_TICK_SECONDS": "0.5", "TASKBOT_LEASE_SECONDS": "12"}


def wait_for(pred: Callable[[], bool], timeout: float, what: str, log: Path,
             every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s:\n"
                                 f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(every)


def kill_mid_delivery(proc: subprocess.Popen[bytes], engine: Engine, log: Path) -> dict[str, int]:
    """SIGKILL once a third of the rows are sent; returns the outbox statuses at the kill."""
    wait_for(lambda: statuses(engine)["sent"] >= N // 3, 60, "a third delivered", log)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    at_kill = dict(statuses(engine))
    # the kill landed while the process was delivering: some sent, some still claimed
    assert 0 < at_kill.get("sent", 0) < N, at_kill
    assert at_kill.get("sending", 0) > 0, at_kill
    return at_kill


_READS = itertools.count(1)


async def room_bodies(world: World, room_id: str) -> list[tuple[str, str]]:
    """(sender, body) of every message in the room, read back from the server."""
    account = world.people["alice"]
    client = AsyncClient(world.server.url, account.user_id,
                         config=AsyncClientConfig(encryption_enabled=False))
    client.restore_login(account.user_id, account.device_id, account.access_token)
    try:
        # Synapse answers a sync that repeats one of the last two minutes from a cache
        # (keyed by user, token, timeout and filter), so a second read-back would start
        # from the first one's position and miss every later post: each read's filter is
        # its own. An incremental sync from the initial one's token then gives an
        # up-to-date place to read back from.
        unique = {"room": {"timeline": {"limit": next(_READS)}}}
        first = await client.sync(timeout=0, sync_filter=unique)
        assert not isinstance(first, SyncError), first
        sync = await client.sync(timeout=0, since=first.next_batch, sync_filter=unique)
        assert not isinstance(sync, SyncError), sync
        token: str = sync.next_batch
        out: list[tuple[str, str]] = []
        while True:
            page = await client.room_messages(room_id, start=token, limit=500,
                                              direction=MessageDirection.back)
            assert not isinstance(page, RoomMessagesError), page
            out.extend((e.source.get("sender", ""), body(e.source)) for e in page.chunk
                       if e.source.get("type") == "m.room.message")
            if not page.chunk or not page.end:
                return out
            token = str(page.end)
    finally:
        await client.close()


def test_sigkill_while_delivering_to_matrix(world: World, tmp_path: Path) -> None:
    bot_id = world.bot_account.user_id

    async def make_room() -> str:
        # the bot's account joins before the process first starts (no greeting to wait for)
        alice, bot = world.human("alice"), Human(world.server, world.bot_account)
        try:
            room = await alice.create_room("Kill", invite=[bot_id])
            await bot.join(room)
            return room
        finally:
            await alice.client.close()
            await bot.client.close()

    room = asyncio.run(make_room())
    seed_reminders(world.engine, "matrix", room, N, dt.datetime.now(dt.UTC))
    # ten messages a second, five at once: sixty reminders take about six seconds
    world.server.limit_messages(bot_id, 10, 5)
    url = world.engine.url.render_as_string(hide_password=False)
    env = matrix_env(world, url, **FAST)
    log = tmp_path / "bot.log"
    try:
        with taskbot_run(env, log) as proc:
            at_kill = kill_mid_delivery(proc, world.engine, log)
        # usually one more than was marked sent: the post in flight reached Synapse, and
        # the restart sends that row again under the same transaction id
        posted_at_kill = len([t for s, t in asyncio.run(room_bodies(world, room))
                              if s == bot_id and t.startswith("Reminder:")])
        assert at_kill["sent"] <= posted_at_kill <= at_kill["sent"] + 1, at_kill
        with taskbot_run(env, log):
            wait_for(lambda: statuses(world.engine)["sent"] == N, 120, "all delivered", log,
                     every=0.2)
    finally:
        world.server.unlimit_messages(bot_id)
    assert statuses(world.engine) == {"sent": N}
    # the rows are marked sent with Synapse's event ids; read until the room shows them
    # (a lost post would never show, and fails below)
    deadline = time.monotonic() + 30
    while True:
        bodies = asyncio.run(room_bodies(world, room))
        reminders = [text for sender, text in bodies
                     if sender == bot_id and text.startswith("Reminder:")]
        seen = tally(reminders, N)
        if sorted(seen) == list(range(N)) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sorted(seen) == list(range(N)), f"lost: {sorted(set(range(N)) - set(seen))}"
    assert all(c == 1 for c in seen.values()), (
        {i: c for i, c in seen.items() if c > 1}, at_kill, posted_at_kill)
    assert len(reminders) == N
    assert log.read_text().count("Matrix: connected") == 2


class SlowSlack(FakeSlack):
    """The recording fake, answering each post only after a delay: the post is recorded
    (it "happened") before the answer leaves, so a kill in that gap is the case a repeat
    comes from."""

    delay = 0.1

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if request.match_info["method"] == "chat.postMessage":
            await asyncio.sleep(self.delay)
        return response


def test_sigkill_while_delivering_to_slack(engine: Engine, tmp_path: Path) -> None:
    """Slack has no idempotency key: a post that reached Slack while its row was not yet
    marked sent is posted again after the restart. The engine sends one row at a time and
    marks it sent at once, so that is at most the single post in flight at the kill."""
    fake = SlowSlack().start()
    try:
        seed_reminders(engine, "slack", "C0KILL", N, dt.datetime.now(dt.UTC))
        url = engine.url.render_as_string(hide_password=False)
        port = _free_port()
        env: dict[str, Any] = bot_env(url, fake, SLACK_SIGNING_SECRET=SECRET, PORT=str(port),
                                      **FAST)
        log = tmp_path / "bot.log"
        with taskbot_run(env, log, ready="Slack: listening") as proc:
            at_kill = kill_mid_delivery(proc, engine, log)
        posted_at_kill = len(fake.find("api", "chat.postMessage"))
        with taskbot_run(env, log, ready="Slack: listening"):
            wait_for(lambda: statuses(engine)["sent"] == N, 90, "all delivered", log,
                     every=0.1)
        assert statuses(engine) == {"sent": N}
        posts = [c.dump for c in fake.find("api", "chat.postMessage")
                 if c.body.get("channel") == "C0KILL"]
        seen = tally(posts, N)
        assert sorted(seen) == list(range(N)), f"lost: {sorted(set(range(N)) - set(seen))}"
        doubled = {i: c for i, c in seen.items() if c > 1}
        # only the row whose post was in flight can repeat, and only once
        assert sum(c - 1 for c in doubled.values()) <= 1, (doubled, at_kill)
        assert len(posts) <= N + 1
        if doubled:
            (i,) = doubled
            assert i == at_kill["sent"], (i, at_kill)  # the row after the last one marked
        assert posted_at_kill >= at_kill["sent"]
    finally:
        fake.stop()


class HeldSlack(FakeSlack):
    """Holds every ``chat.postMessage`` to one channel while ``holding``: unanswered and
    unrecorded until the caller goes away, when it is dropped. That is a post on its way
    when the process died, which Slack never got."""

    def __init__(self, channel: str) -> None:
        super().__init__()
        self.channel = channel
        self.holding = False
        self.held = 0
        self.dropped = 0

    async def _api(self, request: web.Request) -> web.Response:
        if self.holding and request.match_info["method"] == "chat.postMessage":
            raw = (await request.read()).decode()  # read() keeps the body for the base class
            if self.channel in raw:
                self.held += 1
                while request.transport is not None and not request.transport.is_closing():
                    await asyncio.sleep(0.02)
                self.dropped += 1
                return web.Response(status=500)  # to no one: the caller is gone
        return await super()._api(request)


def slack_posts(engine: Engine) -> list[str]:
    """The statuses of the command posts for Slack (the BoC's shell channel gets the
    decision too, and waits there for a shell)."""
    with engine.connect() as conn:
        return list(conn.scalars(select(Outbox.status).where(
            Outbox.kind == "post", Outbox.platform == "slack")))


def test_sigkill_between_a_decisions_commit_and_its_post(engine: Engine, tmp_path: Path) -> None:
    """The decision and its post's outbox row commit together; the process dies while the
    post is on its way. After the restart the post reaches the group's channel once."""
    fake = HeldSlack("C_OUT").start()
    try:
        url = engine.url.render_as_string(hide_password=False)
        port = _free_port()
        env: dict[str, Any] = bot_env(url, fake, SLACK_SIGNING_SECRET=SECRET, PORT=str(port),
                                      TASKBOT_TICK_SECONDS="0.5", TASKBOT_LEASE_SECONDS="3")
        log = tmp_path / "bot.log"
        with taskbot_run(env, log, ready="Slack: listening") as proc:
            slack = SlackBot(f"http://127.0.0.1:{port}", fake, proc, log)
            for n, line in enumerate(("create outreach Outreach", "link outreach"), 1):
                slack.slash("/tg", line, channel="C_OUT")  # answered in the channel
                fake.wait_for("api", "chat.postMessage", n, 15,
                              lambda c: c.body.get("channel") == "C_OUT")
            with engine.connect() as conn:
                assert conn.scalar(select(func.count()).select_from(Channel).where(
                    Channel.platform == "slack", Channel.channel_id == "C_OUT")) == 1
            fake.holding = True
            slack.slash("/decision", "post outreach Print the leaflets", channel="C_ADMIN")
            wait_for(lambda: fake.held == 1, 30, "the decision's post on its way", log)
            with engine.connect() as conn:  # committed before the send began
                assert conn.scalar(select(func.count()).select_from(Decision)) == 1
            assert slack_posts(engine) == ["sending"]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        wait_for(lambda: fake.dropped == 1, 30, "the held post dropped", log)
        fake.holding = False
        assert not [c for c in fake.find("api", "chat.postMessage")
                    if "Print the leaflets" in c.dump]
        with taskbot_run(env, log, ready="Slack: listening"):
            wait_for(lambda: slack_posts(engine) == ["sent"], 60, "the post sent", log,
                     every=0.1)
        posts = [c for c in fake.find("api", "chat.postMessage")
                 if c.body.get("channel") == "C_OUT" and "Print the leaflets" in c.dump]
        assert len(posts) == 1, [c.dump for c in posts]
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Decision)) == 1
    finally:
        fake.stop()
