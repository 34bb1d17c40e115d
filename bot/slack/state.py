"""Slack adapter state: handled requests (in the store) and display names (in memory).

Slack redelivers an event when it did not see a 200 in time (``X-Slack-Retry-Num``), and a
signed request replayed within the signature's five minutes verifies as well as the first
time. So each request is acted on once: its key (Slack's ``event_id`` for an event, its
``trigger_id`` for a slash command or an interaction, else the signature and timestamp) is
kept in ``kv_state`` for a day, written in the transaction of the command the request runs
(``RequestOnce``), so a crash cannot leave a command done and its request unmarked, or the
other way round; a restart within the window finds the mark.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Connection, delete, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from handlers.core.grammar import UserError
from storage.models import KvState

log = logging.getLogger(__name__)

EVENT_PREFIX = "slack:event:"
REQUEST_PREFIX = "slack:request:"
KEEP_EVENTS = dt.timedelta(days=1)
PRUNE_EVERY = 500


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EventDedup:
    """``first_time(event_id)`` is True once per event id, across retries and restarts."""

    def __init__(self, sessions: sessionmaker[Session],
                 clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.sessions = sessions
        self.clock = clock
        self._seen_here: set[str] = set()
        self._count = 0

    def first_time(self, event_id: str) -> bool:
        """Blocking (a short insert): call it from a worker thread."""
        if event_id in self._seen_here:
            return False
        now = self.clock()
        key = (EVENT_PREFIX + event_id)[:255]
        try:
            with self.sessions.begin() as session:
                session.add(KvState(key=key, value="", updated_at=now))
                session.flush()
        except IntegrityError:
            self._seen_here.add(event_id)
            return False
        self._seen_here.add(event_id)
        self._count += 1
        if self._count % PRUNE_EVERY == 1:
            self.prune(now)
        return True

    def prune(self, now: dt.datetime) -> None:
        """Forget ids older than a day (Slack retries within minutes)."""
        cutoff = now - KEEP_EVENTS
        with self.sessions.begin() as session:
            session.execute(delete(KvState).where(
                KvState.key.like(EVENT_PREFIX.replace("_", "\\_") + "%", escape="\\"),
                KvState.updated_at < cutoff,
            ))
        if len(self._seen_here) > 10_000:
            self._seen_here.clear()


class NameCache:
    """Slack display names by user id (users.info), kept for an hour."""

    def __init__(self, client: AsyncWebClient, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._names: dict[str, tuple[str | None, float]] = {}

    async def name_of(self, user_id: str) -> str | None:
        hit = self._names.get(user_id)
        if hit is not None and hit[1] > self.clock():
            return hit[0]
        name: str | None = None
        try:
            resp = await self.client.users_info(user=user_id)
            user = resp.get("user") or {}
            profile = user.get("profile") or {}
            name = (profile.get("display_name") or profile.get("real_name")
                    or user.get("real_name") or user.get("name") or None)
        except Exception as err:  # a name is a nicety: never fail a command over it
            why = err.response.get("error") if isinstance(err, SlackApiError) else repr(err)
            log.warning("users.info %s: %s", user_id, why)
            # remember the miss briefly, so a rate limit is not hammered
            self._names[user_id] = (None, self.clock() + 60)
            return None
        self._names[user_id] = (name, self.clock() + self.ttl)
        return name


# what Slack's own ids look like; anything else in a request is kept only as its hash
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,160}", re.ASCII)


def key_part(value: str) -> str:
    """``value`` as it may stand in a stored key: itself when it reads as an id, else its
    SHA-256 (a NUL, which PostgreSQL refuses in text, or a length a prefix cut would make
    two requests one). A hash starts with ``#``, which no kept id has, so the two kinds
    never meet."""
    if _PLAIN_ID.fullmatch(value):
        return value
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def request_key(body: Mapping[str, Any], headers: Mapping[str, Any]) -> str | None:
    """What makes a request the same request again: Slack's own id where it has one (an
    event's ``event_id`` across its retries, a command's or interaction's ``trigger_id``),
    else the signature with its timestamp. None: nothing to dedupe (a URL check)."""
    kind = body.get("type")
    if kind == "event_callback":
        event_id = body.get("event_id")
        return EVENT_PREFIX + key_part(str(event_id)) if event_id else None
    if kind == "url_verification":
        return None
    trigger = body.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        return REQUEST_PREFIX + "t:" + key_part(trigger)

    def header(name: str) -> str | None:
        value = headers.get(name)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        return str(value) if value else None

    sig, ts = header("x-slack-signature"), header("x-slack-request-timestamp")
    return REQUEST_PREFIX + "s:" + key_part(f"{ts}:{sig}") if sig and ts else None


class AlreadyHandled(UserError):
    """The request's mark was there when its command's transaction began: roll it back."""

    def __init__(self) -> None:
        super().__init__("This request was handled already.", show_usage=False)


@dataclass
class Once:
    """One request being handled: ``done`` once its mark is committed, ``duplicate`` when
    the mark was found (another delivery of it got there first)."""

    key: str
    inserted: bool = False
    done: bool = False
    duplicate: bool = False


_current: contextvars.ContextVar[Once | None] = contextvars.ContextVar(
    "slack_request_once", default=None)


class RequestOnce:
    """Each request acted on once, by its ``request_key``, across retries and restarts."""

    def __init__(self, sessions: sessionmaker[Session],
                 clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.sessions = sessions
        self.clock = clock
        self._count = 0

    def seen(self, key: str) -> bool:
        """Blocking (one indexed read): call it from a worker thread."""
        with self.sessions() as session:
            return session.scalar(select(KvState.key).where(KvState.key == key)) is not None

    def mark(self, conn: Connection | Session, key: str) -> bool:
        """The mark, in the caller's transaction; False when it was there already (on
        PostgreSQL after waiting for a transaction that is writing it to end)."""
        dialect = conn.get_bind().dialect.name if isinstance(conn, Session) \
            else conn.dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        now = self.clock()
        stmt = (insert(KvState).values(key=key, value="", updated_at=now)
                .on_conflict_do_nothing(index_elements=["key"]).returning(KvState.key))
        inserted = conn.execute(stmt).first() is not None
        if inserted:
            self._count += 1
            if self._count % PRUNE_EVERY == 1:
                self._prune_later = now
        return inserted

    _prune_later: dt.datetime | None = None

    def marked_elsewhere(self) -> None:
        """A mark written by the router (the command's idempotency key) counts towards the
        next prune of old marks like one written here."""
        self._count += 1
        if self._count % PRUNE_EVERY == 1:
            self._prune_later = self.clock()
        self.prune_if_due()

    def mark_alone(self, key: str) -> bool:
        """The mark in a transaction of its own, for work that writes nothing else."""
        with self.sessions.begin() as session:
            first = self.mark(session, key)
        self.prune_if_due()
        return first

    def prune_if_due(self) -> None:
        if self._prune_later is not None:
            now, self._prune_later = self._prune_later, None
            EventDedup(self.sessions, self.clock).prune(now)

    def install(self, sessions: sessionmaker[Session]) -> None:
        """Mark the current request (``handling``) at the start of each transaction of
        ``sessions``: the router's, so the mark commits or rolls back with the command."""

        def began(session: Session, transaction: SessionTransaction, conn: Connection) -> None:
            once = _current.get()
            if once is None or once.done or once.inserted or transaction.parent is not None:
                return
            if not self.mark(conn, once.key):
                once.duplicate = True
                raise AlreadyHandled()
            once.inserted = True

        def committed(session: Session) -> None:
            once = _current.get()
            if once is not None and once.inserted:
                once.done = True

        def rolled_back(session: Session) -> None:
            once = _current.get()
            if once is not None and not once.done:
                once.inserted = False

        event.listen(sessions, "after_begin", began)
        event.listen(sessions, "after_commit", committed)
        event.listen(sessions, "after_rollback", rolled_back)

    @contextlib.contextmanager
    def handling(self, key: str | None, *, alone: bool = True) -> Iterator[Once | None]:
        """Run the request's work inside: its first transaction on installed sessions
        writes the mark. With ``alone``, work that committed none (an error reply) is
        marked on its own after, so a replay does nothing either; a channel message that
        no meeting captures (``alone=False``) writes nothing. Call it in the thread that
        does the work."""
        if key is None:
            yield None
            return
        once = Once(key)
        token = _current.set(once)
        try:
            yield once
        finally:
            _current.reset(token)
        if alone and not once.done and not once.duplicate:
            once.duplicate = not self.mark_alone(key)
            once.done = True
        self.prune_if_due()
