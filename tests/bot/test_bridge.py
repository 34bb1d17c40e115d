"""The worker-thread-to-loop hop every adapter's send takes (bot.bridge.wait_on)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from bot.bridge import wait_on


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_the_result_comes_back_to_the_worker(loop: asyncio.AbstractEventLoop) -> None:
    async def answer() -> str:
        assert asyncio.get_running_loop() is loop
        return "posted"

    assert wait_on(loop, answer, 10) == "posted"


def test_past_the_bound_the_coroutine_on_the_loop_is_cancelled(
        loop: asyncio.AbstractEventLoop) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def hang() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # never set: only cancellation ends it
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    with pytest.raises(TimeoutError):
        wait_on(loop, hang, 0.2)
    assert started.is_set()
    assert cancelled.wait(10)  # it cannot post after the caller gave up


def test_waiting_from_the_loop_itself_is_refused(loop: asyncio.AbstractEventLoop) -> None:
    async def nested() -> str:
        async def inner() -> str:
            return "x"
        with pytest.raises(RuntimeError, match="deadlock"):
            wait_on(loop, inner, 1)
        return "refused"

    assert wait_on(loop, nested, 10) == "refused"


def test_an_error_on_the_loop_reaches_the_worker(loop: asyncio.AbstractEventLoop) -> None:
    async def fail() -> str:
        raise ValueError("the platform said no")

    with pytest.raises(ValueError, match="said no"):
        wait_on(loop, fail, 10)
