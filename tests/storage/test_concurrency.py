"""Concurrent read-then-write transactions queue instead of failing or losing writes."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from storage.db import make_session_factory
from storage.models import Group

WORKERS = 4
PER_WORKER = 25


def test_parallel_read_modify_write(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = dt.datetime(2026, 11, 28, 9, 0)

    def work(worker: int) -> int:
        done = 0
        for i in range(PER_WORKER):
            with sessions.begin() as s:
                # a read first: without immediate transactions SQLite fails the upgrade
                # from a read to a write lock with "database is locked"
                s.scalar(select(func.count()).select_from(Group))
                s.add(Group(slug=f"g{worker}-{i}", name=f"G {worker} {i}", created_at=now))
            done += 1
        return done

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(work, range(WORKERS)))
    assert results == [PER_WORKER] * WORKERS
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Group)) == WORKERS * PER_WORKER
