"""The delivery engine: scheduled messages go through the outbox, once each.

A tick (1) plans: inserts a row for every scheduled message that has fallen due, under a
deterministic key, so planning twice or in two processes inserts it once; (2) claims due
rows with a lease and composes them in one short transaction; (3) sends outside any
transaction and marks each row sent (with the platform's message id) at once, keeping the
window in which a crash could repeat a Slack post as small as it can be. Matrix sends are
idempotent by the row key (its transaction id).

A claim is a lease: once it runs out another ticker may take the rows over and send them.
So a tick sends a claimed row only while enough of the lease is left, hands each send the
time that is left (the sender bounds its own waits and retries by it), and gives back the
rows it has no time for; every mark names the claim's token, so a ticker that lost its
rows anyway (a stall, a clock jump) overwrites nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from handlers.core.context import CoreSettings
from handlers.core.i18n import localize
from handlers.core.messages import Block, ChannelRef
from handlers.core.readers import channel_readers
from handlers.core.scheduling import ScheduleKinds
from storage import outbox, retention
from storage.models import Outbox

log = logging.getLogger(__name__)

PURGE_EVERY = dt.timedelta(hours=1)  # how often a ticking process runs the retention purge
PURGE_BATCHES = 10  # batches of storage.retention.BATCH rows of each kind, per purge
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
RETRY_IN_TICK_MAX = 30.0  # seconds one send may wait in-tick for a server's Retry-After
WAIT_IN_TICK_MAX = 60.0  # seconds a whole tick may wait: well inside the lease
LEASE_MARGIN_MAX = 30.0  # seconds of a lease never used: clock skew between tickers, the mark
SEND_RESERVE_MAX = 60.0  # seconds of lease a send must have left to be started at all


RETRY_AFTER_MAX = 6 * 3600.0  # seconds: a server's delay beyond this is read as this


class SendFailed(Exception):
    """A send that did not go through; ``retry_after`` is the server's delay, if it gave one.

    The delay comes from outside (a header, a JSON field), so it is made a finite number of
    seconds in [0, RETRY_AFTER_MAX] here, once for every platform: ``inf`` would overflow the
    retry time and ``nan`` compares false with every bound."""

    def __init__(self, message: str, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message)
        if retry_after is not None and not 0.0 <= retry_after <= RETRY_AFTER_MAX:
            retry_after = RETRY_AFTER_MAX if retry_after > 0 else 0.0  # nan and < 0: at once
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """The port each platform implements in bot/: post to a channel, return the message id.

    ``key`` is the outbox row's key; a platform that supports idempotent sends (Matrix
    transaction ids) derives its idempotency key from it. ``timeout`` (seconds), when given,
    bounds the whole send, its rate-limit waits included: the delivery engine passes what
    is left of the row's lease. Raises SendFailed.
    """

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str: ...


# A sender may say ``idempotent = True``: a second send of one key is the same message to
# its reader (mail's Message-ID, which clients collapse). Its rows are marked sent a few at
# a time (``MARK_BATCH``): one transaction for many marks, and a crash between a send and
# its mark re-sends only what readers take for the same message.
MARK_BATCH = 25


# --- the tick -------------------------------------------------------------------------------


@dataclass
class Delivered:
    key: str
    kind: str
    channel: ChannelRef
    due_at: dt.datetime
    message_id: str


@dataclass
class TickResult:
    planned: int = 0
    delivered: list[Delivered] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # rows TASKBOT_RETENTION_DAYS let go this tick (closed actions' notes, finished rows)
    purged: int = 0


Claimed = tuple[int, str, str, ChannelRef, dt.datetime, list[Block]]


@dataclass
class Claim:
    """One claimed batch: its token, and when its lease started by either clock (the
    injected one the rows' ``claimed_until`` is written in, and the process's monotonic one,
    which keeps running under a frozen ``taskbot tick --at``)."""

    token: str
    started: dt.datetime
    started_mono: float
    rows: list[Claimed]
    # how many rows the claim took: with those it marked missed, skipped or failed, more
    # than ``rows`` (a full batch means more may be waiting, whatever it composed)
    taken: int = 0
    # rows sent by an idempotent sender whose mark is still to be written: (row id, key,
    # message id), written together (``_mark_sent``)
    sent: list[tuple[int, str, str]] = field(default_factory=list)


class DeliveryEngine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: CoreSettings,
        senders: dict[str, Sender],
        *,
        kinds: ScheduleKinds,
        batch: int = 200,
        sleep: Callable[[float], None] | None = None,
        lease: dt.timedelta = LEASE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.senders = senders
        self.kinds = kinds  # the features' planners and composers, from the composition root
        self.batch = batch
        self.sleep = sleep
        self.lease = lease
        # waiting on Retry-After inside a tick must end well before the lease does, or
        # another process could take the rows over while this one still holds them
        self.wait_budget = min(WAIT_IN_TICK_MAX, lease.total_seconds() / 2)
        self.monotonic = monotonic
        seconds = lease.total_seconds()
        self.usable = seconds - min(LEASE_MARGIN_MAX, seconds / 10)
        self.reserve = min(SEND_RESERVE_MAX, seconds / 4)
        self.purged_at: dt.datetime | None = None

    def _connect(self) -> AbstractContextManager[Connection]:
        """A transaction on a plain connection of the sessions' engine (its own BEGIN, as
        a session's), for the one-statement marks; a factory bound to no engine (a test's)
        gets a session's connection."""
        bind = self.sessions.kw.get("bind")
        if isinstance(bind, Engine):
            return bind.begin()
        return _session_connection(self.sessions)

    def plan(self, now: dt.datetime, result: TickResult) -> None:
        rows: list[outbox.NewRow] = []
        with self.sessions.begin() as session:
            for planner in self.kinds.planners:
                rows.extend(planner(session, now, self.settings))
            inserted = set(outbox.insert_new(session, rows, now))
        result.planned = len(inserted)
        for row in rows:
            if row.key in inserted and row.status == outbox.MISSED:
                log.warning("outbox %s missed: due %s, planned only at %s", row.key,
                            row.due_at, now)
                result.missed.append(row.key)

    def tick(self, now: dt.datetime | None = None) -> TickResult:
        now = now or self.settings.clock()
        result = TickResult()
        self.plan(now, result)
        self._drain(now, result, None)
        self.purge(now, result)
        return result

    def purge(self, now: dt.datetime, result: TickResult) -> None:
        """What ``TASKBOT_RETENTION_DAYS`` lets go, at most once an hour (the queries scan
        the closed actions), a few bounded batches each time, each its own transaction."""
        days = self.settings.retention_days
        if days is None or (self.purged_at is not None and now - self.purged_at < PURGE_EVERY):
            return
        self.purged_at = now
        for _ in range(PURGE_BATCHES):
            with self.sessions.begin() as session:
                done = retention.purge(session, now, days)
            result.purged += done.notes + done.outbox
            if not done:
                break
        if result.purged:
            log.info("retention: %d rows older than %d days purged", result.purged, days)

    def deliver(self, keys: Sequence[str], now: dt.datetime | None = None) -> TickResult:
        """Send these rows now (a command's posts, just committed), as a tick would: rows
        another ticker holds, or for a platform this process lacks, are left to it."""
        result = TickResult()
        if keys:
            self._drain(now or self.settings.clock(), result, keys)
        return result

    def _drain(self, now: dt.datetime, result: TickResult, keys: Sequence[str] | None) -> None:
        # a channel whose send was put off keeps its later rows back too, so that each
        # channel sees its messages in order
        blocked: dict[ChannelRef, dt.datetime] = {}
        budget = [self.wait_budget]
        while True:
            claim = self._claim(now, result, keys)
            for i, (row_id, key, kind, channel, due_at, blocks) in enumerate(claim.rows):
                left = self.lease_left(claim)
                if left < self.reserve:
                    # the rest could not be sent before another ticker may take them over
                    self._mark_sent(claim)
                    log.warning("outbox: %.0fs of the lease left, giving back %d rows", left,
                                len(claim.rows) - i)
                    for row in claim.rows[i:]:
                        self._defer(row[0], claim.token, None)
                    return
                if channel in blocked:
                    self._defer(row_id, claim.token, blocked[channel])
                    continue
                retry_at = self._send(row_id, key, kind, channel, due_at, blocks, now, result,
                                      budget, claim)
                if retry_at is not None:
                    blocked[channel] = retry_at
            self._mark_sent(claim)
            if claim.taken < self.batch:
                break

    def lease_left(self, claim: Claim) -> float:
        """Seconds of the claim's usable lease left, by whichever clock ran further."""
        by_clock = (self.settings.clock() - claim.started).total_seconds()
        by_mono = self.monotonic() - claim.started_mono
        return self.usable - max(by_clock, by_mono)

    def _defer(self, row_id: int, token: str, until: dt.datetime | None) -> None:
        """Back to pending without counting an attempt: the row was not tried."""
        with self.sessions.begin() as session:
            error = session.scalar(select(Outbox.last_error).where(Outbox.id == row_id))
            outbox.mark_status(session, row_id, token, outbox.PENDING, error, until,
                               untried=True)

    def _claim(self, now: dt.datetime, result: TickResult,
               keys: Sequence[str] | None = None) -> Claim:
        out: list[Claimed] = []
        token = outbox.new_token()
        started, started_mono = self.settings.clock(), self.monotonic()
        with self.sessions.begin() as session:
            rows: list[Outbox] = outbox.claim(
                session, now, self.lease, self.batch, sorted(self.senders), token,
                keys,
            )
            kinds: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                kinds.setdefault(row.kind, []).append(row.payload)
            for kind, payloads in kinds.items():
                if kind in self.kinds.prefetch:
                    self.kinds.prefetch[kind](session, payloads)
            # who reads each channel (its language and zone), all of them at once
            readers = channel_readers(
                session, (ChannelRef(r.platform, r.channel_id) for r in rows), self.settings)
            for row in rows:
                grace = dt.timedelta(seconds=row.payload.get("grace_s", 86400))
                if now - row.due_at > grace:
                    row.status, row.claimed_until = outbox.MISSED, None
                    row.last_error = f"missed by {now - row.due_at}"
                    log.warning("outbox %s missed: due %s, now %s", row.key, row.due_at, now)
                    result.missed.append(row.key)
                    continue
                composer = self.kinds.composers.get(row.kind)
                if composer is None:
                    row.status, row.claimed_until = outbox.FAILED, None
                    row.last_error = f"no composer for {row.kind!r}"
                    result.failed.append(row.key)
                    continue
                blocks = composer(session, row.payload, self.settings)
                if blocks:  # in the language (and zone) of whoever reads that channel
                    blocks = localize(blocks, readers[ChannelRef(row.platform, row.channel_id)])
                if not blocks:
                    # its subject is gone or settled (deleted, done, acknowledged)
                    row.status, row.claimed_until = outbox.SKIPPED, None
                    result.skipped.append(row.key)
                    continue
                out.append((row.id, row.key, row.kind, ChannelRef(row.platform, row.channel_id),
                            row.due_at, blocks))
        return Claim(token, started, started_mono, out, len(rows))

    def _send(
        self, row_id: int, key: str, kind: str, channel: ChannelRef, due_at: dt.datetime,
        blocks: list[Block], now: dt.datetime, result: TickResult, budget: list[float],
        claim: Claim,
    ) -> dt.datetime | None:
        """Send one row within what is left of its lease; returns the retry time when it
        had to be put off."""
        sender = self.senders[channel.platform]
        waited = 0.0
        while True:
            try:
                message_id = sender.send(channel, blocks, key, timeout=self.lease_left(claim))
            except SendFailed as err:
                delay = err.retry_after
                if (not err.permanent and delay is not None and self.sleep is not None
                        and waited + delay <= RETRY_IN_TICK_MAX and delay <= budget[0]
                        and self.lease_left(claim) - delay >= self.reserve):
                    self.sleep(delay)
                    waited += delay
                    budget[0] -= delay
                    continue
                return self._fail(row_id, claim.token, key, str(err), delay, err.permanent,
                                  now, result)
            except Exception as err:  # a network error: keep it for a later tick
                log.exception("outbox %s: send failed", key)
                return self._fail(row_id, claim.token, key, f"{type(err).__name__}: {err}",
                                  None, False, now, result)
            result.delivered.append(Delivered(key, kind, channel, due_at, message_id))
            claim.sent.append((row_id, key, message_id))
            if not getattr(sender, "idempotent", False) or len(claim.sent) >= MARK_BATCH:
                self._mark_sent(claim)
            return None

    def _mark_sent(self, claim: Claim) -> None:
        """The marks of the rows sent and not marked yet, in one transaction."""
        if not claim.sent:
            return
        sent, claim.sent = claim.sent, []
        at = self.settings.clock()
        with self._connect() as conn:
            held = [outbox.mark_sent(conn, row_id, claim.token, message_id, at)
                    for row_id, _key, message_id in sent]
        for ok, (_row_id, key, message_id) in zip(held, sent, strict=True):
            if not ok:
                log.error("outbox %s: sent as %s after its claim was taken over", key,
                          message_id)

    def _fail(self, row_id: int, token: str, key: str, error: str, delay: float | None,
              permanent: bool, now: dt.datetime, result: TickResult) -> dt.datetime | None:
        with self.sessions.begin() as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            if row.claim_token != token:
                log.warning("outbox %s: %s; its claim was taken over meanwhile", key, error)
                return None
            if permanent or row.attempts >= MAX_ATTEMPTS:
                outbox.mark_status(session, row_id, token, outbox.FAILED, error)
                log.error("outbox %s failed for good after %d attempts: %s", key,
                          row.attempts, error)
                result.failed.append(key)
                return None
            backoff = delay if delay is not None else 30 * 2 ** (row.attempts - 1)
            retry_at = now + dt.timedelta(seconds=backoff)
            outbox.mark_status(session, row_id, token, outbox.PENDING, error, retry_at)
            log.warning("outbox %s: %s; retrying at %s", key, error, retry_at)
            result.retrying.append(key)
            return retry_at


@contextlib.contextmanager
def _session_connection(sessions: sessionmaker[Session]) -> Iterator[Connection]:
    with sessions.begin() as session:
        yield session.connection()
