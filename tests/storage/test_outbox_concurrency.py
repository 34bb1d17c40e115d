"""Several processes ticking one store: every due row is sent exactly once, in order per channel."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from handlers.core.context import CoreSettings
from handlers.core.messages import Block, ChannelRef, Text
from handlers.core.scheduling import ScheduleKinds
from handlers.delivery._engine import DeliveryEngine, SendFailed
from storage import outbox
from storage.db import make_engine, make_session_factory
from storage.models import Outbox

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def compose_test(session: Any, payload: dict[str, Any], settings: CoreSettings) -> list[Block]:
    return [Text((f"message {payload['n']}",))]


def only_test_kind() -> ScheduleKinds:
    """The engine's kinds for these tests: one composer of numbered messages, no planner."""
    kinds = ScheduleKinds()
    kinds.kind("test", compose_test)
    return kinds


class FileSender:
    """Appends each send to a file (O_APPEND: whole lines even from several processes)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{os.getpid()} {key}\n".encode())
        finally:
            os.close(fd)
        return key


def seed(engine: Engine, n: int) -> None:
    sessions = make_session_factory(engine)
    rows = [
        outbox.NewRow(key=f"test:{i:06d}", kind="test", platform="shell",
                      channel_id=f"#c{i % 10}", payload={"n": i, "grace_s": 86400},
                      due_at=(NOW - dt.timedelta(minutes=1)).replace(tzinfo=None))
        for i in range(n)
    ]
    with sessions.begin() as s:
        outbox.insert_new(s, rows, NOW.replace(tzinfo=None))


def worker(url: str, path: str) -> None:
    engine = make_engine(url)
    settings = CoreSettings(clock=lambda: NOW)
    DeliveryEngine(make_session_factory(engine), settings, {"shell": FileSender(path)},
                   batch=100, kinds=only_test_kind()).tick(NOW)
    engine.dispose()


@pytest.mark.parametrize("processes", [2, 4])
def test_parallel_ticks_send_each_row_once(
    engine: Engine, tmp_path: Path, processes: int
) -> None:
    n = 10_000 if engine.dialect.name == "postgresql" else 2_000
    seed(engine, n)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    path = str(tmp_path / "sent.log")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=worker, args=(url, path)) for _ in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
        assert p.exitcode == 0
    lines = Path(path).read_text().splitlines()
    keys = [line.split()[1] for line in lines]
    assert len(keys) == n and len(set(keys)) == n
    with make_session_factory(engine)() as s:
        sent = select(func.count()).where(Outbox.status == "sent", Outbox.kind == "test")
        assert s.scalar(sent) == n
    if engine.dialect.name == "postgresql":
        # the work was shared, not done by one process while the others waited
        assert len({line.split()[0] for line in lines}) > 1


class FlakySender:
    """Answers 429 with a long Retry-After to the first send to #c0, then works."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failed_once = False

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        if channel.channel_id == "#c0" and not self.failed_once:
            self.failed_once = True
            raise SendFailed("429", retry_after=90)
        self.sent.append((channel.channel_id, key))
        return key


def test_a_rate_limited_channel_keeps_its_order(engine: Engine) -> None:
    seed(engine, 30)
    sender = FlakySender()
    eng = DeliveryEngine(make_session_factory(engine), CoreSettings(clock=lambda: NOW),
                         {"shell": sender}, sleep=lambda s: None, kinds=only_test_kind())
    first = eng.tick(NOW)
    # #c0's first message waits 90 s; its two later ones wait behind it, the rest go out
    assert len(first.delivered) == 27
    assert all(ch != "#c0" for ch, _ in sender.sent)
    assert eng.tick(NOW + dt.timedelta(seconds=60)).delivered == []
    eng.tick(NOW + dt.timedelta(seconds=91))
    c0 = [key for ch, key in sender.sent if ch == "#c0"]
    assert c0 == ["test:000000", "test:000010", "test:000020"]
    assert len(sender.sent) == 30
