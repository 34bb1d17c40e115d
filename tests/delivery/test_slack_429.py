"""Slack answering 429 with Retry-After for a while: every reminder delivered, in order per
channel, none twice. The real SlackSender posts to the recording fake over HTTP; the
delivery engine ticks on an injected clock, so the waits cost no wall time."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.slack.sender import SlackSender
from handlers.catalog import build_registry
from handlers.core.context import CoreSettings
from handlers.delivery._engine import DeliveryEngine
from storage.db import make_session_factory
from tests.delivery.common import label, seed_reminders, statuses
from tests.slack.fake_slack import FakeSlack

CHANNELS = ("C0ONE", "C0TWO", "C0THREE")
PER_CHANNEL = 10
START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


class LoopThread:
    """The event loop the Slack client lives on, as in ``taskbot run``; the engine sends
    from another thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def bind(self, sender: SlackSender) -> None:
        async def bind() -> None:
            sender.bind(asyncio.get_running_loop())

        asyncio.run_coroutine_threadsafe(bind(), self.loop).result(5)

    def stop(self, client: AsyncWebClient) -> None:
        async def close() -> None:
            session = getattr(client, "session", None)
            if session is not None:
                await session.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.mark.parametrize("in_tick_waits", [True, False], ids=["waits", "defers"])
def test_429_for_a_while(engine: Engine, fake: FakeSlack, in_tick_waits: bool) -> None:
    """40 answers of 429 (Retry-After 2 s) before Slack takes posts again. With in-tick
    waits the engine sleeps them out; without, each rate-limited row is put off to a later
    tick and its channel's later rows with it."""
    for n, channel in enumerate(CHANNELS):
        seed_reminders(engine, "slack", channel, PER_CHANNEL, START, slug=f"g{n}")
    fake.rate_limit("chat.postMessage", times=40, retry_after=2)

    slept: list[float] = []

    async def sender_sleep(seconds: float) -> None:
        slept.append(seconds)

    client = AsyncWebClient(token="xoxb-t", base_url=fake.api_url)
    sender = SlackSender(client, sleep=sender_sleep)
    loop = LoopThread()
    loop.bind(sender)
    clock = [START]
    settings = CoreSettings(clock=lambda: clock[0])
    engine_slept: list[float] = []
    delivery = DeliveryEngine(make_session_factory(engine), settings, {"slack": sender},
                              sleep=engine_slept.append if in_tick_waits else None, kinds=build_registry().kinds)
    try:
        ticks = 0
        while statuses(engine)["sent"] < len(CHANNELS) * PER_CHANNEL:
            ticks += 1
            assert ticks <= 50, statuses(engine)
            result = delivery.tick(clock[0])
            assert not result.failed and not result.missed, result
            clock[0] += dt.timedelta(seconds=2)
    finally:
        loop.stop(client)

    assert statuses(engine) == {"sent": len(CHANNELS) * PER_CHANNEL}
    assert len(fake.find("api", "chat.postMessage", status=429)) == 40
    # Slack's Retry-After was honoured: the sender's and the engine's waits together
    assert all(s == 2.0 for s in slept + engine_slept)
    if in_tick_waits:
        assert ticks == 1 and engine_slept
    else:
        assert ticks > 1 and not engine_slept
    for channel in CHANNELS:
        posts = [c.dump for c in fake.find("api", "chat.postMessage")
                 if c.body.get("channel") == channel]
        order = [next(i for i in range(PER_CHANNEL) if label(i) in p) for p in posts]
        assert order == list(range(PER_CHANNEL)), (channel, order)
