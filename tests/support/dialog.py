"""A transcript driver for the core: ``bot.say(who, channel, line)`` returns the reply.

It goes through the same Router as every adapter, with an injected clock.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.platforms import registered_platforms
from bot.textrender import render_reply
from handlers.catalog import build_registry
from handlers.core.context import CoreSettings
from handlers.core.messages import Block, ChannelRef, Reply
from handlers.core.platforms import Platforms
from handlers.core.router import Incoming, Router
from handlers.delivery._engine import DeliveryEngine
from storage.db import make_engine, make_session_factory
from storage.models import Base

ADMIN = "root"


class _NoStore:
    """A session factory that fails if used: parsing must not touch the store."""

    kw: ClassVar[dict[str, object]] = {}  # a sessionmaker's settings: no engine bound

    def __call__(self) -> Session:
        raise AssertionError("parsing opened a session")


def parser(platforms: Platforms | None = None) -> Router:
    """A router that can parse and resolve lines but fails if it touches a store."""
    settings = CoreSettings(platforms=platforms or registered_platforms())
    return Router(_NoStore(), settings, build_registry(settings.platforms))  # type: ignore[arg-type]


def reader_router(path: str) -> Router:
    """A router over an empty SQLite store at ``path``: it answers a bad line in its
    caller's language, which it reads there (parsing itself reads nothing)."""
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    settings = CoreSettings(platforms=registered_platforms())
    return Router(make_session_factory(engine), settings, build_registry(settings.platforms))


class _Poster:
    """The shell sender of the dialog: records what a command posted."""

    def __init__(self, posted: list[tuple[ChannelRef, list[Block]]]) -> None:
        self.posted = posted

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.posted.append((channel, blocks))
        return f"dialog:{key}"


class Bot:
    def __init__(self, engine: Engine, now: dt.datetime, *, preset: bool = True,
                 timezone: str = "Europe/Brussels") -> None:
        self.engine = engine
        self.now = now
        self.sessions = make_session_factory(engine)
        self.settings = CoreSettings(
            timezone=timezone, admins=frozenset({f"shell:{ADMIN}"}), clock=lambda: self.now,
            platforms=registered_platforms(),
        )
        self.router = Router(self.sessions, self.settings,
                             build_registry(self.settings.platforms))
        self.posted: list[tuple[ChannelRef, list[Block]]] = []
        self._poster = _Poster(self.posted)
        if preset:
            from bot.governance import apply_preset

            with self.sessions.begin() as session:
                apply_preset(session, self.settings)

    def ask(self, who: str, channel: str | None, line: str) -> Reply:
        reply = self.router.handle(
            Incoming(platform="shell", user_id=who, text=line, channel_id=channel)
        )
        self.deliver(reply)
        return reply

    def deliver(self, reply: Reply | None) -> None:
        """As the shell does: a command's posts for shell channels are sent at once (kept in
        ``posted``); those for other platforms stay in the outbox for their adapter."""
        if reply is not None and reply.queued:
            DeliveryEngine(self.sessions, self.settings, {"shell": self._poster},
                           kinds=self.router.registry.kinds).deliver(reply.queued)

    def say(self, who: str, channel: str | None, line: str) -> str:
        """The reply as the shell would print it."""
        return render_reply(self.ask(who, channel, line))

    def admin(self, line: str, channel: str | None = None) -> str:
        reply = self.ask(ADMIN, channel, line)
        assert not reply.error, render_reply(reply)
        return render_reply(reply)

    def counts(self) -> dict[str, int]:
        """Row counts of every table: the proof that a refused command wrote nothing."""
        with Session(self.engine) as s:
            return {
                t.name: s.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables
            }
