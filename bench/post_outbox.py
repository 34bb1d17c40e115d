"""Benchmark: what the outbox hop costs a command's posts (issue 13, item 5).

Run: ``.venv/bin/python bench/post_outbox.py [--runs 500] [--db sqlite|postgresql|both]``.

A ``decision post`` to two groups (three channels with the BoC's) on a migrated store, end
to end in one process: the command in its transaction, then its posts to an in-process
recording sender (no platform, so no network in the figures). Two ways, interleaved run by
run so load and caches hit both alike:

- ``direct``: the posts sent straight from ``reply.posts`` after the commit, as
  ``bot/dispatch.py`` did before (a crash between commit and send lost them);
- ``outbox``: the posts written as outbox rows in the command's transaction, then sent at
  once by ``Dispatcher.deliver`` (claim, send, mark sent), as every adapter does now.

The hop is the difference, per run. Goal (issue 13): under 20 ms at p99 on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.dispatch import Dispatcher  # noqa: E402
from handlers.core import router as router_module  # noqa: E402
from handlers.core.messages import Block, ChannelRef  # noqa: E402
from handlers.core.router import Incoming  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from tests.support.dialog import Bot  # noqa: E402

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


class Recorder:
    def __init__(self) -> None:
        self.count = 0

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.count += 1
        return f"ts-{self.count}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def seed(bot: Bot) -> None:
    for line in ("tg create boc Board of Coordinators", "tg create repl Replication",
                 "tg create comms Communication", "tg add boc @bea"):
        bot.admin(line)
    for slug in ("boc", "repl", "comms"):
        bot.admin(f"tg link {slug}", channel=f"#{slug}")
        bot.admin(f"tg settings {slug} digest off")


def run(url: str, runs: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    bot = Bot(engine, now=NOW, preset=False)
    seed(bot)
    sender = Recorder()
    dispatcher = Dispatcher(bot.sessions, bot.settings, bot.router.registry.kinds)
    dispatcher.register("shell", sender)
    real_queue = router_module.queue_posts

    def command(n: int) -> Incoming:
        return Incoming(platform="shell", user_id="bea", channel_id="#boc",
                        text=f"decision post repl,comms Adopt guide number {n}")

    def direct(n: int) -> None:
        router_module.queue_posts = lambda *a, **k: []  # type: ignore[assignment]
        try:
            reply = bot.router.handle(command(n))
        finally:
            router_module.queue_posts = real_queue
        assert not reply.error and not reply.queued
        for post in reply.posts:
            for channel in post.channels:
                sender.send(channel, post.blocks, f"random-{n}")

    def outbox(n: int) -> None:
        reply = bot.router.handle(command(n))
        assert not reply.error and reply.queued
        assert dispatcher.deliver(reply.queued) == []

    ways: dict[str, Callable[[int], None]] = {"direct": direct, "outbox": outbox}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for n in range(20):  # warm-up, both ways
        for way in ways.values():
            way(-n - 1)
    for n in range(runs):
        for name, way in (ways.items() if n % 2 else reversed(ways.items())):
            started = time.perf_counter()
            way(n)
            times[name].append((time.perf_counter() - started) * 1000)
    engine.dispose()
    hop = [o - d for o, d in zip(times["outbox"], times["direct"], strict=True)]
    print(f"{engine.dialect.name}: {runs} decision posts each way, 3 channels each "
          f"(load {os.getloadavg()[0]:.2f})")
    for name, values in times.items():
        print(f"  {name:7} p50 {pct(values, 50):6.2f} ms  p99 {pct(values, 99):6.2f} ms  "
              f"mean {statistics.fmean(values):6.2f} ms")
    print(f"  hop     p50 {pct(hop, 50):6.2f} ms  p99 {pct(hop, 99):6.2f} ms  (outbox minus "
          f"direct, run by run; goal p99 < 20 ms on SQLite)")
    print(f"  ratio   outbox / direct at p50: "
          f"{pct(times['outbox'], 50) / pct(times['direct'], 50):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.db in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            run(f"sqlite:///{folder}/bench.sqlite3", args.runs)
        if args.db in ("postgresql", "both"):
            from tests.support.postgres import postgres_cluster

            run(stack.enter_context(postgres_cluster()), args.runs)


if __name__ == "__main__":
    main()
