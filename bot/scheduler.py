"""The periodic jobs: APScheduler runs the delivery tick; the store stays the only truth.

Jobs live in memory (no pickled job store): after a restart the first tick plans from the
database whatever fell due while the process was away, within each message's grace.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler

from bot.container import Container
from bot.textrender import render_blocks
from bot.threads import signals_stay_with_main
from handlers.core.messages import Block, ChannelRef
from handlers.delivery import DeliveryEngine, TickResult

log = logging.getLogger(__name__)


class ShellSender:
    """Scheduled posts for shell channels, printed as they fall due."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.lock = threading.Lock()

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        where = f"dm {channel.direct_user}" if channel.direct_user else channel.channel_id
        body = render_blocks(blocks)
        with self.lock:
            self.write("\n".join(f"[{channel.platform}:{where}] {line}"
                                 for line in body.splitlines()))
        return f"shell:{key}"


def delivery_engine(box: Container) -> DeliveryEngine:
    """The engine on the dispatcher's senders: adapters that start later are seen too."""
    return box.dispatcher.engine()


def report(result: TickResult) -> None:
    for key in result.failed:
        log.error("delivery failed for good: %s (secretariat deliveries shows why)", key)
    if result.delivered or result.missed or result.retrying:
        log.info("tick: %d delivered, %d missed, %d to retry", len(result.delivered),
                 len(result.missed), len(result.retrying))


def safe_tick(engine: DeliveryEngine) -> None:
    """One tick; a failure is logged and the next tick tries again."""
    try:
        report(engine.tick())
    except Exception:
        log.exception("delivery tick failed; the next one will retry")


def start_async(box: Container) -> AsyncIOScheduler:
    """For ``taskbot run``: ticks on the running loop, the work in a worker thread."""
    engine = delivery_engine(box)

    async def tick() -> None:
        await asyncio.to_thread(safe_tick, engine)

    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    scheduler.add_job(
        tick, "interval", seconds=box.settings.tick_seconds, id="delivery-tick",
        next_run_time=dt.datetime.now(dt.UTC), max_instances=1, coalesce=True,
    )
    scheduler.start()
    return scheduler


def start_background(box: Container) -> BackgroundScheduler:
    """For the interactive shell: ticks in a background thread."""
    engine = delivery_engine(box)
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.add_job(
        safe_tick, "interval", args=[engine], seconds=box.settings.tick_seconds,
        id="delivery-tick", next_run_time=dt.datetime.now(dt.UTC), max_instances=1,
        coalesce=True,
    )
    with signals_stay_with_main():  # Ctrl-C must reach the shell's readline, not this thread
        scheduler.start()
    return scheduler
