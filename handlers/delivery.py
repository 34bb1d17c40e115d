"""The delivery engine: scheduled messages go through the outbox, once each.

A tick (1) plans: inserts a row for every scheduled message that has fallen due, under a
deterministic key, so planning twice or in two processes inserts it once; (2) claims due
rows with a lease and composes them in one short transaction; (3) sends outside any
transaction and marks each row sent (with the platform's message id) at once, keeping the
window in which a crash could repeat a Slack post as small as it can be. Matrix sends are
idempotent by the row key (its transaction id).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from handlers.context import CoreSettings
from handlers.messages import Block, ChannelRef
from handlers.schedules import COMPOSERS, PLANNERS, PREFETCH, aware_utc, naive_utc
from storage import outbox
from storage.models import Outbox

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
RETRY_IN_TICK_MAX = 30.0  # seconds one send may wait in-tick for a server's Retry-After
WAIT_IN_TICK_MAX = 60.0  # seconds a whole tick may wait: well inside the lease


class SendFailed(Exception):
    """A send that did not go through; ``retry_after`` is the server's delay, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    """The port each platform implements in bot/: post to a channel, return the message id.

    ``key`` is the outbox row's key; a platform that supports idempotent sends (Matrix
    transaction ids) derives its idempotency key from it. Raises SendFailed.
    """

    def send(self, channel: ChannelRef, blocks: list[Block], key: str) -> str: ...


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


class DeliveryEngine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: CoreSettings,
        senders: dict[str, Sender],
        *,
        batch: int = 200,
        sleep: Callable[[float], None] | None = None,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.senders = senders
        self.batch = batch
        self.sleep = sleep
        self.lease = lease
        # waiting on Retry-After inside a tick must end well before the lease does, or
        # another process could take the rows over while this one still holds them
        self.wait_budget = min(WAIT_IN_TICK_MAX, lease.total_seconds() / 2)

    def plan(self, now: dt.datetime, result: TickResult) -> None:
        rows: list[outbox.NewRow] = []
        with self.sessions.begin() as session:
            for planner in PLANNERS:
                rows.extend(planner(session, now, self.settings))
            inserted = set(outbox.insert_new(session, rows, naive_utc(now)))
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
        # a channel whose send was put off keeps its later rows back too, so that each
        # channel sees its messages in order
        blocked: dict[ChannelRef, dt.datetime] = {}
        budget = [self.wait_budget]
        while True:
            claimed = self._claim(now, result)
            for row_id, key, kind, channel, due_at, blocks in claimed:
                if channel in blocked:
                    self._defer(row_id, blocked[channel])
                    continue
                retry_at = self._send(row_id, key, kind, channel, due_at, blocks, now, result,
                                      budget)
                if retry_at is not None:
                    blocked[channel] = retry_at
            if len(claimed) < self.batch:
                break
        return result

    def _defer(self, row_id: int, until: dt.datetime) -> None:
        with self.sessions.begin() as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            row.attempts -= 1  # it was not tried
            outbox.mark_status(session, row_id, outbox.PENDING, row.last_error, until)

    def _claim(
        self, now: dt.datetime, result: TickResult
    ) -> list[tuple[int, str, str, ChannelRef, dt.datetime, list[Block]]]:
        out = []
        with self.sessions.begin() as session:
            rows: list[Outbox] = outbox.claim(
                session, naive_utc(now), self.lease, self.batch, sorted(self.senders)
            )
            kinds: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                kinds.setdefault(row.kind, []).append(row.payload)
            for kind, payloads in kinds.items():
                if kind in PREFETCH:
                    PREFETCH[kind](session, payloads)
            for row in rows:
                grace = dt.timedelta(seconds=row.payload.get("grace_s", 86400))
                if now - aware_utc(row.due_at) > grace:
                    row.status, row.claimed_until = outbox.MISSED, None
                    row.last_error = f"missed by {now - aware_utc(row.due_at)}"
                    log.warning("outbox %s missed: due %s, now %s", row.key, row.due_at, now)
                    result.missed.append(row.key)
                    continue
                composer = COMPOSERS.get(row.kind)
                if composer is None:
                    row.status, row.claimed_until = outbox.FAILED, None
                    row.last_error = f"no composer for {row.kind!r}"
                    result.failed.append(row.key)
                    continue
                blocks = composer(session, row.payload, self.settings)
                if not blocks:
                    # its subject is gone or settled (deleted, done, acknowledged)
                    row.status, row.claimed_until = outbox.SKIPPED, None
                    result.skipped.append(row.key)
                    continue
                out.append((row.id, row.key, row.kind, ChannelRef(row.platform, row.channel_id),
                            row.due_at, blocks))
        return out

    def _send(
        self, row_id: int, key: str, kind: str, channel: ChannelRef, due_at: dt.datetime,
        blocks: list[Block], now: dt.datetime, result: TickResult, budget: list[float],
    ) -> dt.datetime | None:
        """Send one row; returns the retry time when it had to be put off."""
        sender = self.senders[channel.platform]
        waited = 0.0
        while True:
            try:
                message_id = sender.send(channel, blocks, key)
            except SendFailed as err:
                delay = err.retry_after
                if (not err.permanent and delay is not None and self.sleep is not None
                        and waited + delay <= RETRY_IN_TICK_MAX and delay <= budget[0]):
                    self.sleep(delay)
                    waited += delay
                    budget[0] -= delay
                    continue
                return self._fail(row_id, key, str(err), delay, err.permanent, now, result)
            except Exception as err:  # a network error: keep it for a later tick
                log.exception("outbox %s: send failed", key)
                return self._fail(row_id, key, f"{type(err).__name__}: {err}", None, False, now,
                                  result)
            with self.sessions.begin() as session:
                outbox.mark_sent(session, row_id, message_id, naive_utc(self.settings.clock()))
            result.delivered.append(Delivered(key, kind, channel, due_at, message_id))
            return None

    def _fail(self, row_id: int, key: str, error: str, delay: float | None,
              permanent: bool, now: dt.datetime, result: TickResult) -> dt.datetime | None:
        with self.sessions.begin() as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            if permanent or row.attempts >= MAX_ATTEMPTS:
                outbox.mark_status(session, row_id, outbox.FAILED, error)
                log.error("outbox %s failed for good after %d attempts: %s", key,
                          row.attempts, error)
                result.failed.append(key)
                return None
            backoff = delay if delay is not None else 30 * 2 ** (row.attempts - 1)
            retry_at = naive_utc(now) + dt.timedelta(seconds=backoff)
            outbox.mark_status(session, row_id, outbox.PENDING, error, retry_at)
            log.warning("outbox %s: %s; retrying at %s", key, error, retry_at)
            result.retrying.append(key)
            return retry_at
