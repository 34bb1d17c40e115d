"""A check-in round's opening and its close, each raced by four ticking processes.

At the opening the four try to create the round together: one does (a unique row per
meeting), and each askee's prompt is queued and sent once. At the close the four run the
UPDATE only an open round matches: the Board's compilation, the escalations and the agenda
items are written once, each post sent once. On PostgreSQL the processes truly run
together; on SQLite they queue.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot.platforms import registered_platforms
from handlers.catalog import build_registry
from handlers.checkins import plan_checkins
from handlers.core.context import CoreSettings
from handlers.delivery._engine import DeliveryEngine
from storage.db import make_engine, make_session_factory
from storage.models import AgendaItem, CheckinAskee, CheckinRound, Outbox
from tests.handlers.test_checkins import CLOSES, OPENS, run, said, seed
from tests.handlers.test_delivery import RecordingSender
from tests.storage.test_outbox_concurrency import FileSender
from tests.support.dialog import Bot

PROCESSES = 4


def worker(url: str, path: str, barrier: Any, at: dt.datetime) -> None:
    """One process as ``taskbot run`` ticks, with the check-ins' planner alone (so that the
    four reach it together), ready before the barrier."""
    engine = make_engine(url)
    settings = CoreSettings(timezone="Europe/Brussels", clock=lambda: at,
                            platforms=registered_platforms())
    kinds = build_registry(settings.platforms).kinds
    kinds.planners[:] = [plan for plan in kinds.planners if plan is plan_checkins]
    delivery = DeliveryEngine(make_session_factory(engine), settings,
                              {"shell": FileSender(path)}, kinds=kinds)
    with engine.connect():
        pass
    barrier.wait(timeout=60)
    delivery.tick(at)
    engine.dispose()


def race(bot: Bot, tmp_path: Path, at: dt.datetime, name: str) -> Counter[str]:
    engine: Engine = bot.engine
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()  # no connection of the parent's crosses the fork
    path = str(tmp_path / f"{name}.log")
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=worker, args=(url, path, barrier, at))
             for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    log = Path(path)
    return Counter(line.split()[1] for line in log.read_text().splitlines()) if log.exists() \
        else Counter()


def test_four_processes_open_and_close_a_round_once(bot: Bot, tmp_path: Path) -> None:
    seed(bot)
    # everything else that falls due before the opening, ticked away first
    run(bot, RecordingSender(), [OPENS - dt.timedelta(minutes=1)])
    opened = race(bot, tmp_path, OPENS, "open")
    assert set(opened.values()) == {1}
    sessions = make_session_factory(bot.engine)
    with sessions() as s:
        asked = [f"checkin_prompt:1:{g}:{p}" for g, p in s.execute(
            select(CheckinAskee.group_id, CheckinAskee.person_id))]
        assert sorted(k for k in opened if k.startswith("checkin_prompt:")) == sorted(asked)
        assert s.scalar(select(func.count()).select_from(CheckinRound)) == 1
        assert s.scalar(select(func.count()).select_from(CheckinAskee)) == 3
    bot.now = OPENS
    said(bot, "alice", "checkin The guide is out")
    said(bot, "alice", "checkin The data agreement")
    run(bot, RecordingSender(), [CLOSES - dt.timedelta(minutes=1)])
    closed = race(bot, tmp_path, CLOSES + dt.timedelta(minutes=1), "close")
    assert set(closed.values()) == {1}
    with sessions() as s:
        rows = list(s.scalars(select(Outbox.key).where(Outbox.key.like("%checkin-close%"))
                              .order_by(Outbox.key)))
        assert sorted(k for k in closed if "checkin-close" in k) == rows
        assert rows == [
            "post:checkin-close:1:0:shell:#boc",  # the compilation
            "post:checkin-close:1:1:shell:dm:fay",  # Financing has no chair: its askee
            "post:checkin-close:1:2:shell:dm:carl",  # Communication's chair
            "post:checkin-close:1:3:shell:#secretariat",
        ]
        assert s.scalar(select(CheckinRound.status)) == "closed"
        assert s.scalar(select(func.count()).select_from(AgendaItem)) == 2


def test_an_answer_in_flight_at_the_close_is_compiled_or_refused(bot: Bot) -> None:
    """An answer whose transaction is open when the close starts: the close waits for it
    (the answer holds the round's row shared, the close updates it) and compiles it; an
    answer begun after the close sees the round closed. PostgreSQL only: SQLite runs one
    writer at a time, so there is no such moment there."""
    import threading

    from sqlalchemy import text

    from handlers.checkins._commands import _open, save_answer
    from handlers.core.context import Ctx
    from storage.models import Group, Person

    if bot.engine.dialect.name != "postgresql":
        pytest.skip("the lock matters where transactions run together")
    seed(bot)
    run(bot, RecordingSender(), [OPENS])
    sessions = make_session_factory(bot.engine)
    answering = sessions()
    alice = answering.scalars(select(Person).where(Person.display_name == "alice")).one()
    group = answering.scalars(select(Group).where(Group.slug == "replication")).one()
    ctx = Ctx(session=answering, actor=alice, platform="shell", channel_id=None,
              settings=bot.settings, now=CLOSES - dt.timedelta(seconds=1))
    save_answer(ctx, _open(ctx), group, None, "Said at the last second")
    answering.flush()
    closer_pid: list[int] = []
    from handlers.checkins import close_round

    def close() -> None:
        with sessions.begin() as s:
            closer_pid.append(s.scalar(text("SELECT pg_backend_pid()")) or 0)
            round_ = s.scalars(select(CheckinRound)).one()
            close_round(s, round_, CLOSES, bot.settings)

    closer = threading.Thread(target=close)
    closer.start()
    with sessions() as watch:  # the condition: the close is waiting on the answer's lock
        for _ in range(2000):
            waiting = watch.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid "
                "AND wait_event_type = 'Lock'"), {"pid": closer_pid[0] if closer_pid else 0})
            if waiting:
                break
            watch.rollback()
            closer.join(timeout=0.01)
        assert waiting, "the close did not wait for the answer in flight"
    answering.commit()
    answering.close()
    closer.join(timeout=60)
    assert not closer.is_alive()
    with sessions() as s:
        rows = list(s.scalars(select(Outbox.payload).where(
            Outbox.key == "post:checkin-close:1:0:shell:#boc")))
        assert "Said at the last second" in str(rows[0])
    # and an answer after the close is refused
    late = bot.ask("alice", None, "checkin edit 1 Too late")
    assert late.error
