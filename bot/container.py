"""The composition root: the one place that builds the engine, sessions and router.

Nothing in the code base keeps module-level state; whoever needs the store gets it from a
``Container`` built here and passed down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.governance import apply_preset
from handlers.catalog import build_registry
from handlers.core.context import CoreSettings
from handlers.core.router import Router
from storage.db import make_engine, make_reader_factory, make_session_factory, upgrade
from storage.models import Group


@dataclass
class Container:
    settings: Settings
    core: CoreSettings
    engine: Engine
    sessions: sessionmaker[Session]
    router: Router
    # sessions that only read (web routes, exports): on SQLite they hold no write lock
    readers: sessionmaker[Session]
    # what the preset did on first start (empty when the store had groups already)
    preset_changes: list[str]
    # every adapter of ``taskbot run`` registers its Sender here, so posts cross platforms
    # (it sends a command's posts, outbox rows already, at once through the delivery engine)
    dispatcher: Dispatcher

    def close(self) -> None:
        self.engine.dispose()


def apply_preset_if_empty(sessions: sessionmaker[Session], core: CoreSettings) -> list[str]:
    """The preset on a store with no groups: a newcomer sees real groups at once.

    The check runs in the writing transaction (serialised on SQLite); a second process
    starting at the same moment on PostgreSQL loses the race on the unique slug and simply
    finds the groups there.
    """
    try:
        with sessions.begin() as session:
            if session.scalar(select(Group.id).limit(1)) is not None:
                return []
            return apply_preset(session, core)
    except IntegrityError:
        return []


def build(
    settings: Settings,
    *,
    core: CoreSettings | None = None,
    migrate: bool = True,
    preset: bool = True,
) -> Container:
    """Engine, migrations to head, the preset on an empty store, and the router.

    ``core`` overrides the core settings derived from ``settings`` (the shell adds its user
    to the admins).
    """
    core = core or settings.to_core()
    engine = make_engine(settings.database_url)
    try:
        if migrate:
            upgrade(engine)
        sessions = make_session_factory(engine)
        changes = apply_preset_if_empty(sessions, core) if preset else []
        router = Router(sessions, core, build_registry(core.platforms))
    except BaseException:
        engine.dispose()
        raise
    return Container(settings, core, engine, sessions, router, make_reader_factory(engine),
                     changes, Dispatcher(sessions, core, router.registry.kinds,
                                         dt.timedelta(seconds=settings.lease_seconds)))
