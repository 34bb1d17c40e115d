"""Two tickers and a slow Slack: a row is posted once, however long the first ticker's batch
takes. Each post to the recording fake "takes" 40 s of the injected clock (the fake holds its
answer while the clock moves on), so one batch of ten would run past the 300 s lease; the
second ticker ticks once the first one's lease has run out (while the first is still
sending, if it still is). The real SlackSender posts over HTTP on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine, select

from bot.slack.sender import SlackSender
from handlers.catalog import build_registry
from handlers.core.context import CoreSettings
from handlers.delivery._engine import LEASE, DeliveryEngine, TickResult
from storage import outbox
from storage.db import make_session_factory
from storage.models import Outbox
from tests.delivery.common import seed_reminders, statuses, tally
from tests.delivery.test_slack_429 import LoopThread
from tests.slack.fake_slack import Call, FakeSlack

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
ROWS = 10
POST_TAKES = dt.timedelta(seconds=40)


def test_two_tickers_and_a_slow_slack_post_each_row_once(engine: Engine,
                                                        fake: FakeSlack) -> None:
    keys = seed_reminders(engine, "slack", "C0LEASE", ROWS, START)
    clock = [START]
    lock = threading.Lock()
    lease_over = START + LEASE  # the first claim is made at START
    second_may_tick = threading.Event()
    second_done = threading.Event()
    answered: list[tuple[str, dt.datetime]] = []  # whose post, and when it was answered

    def slow(call: Call) -> None:
        """Each post takes 40 s; the first ticker's first post past its lease is held
        until the second ticker has ticked (the overlap that doubled posts)."""
        with lock:
            clock[0] += POST_TAKES
            late = clock[0] >= lease_over
            answered.append((call.headers["authorization"], clock[0]))
        if call.headers["authorization"] == "Bearer xoxb-first" and late \
                and not second_may_tick.is_set():
            second_may_tick.set()
            assert second_done.wait(30)

    fake.slow("chat.postMessage", slow)
    loop = LoopThread()
    clients = {name: AsyncWebClient(token=f"xoxb-{name}", base_url=fake.api_url)
               for name in ("first", "second")}
    engines = {}
    for name, client in clients.items():
        sender = SlackSender(client)
        loop.bind(sender)
        engines[name] = DeliveryEngine(
            make_session_factory(engine), CoreSettings(clock=lambda: clock[0]),
            {"slack": sender}, sleep=None, kinds=build_registry().kinds)
    first_result: list[TickResult] = []
    first = threading.Thread(target=lambda: first_result.append(engines["first"].tick(START)))
    try:
        first.start()
        while not second_may_tick.wait(0.02) and first.is_alive():
            pass
        with lock:
            clock[0] = max(clock[0], lease_over + dt.timedelta(seconds=1))
        try:
            engines["second"].tick(clock[0])
        finally:
            second_done.set()
        first.join(30)
        assert not first.is_alive()
        # whatever the first ticker gave back, later ticks send
        for _ in range(3):
            if statuses(engine)["sent"] == ROWS:
                break
            with lock:
                clock[0] += LEASE
            engines["second"].tick(clock[0])
    finally:
        second_done.set()
        first.join(30)
        session = getattr(clients["second"], "session", None)
        if session is not None:
            asyncio.run_coroutine_threadsafe(session.close(), loop.loop).result(5)
        loop.stop(clients["first"])

    posts = [c.dump for c in fake.find("api", "chat.postMessage")]
    assert tally(posts, ROWS) == Counter(range(ROWS)), "a reminder posted twice or never"
    assert statuses(engine) == {"sent": ROWS}
    # the first ticker stopped in time: none of its sends ran past its lease
    assert first_result and 0 < len(first_result[0].delivered) < ROWS
    firsts = [at for who, at in answered if who == "Bearer xoxb-first"]
    assert firsts and max(firsts) < lease_over, answered
    with engine.connect() as conn:
        assert set(conn.scalars(select(Outbox.key).where(
            Outbox.status == "sent", Outbox.kind == "meeting_reminder"))) == set(keys)


def test_a_mark_by_a_ticker_that_lost_its_claim_changes_nothing(engine: Engine) -> None:
    """A's lease ran out and B took the row over: A's marks write nothing, B's stand."""
    seed_reminders(engine, "slack", "C0MARK", 1, START)
    sessions = make_session_factory(engine)
    now = START.replace(tzinfo=None)
    with sessions.begin() as session:
        (row,) = outbox.claim(session, now, LEASE, 10, ["slack"], "token-a")
        row_id = row.id
    later = now + LEASE + dt.timedelta(seconds=1)
    with sessions.begin() as session:
        (again,) = outbox.claim(session, later, LEASE, 10, ["slack"], "token-b")
        assert again.id == row_id and again.attempts == 2
    with sessions.begin() as session:
        assert not outbox.mark_sent(session, row_id, "token-a", "1.1", later)
        assert not outbox.mark_status(session, row_id, "token-a", outbox.PENDING, "late",
                                      later)
    with sessions() as session:
        row = session.get(Outbox, row_id)
        assert row is not None
        assert (row.status, row.claim_token, row.message_id) == ("sending", "token-b", None)
    with sessions.begin() as session:
        assert outbox.mark_sent(session, row_id, "token-b", "2.2", later)
    with sessions.begin() as session:
        assert not outbox.mark_sent(session, row_id, "token-b", "3.3", later)  # sent already
    with sessions() as session:
        row = session.get(Outbox, row_id)
        assert row is not None and (row.status, row.message_id) == ("sent", "2.2")
