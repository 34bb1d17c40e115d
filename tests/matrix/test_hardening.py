"""Matrix hardening on a real Synapse: hostile bodies, private replies, power levels on the
parsed command, and a crash between a command's commit and its seen mark."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from nio import AsyncClient, AsyncClientConfig, MessageDirection, RoomMessagesError, SyncError
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.matrix import render
from bot.matrix.client import MatrixBot
from bot.matrix.render import MAX_BODY
from bot.matrix.state import MatrixState
from storage.models import Action, Channel, Group
from tests.matrix.conftest import Human, World, body, pill, wait_until

_filters = itertools.count(1)


async def read_back(world: World, who: str, room_id: str) -> list[dict[str, Any]]:
    """Every message event in the room, read from the server as ``who``. Each read-back
    syncs with a filter of its own: Synapse answers a repeated sync from its cache."""
    account = world.people[who]
    client = AsyncClient(world.server.url, account.user_id,
                         config=AsyncClientConfig(encryption_enabled=False))
    client.restore_login(account.user_id, account.device_id, account.access_token)
    try:
        fresh = {"room": {"timeline": {"limit": 1}}, "presence": {"types": []},
                 "account_data": {"types": [f"tb.readback.{next(_filters)}.{time.time_ns()}"]}}
        sync = await client.sync(timeout=0, sync_filter=fresh)
        assert not isinstance(sync, SyncError), sync
        token: str = sync.next_batch
        out: list[dict[str, Any]] = []
        while True:
            page = await client.room_messages(room_id, start=token, limit=500,
                                              direction=MessageDirection.back)
            assert not isinstance(page, RoomMessagesError), page
            out.extend(e.source for e in page.chunk if e.source.get("type") == "m.room.message")
            if not page.chunk or not page.end:
                return out
            token = str(page.end)
    finally:
        await client.close()


async def _room_with(bot: MatrixBot, owner: Human, *joining: Human, name: str = "g") -> str:
    room = await owner.create_room(name, invite=[bot.client.user_id] + [h.user_id for h in joining])
    await wait_until(lambda: room in bot.client.rooms)
    for human in joining:
        await human.join(room)
        await wait_until(lambda h=human: h.user_id in bot.client.rooms[room].users)
    return room


def _count(world: World, model: Any, *where: Any) -> int:
    with Session(world.engine) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- finding 1: hostile bodies ----------------------------------------------------------------

PILL_START = '<a href="https://matrix.to/#/@'


def _hostile(size: int) -> dict[str, str]:
    return {
        "review": "<a " * (size // 8) + PILL_START + "x" * (size - 3 * (size // 8) - 30),
        "open tags": "<a " * (size // 3),
        "unended pills": (PILL_START + 'x:y">bob') * (size // 40),
        "reply fallbacks": "<mx-reply>" * (size // 10) + PILL_START + 'a:b">a</a>',
        "open quotes": "matrix.to" + '<a x="' * (size // 6),
    }


def test_hostile_bodies_neither_hold_the_loop_nor_come_back(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.matrix.client")
    parsed: list[int] = []
    read_formatted = render.read_formatted

    def spy(formatted: str) -> str:
        parsed.append(len(formatted))
        return read_formatted(formatted)

    monkeypatch.setattr(render, "read_formatted", spy)

    async def scenario() -> None:
        alice = world.human("alice")
        await alice.start()
        bot = world.bot()
        await bot.start()
        try:
            room = await _room_with(bot, alice)
            # near the largest event Synapse takes (quotes count twice, JSON-escaped): answered
            # while the loop keeps going
            sent = [await alice.say(room, "!tg list", html=h)
                    for h in _hostile(40_000).values()]
            r = await alice.ask(room, "!tg list")
            assert "tg" in body(r) or "group" in body(r).lower()
            for event_id in sent:
                reply = await alice.wait_reply(room, event_id)
                assert "too long to be a command" in body(reply)
            # 64 KB bodies fed through the client's own path: refused by their length, so
            # the HTML reader never sees one (its CPU bound on what the cap lets through is
            # tests/matrix/test_render.py's; timing this path here would time the loop's
            # other work too: the sync, the sends)
            for i, (shape, html) in enumerate(_hostile(64 * 1024).items()):
                for content in ({"body": "!tg list", "formatted_body": html},
                                {"body": html}):
                    source = {"type": "m.room.message", "event_id": f"$hostile{i}{len(content)}",
                              "sender": alice.user_id, "origin_server_ts": int(time.time() * 1000),
                              "content": {"msgtype": "m.text",
                                          "format": "org.matrix.custom.html", **content}}
                    await bot.handle_event(room, source)
                    await bot.handle_event(room, source)  # seen: not read, not logged again
                    assert parsed == [], shape
            assert len(html) > MAX_BODY
            assert len(parsed) == 0
            # the spy is in the client's path: a short pill is read through it
            assert render.command_text("x", '!a <a href="https://matrix.to/#/@c:d">C</a>')
            assert len(parsed) == 1
        finally:
            await bot.stop()
            await alice.stop()
        warned = [r for r in caplog.records if "too long" in r.getMessage()]
        assert len(warned) == len(sent) + 2 * 5  # once per event
        # marked seen in the store: a restart does not meet them again
        state = MatrixState(bot.sessions, bot.options.user_id)
        state.load()
        assert all(state.is_seen(e) for e in sent)
        assert _count(world, Channel) == 0 and _count(world, Action) == 0

    asyncio.run(scenario())


# --- finding 3: private replies ---------------------------------------------------------------

SECRETS = ("/dashboard", "sig=", "token=", "/calendar/")


def test_private_replies_go_to_the_direct_room_only(world: World) -> None:
    async def scenario() -> None:
        alice, bob = world.human("alice"), world.human("bob")
        await alice.start()
        await bob.start()
        bot = world.bot()
        await bot.start()
        try:
            room = await _room_with(bot, alice, bob)
            for line in ("!tg create secretariat Secretariat", "!tg create repl Replication",
                         "!tg link repl", f"!tg add secretariat {bob.user_id}",
                         f"!tg add repl {bob.user_id}", "!action add draft the plan group repl"):
                r = await alice.ask(room, line)
                assert "Usage" not in body(r), body(r)
            asked = ["!secretariat dashboard 90", "!secretariat feeds", "!meeting feed",
                     "!meeting feed all", "!secretariat actions all csv",
                     "!secretariat deliveries all", "!secretariat summary",
                     "!secretariat actions all"]
            for line in asked:
                r = await bob.ask(room, line)
                assert "direct chat" in body(r), (line, body(r))
            await wait_until(lambda: bool(bob.invites - {room}))
            dm = next(iter(bob.invites - {room}))
            await bob.join(dm)
            # read back from the server: the shared room holds no key, link or file
            shared = [e for e in await read_back(world, "alice", room)
                      if e.get("sender") == bot.client.user_id]
            assert shared
            for e in shared:
                assert e["content"].get("msgtype") != "m.file", e
                assert not any(s in str(e["content"]) for s in SECRETS), e
            direct = [e for e in await read_back(world, "bob", dm)
                      if e.get("sender") == bot.client.user_id]
            text = "\n".join(str(e["content"]) for e in direct)
            assert "/dashboard?exp=" in text and "sig=" in text
            assert "/calendar/repl.ics?token=" in text and "/calendar/all.ics?token=" in text
            assert "Outgoing messages" in text
            assert any(e["content"].get("msgtype") == "m.file"
                       and e["content"].get("filename", "").endswith(".csv") for e in direct)
        finally:
            await bot.stop()
            await alice.stop()
            await bob.stop()

    asyncio.run(scenario())


# --- finding 6: the power-level check on the parsed command -----------------------------------

LINK_SPELLINGS = [
    "!tg link spell", "!/tg link spell", '!"tg" link spell', "!TG LINK spell",
    "!  tg   link   spell", "!!tg link spell", "!“tg” link spell", '!tg "link" spell',
    "!Tg Link spell", "!tg\tlink spell", "!/TG unlink", '!"tg" "unlink"',
]


def test_link_needs_room_power_whatever_the_spelling(world: World) -> None:
    async def scenario() -> None:
        alice, bob = world.human("alice"), world.human("bob")
        await alice.start()
        await bob.start()
        bot = world.bot()
        await bot.start()
        try:
            room = await _room_with(bot, alice, bob)
            for line in ("!tg create spell Spelling", f"!tg add spell {bob.user_id} as chair"):
                await alice.ask(room, line)
            for line in LINK_SPELLINGS:
                r = await bob.ask(room, line)
                assert "needs room power level 50" in body(r), (line, body(r))
            # the words in the HTML twin of the message, beside a pill
            r = await bob.ask(room, "!tg link spell x",
                              html="!<b>tg</b> <i>LINK</i> spell " + pill(alice.user_id, "A"))
            assert "needs room power level" in body(r), body(r)
            assert _count(world, Channel) == 0
            # the room's creator has the power: the same command then links
            r = await alice.ask(room, '!/"TG" link spell')
            assert "now linked" in body(r), body(r)
            assert _count(world, Channel, Channel.channel_id == room) == 1
        finally:
            await bot.stop()
            await alice.stop()
            await bob.stop()

    asyncio.run(scenario())


# --- finding 9: a crash between the command's commit and its seen mark ------------------------


class CrashAfterCommit:
    """Freezes the first transaction that commits after a command's commit (an action
    added), as a process killed right there; released, that commit fails as SQLite's
    "database is locked" would. Observable in any design: with the seen mark in a second
    transaction, it is that one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.hit = asyncio.Event()
        self.armed = False
        self.fired = False
        self.go = threading.Event()

    def after_flush(self, session: Session, _ctx: Any) -> None:
        if any(isinstance(o, Action) for o in session.new):
            session.info["added_action"] = True

    def after_commit(self, session: Session) -> None:
        if session.info.pop("added_action", False):
            self.armed = True

    def before_commit(self, session: Session) -> None:
        if not self.armed or self.fired or session.info.get("added_action"):
            return
        self.fired = True
        self.loop.call_soon_threadsafe(self.hit.set)
        self.go.wait(30)
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    @contextmanager
    def installed(self) -> Iterator[CrashAfterCommit]:
        hooks = [("after_flush", self.after_flush), ("after_commit", self.after_commit),
                 ("before_commit", self.before_commit)]
        for name, fn in hooks:
            event.listen(Session, name, fn)
        try:
            yield self
        finally:
            self.go.set()
            for name, fn in hooks:
                event.remove(Session, name, fn)


def test_a_crash_after_the_commit_does_not_run_the_command_again(world: World) -> None:
    async def scenario() -> None:
        alice = world.human("alice")
        await alice.start()
        bot = world.bot()
        await bot.start()
        try:
            room = await _room_with(bot, alice)
            for line in ("!tg create repl Replication", "!tg link repl"):
                await alice.ask(room, line)
            await asyncio.sleep(0.5)  # let a batch store its token
            with CrashAfterCommit(asyncio.get_running_loop()).installed() as crash:
                await alice.say(room, "!action add exactly once")
                await asyncio.wait_for(crash.hit.wait(), 20)
                await bot.stop()  # the process dies here
        finally:
            await bot.stop()
        assert _count(world, Action) == 1  # the command had committed
        # the restart syncs from the token stored before the crash: the event comes again
        bot2 = world.bot()
        await bot2.start()
        try:
            later = await alice.ask(room, "!action list all")
            assert "exactly once" in body(later)
            assert _count(world, Action) == 1
        finally:
            await bot2.stop()
            await alice.stop()
        assert _count(world, Group) == 1

    asyncio.run(scenario())
