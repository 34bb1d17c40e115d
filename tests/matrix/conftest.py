"""Matrix fixtures: one real Synapse per session, fresh accounts per test, people as nio clients.

Tests are plain functions that ``asyncio.run`` a scenario: the bot's adapter runs in the
test's loop (its core in worker threads, as in production), people are matrix-nio clients
that sync in background tasks and wait for the bot's answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from nio import AsyncClient, AsyncClientConfig, RoomCreateError, RoomSendError, SyncError
from sqlalchemy import Engine

from bot.dispatch import Dispatcher
from bot.matrix.client import MatrixBot, MatrixOptions
from bot.platforms import registered_platforms
from handlers.catalog import build_registry
from handlers.core.context import CoreSettings
from handlers.core.router import Router
from storage.db import make_session_factory
from tests.support.synapse import Account, Synapse, synapse_server

_names = itertools.count(1)


@pytest.fixture(scope="session")
def synapse() -> Iterator[Synapse]:
    with synapse_server() as server:
        yield server


Event = dict[str, Any]


class Human:
    """A person's Matrix client: sends lines, collects every timeline event it syncs."""

    def __init__(self, server: Synapse, account: Account) -> None:
        self.account = account
        self.user_id = account.user_id
        self.client = AsyncClient(server.url, account.user_id,
                                  config=AsyncClientConfig(encryption_enabled=False))
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self.events: dict[str, list[Event]] = defaultdict(list)
        self.invites: set[str] = set()
        self.left: dict[str, Event] = {}
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        first = await self.client.sync(timeout=0, full_state=True)
        assert not isinstance(first, SyncError), first
        self.task = asyncio.create_task(self._loop(first.next_batch))

    async def _loop(self, token: str) -> None:
        while True:
            resp = await self.client.sync(timeout=500, since=token)
            if isinstance(resp, SyncError):
                await asyncio.sleep(0.2)
                continue
            token = resp.next_batch
            async with self.changed:
                for room_id, info in resp.rooms.join.items():
                    self.events[room_id].extend(e.source for e in info.timeline.events)
                self.invites.update(resp.rooms.invite)
                self.changed.notify_all()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.close()

    async def create_room(self, name: str, invite: list[str] = (), **kw: Any) -> str:  # type: ignore[assignment]
        resp = await self.client.room_create(name=name, invite=list(invite), **kw)
        assert not isinstance(resp, RoomCreateError), resp
        return str(resp.room_id)

    async def join(self, room_id: str) -> None:
        resp = await self.client.join(room_id)
        assert not hasattr(resp, "status_code") or resp.status_code is None, resp

    async def say(self, room_id: str, body: str, html: str | None = None,
                  msgtype: str = "m.text") -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if html is not None:
            content.update(format="org.matrix.custom.html", formatted_body=html)
        resp = await self.client.room_send(room_id, "m.room.message", content)
        assert not isinstance(resp, RoomSendError), resp
        return str(resp.event_id)

    async def wait_for(self, room_id: str, pred: Callable[[Event], bool],
                       timeout: float = 20.0, after: int = 0) -> Event:
        deadline = time.monotonic() + timeout
        async with self.changed:
            while True:
                for ev in self.events[room_id][after:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    bodies = [e.get("content", {}).get("body") for e in self.events[room_id]]
                    raise AssertionError(f"nothing matched in {room_id}; saw {bodies}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), left)

    async def wait_reply(self, room_id: str, event_id: str, timeout: float = 20.0) -> Event:
        return await self.wait_for(room_id, lambda e: reply_to(e) == event_id, timeout)

    async def ask(self, room_id: str, line: str, html: str | None = None) -> Event:
        """Send a line and return the bot's reply event to it."""
        return await self.wait_reply(room_id, await self.say(room_id, line, html))

    def messages_from(self, room_id: str, sender: str) -> list[Event]:
        return [e for e in self.events[room_id]
                if e.get("sender") == sender and e.get("type") == "m.room.message"]


def reply_to(event: Event) -> str | None:
    rel = event.get("content", {}).get("m.relates_to") or {}
    target = (rel.get("m.in_reply_to") or {}).get("event_id")
    return target if isinstance(target, str) else None


def body(event: Event) -> str:
    return str(event.get("content", {}).get("body", ""))


def pill(user_id: str, name: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{name}</a>'


@dataclass
class World:
    """One test's cast: fresh accounts on the shared Synapse, and a store on one database."""

    server: Synapse
    engine: Engine
    bot_account: Account
    people: dict[str, Account]
    admins: frozenset[str]

    def options(self, **overrides: Any) -> MatrixOptions:
        values: dict[str, Any] = {
            "homeserver": self.server.url, "user_id": self.bot_account.user_id,
            "password": self.bot_account.password, "access_token": None,
            "admins": self.admins, "sync_timeout_ms": 1000,
        }
        values.update(overrides)
        return MatrixOptions(**values)

    def bot(self, dispatcher: Dispatcher | None = None, **overrides: Any) -> MatrixBot:
        sessions = make_session_factory(self.engine)
        router = Router(sessions, CoreSettings(admins=self.admins, platforms=registered_platforms()), build_registry(registered_platforms()))
        return MatrixBot(self.options(**overrides), sessions, router, dispatcher)

    def human(self, name: str) -> Human:
        return Human(self.server, self.people[name])


@pytest.fixture
def world(synapse: Synapse, engine: Engine) -> World:
    n = next(_names)
    bot = synapse.register(f"taskbot{n}")
    people = {name: synapse.register(f"{name}{n}") for name in ("alice", "bob", "carol", "eve")}
    people["alice"] = people["alice"]
    return World(synapse, engine, bot, people, frozenset({people["alice"].user_id}))


async def wait_until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
