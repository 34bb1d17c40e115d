"""Events acted on once, across redeliveries and restarts: the one seen-event store.

Every platform redelivers: Slack retries an event it saw no 200 for in time (and a signed
request replayed within its five minutes verifies again); a Matrix sync batch is replayed
when the process stopped before saving its token. So each adapter names what it received
by a key in its own namespace and marks it in ``kv_state``:

- work that writes (a command, a captured line) carries its key as ``Incoming.once``: the
  router writes the mark in the work's own transaction, so the two commit or vanish
  together, and a second delivery finds the mark and does nothing;
- work that writes nothing (help, a refusal, an error, a Home tab) is marked on its own
  (``mark_alone``): a replay is not answered twice either.

Marks older than ``keep`` are pruned every few hundred marks: no platform redelivers that
late. A mark is also remembered in memory (bounded), so a duplicate is usually answered
without a read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from handlers.core.messages import Reply
from storage import kv
from storage.models import KvState

PRUNE_EVERY = 500
REMEMBER = 20_000  # marks kept in memory before the set starts afresh (the store is the truth)

# what platforms' own ids look like (Slack's, Matrix's $-ids); anything else is kept only
# as its hash
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:=+/$-]{1,160}", re.ASCII)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def key_part(value: str) -> str:
    """``value`` as it may stand in a stored key: itself when it reads as an id, else its
    SHA-256 (a NUL, which PostgreSQL refuses in text, or a length a cut would make two
    events one). A hash starts with ``#``, which no kept id has, so the two never meet."""
    if _PLAIN_ID.fullmatch(value):
        return value
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class SeenEvents:
    """The marks of one adapter's namespace (``slack:``, ``matrix:seen:``)."""

    def __init__(self, sessions: sessionmaker[Session], namespace: str, keep: dt.timedelta,
                 clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.sessions = sessions
        self.namespace = namespace
        self.keep = keep
        self.clock = clock
        self._known: set[str] = set()
        self._count = 0

    def key(self, *parts: str) -> str:
        """The stored key of an event named by ``parts`` (each made safe by ``key_part``)."""
        return self.namespace + ":".join(key_part(p) for p in parts)

    def load(self) -> None:
        """Remember the namespace's marks (a restart then answers a replay from memory)."""
        with self.sessions() as session:
            self._known = set(kv.get_many(session, self.namespace))

    def known(self, key: str) -> bool:
        """Whether the mark is remembered here: no read, so safe on an event loop."""
        return key in self._known

    def seen(self, key: str) -> bool:
        """Whether the mark exists. Blocking (one indexed read): call it off the loop."""
        if key in self._known:
            return True
        with self.sessions() as session:
            found = session.scalar(select(KvState.key).where(KvState.key == key)) is not None
        if found:
            self._remember(key)
        return found

    def mark(self, session: Session, key: str) -> bool:
        """The mark in the caller's transaction; False when it was there (on PostgreSQL
        after waiting for a transaction that is writing it to end)."""
        first = kv.claim(session, key, self.clock())
        self._remember(key)
        if first:
            self._counted()
        return first

    def mark_alone(self, key: str) -> bool:
        """The mark in a transaction of its own, for work that writes nothing else."""
        with self.sessions.begin() as session:
            first = self.mark(session, key)
        self.prune_if_due()
        return first

    def settle(self, key: str, reply: Reply, *, ran: bool) -> bool:
        """After the router answered work that carried ``key`` as its ``once``: False if
        it was a duplicate (nothing was done). Work the router ran (``ran``: a resolved
        command, a heard line) and committed wrote its mark; help, an error or a refusal
        wrote nothing, so its mark is written now."""
        if reply.duplicate:
            self._remember(key)
            return False
        if reply.error or not ran:
            self.mark_alone(key)
        else:
            self._remember(key)
            self._counted()
            self.prune_if_due()
        return True

    def prune(self, now: dt.datetime) -> None:
        """Forget marks older than ``keep``."""
        cutoff = now - self.keep
        with self.sessions.begin() as session:
            session.execute(delete(KvState).where(
                KvState.key.startswith(self.namespace, autoescape=True),
                KvState.updated_at < cutoff))

    def prune_if_due(self) -> None:
        if self._due:
            self._due = False
            self.prune(self.clock())

    _due = False

    def _counted(self) -> None:
        self._count += 1
        if self._count % PRUNE_EVERY == 1:
            self._due = True

    def _remember(self, key: str) -> None:
        if len(self._known) >= REMEMBER:
            self._known.clear()
        self._known.add(key)
