"""The one way from a worker thread into an adapter's event loop.

The delivery engine and the dispatcher run on worker threads; each platform's client lives
on an event loop. A send hops to the loop and waits, bounded: past the bound the coroutine
on the loop is cancelled (so it cannot post after the caller gave up) and TimeoutError is
raised. Called on the loop itself, the wait would deadlock: refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_on(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[T]],
            timeout: float) -> T:
    """Run ``make()`` on ``loop`` and wait for its result, at most ``timeout`` seconds."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError("a blocking wait from the event loop itself would deadlock")

    async def wrapped() -> T:
        return await make()

    future = asyncio.run_coroutine_threadsafe(wrapped(), loop)
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise
