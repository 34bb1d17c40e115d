"""The close at the deadline raced by four ticking processes: one outcome.

Four processes tick the same store at the same instant, past the deadline of proposals still
open (one that passes for two groups, one that fails, one that passes for one group). Each
proposal is closed once: one closing post (one set of outbox rows, each sent once), one
decision for a passed one, one audit ``close`` row. On PostgreSQL the processes truly run
together (the close is an UPDATE only an open proposal matches); on SQLite they queue.
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
from handlers.core.context import CoreSettings
from handlers.delivery._engine import DeliveryEngine
from handlers.proposals._schedule import plan_proposals
from storage.db import make_engine, make_session_factory
from storage.models import AuditLog, Decision, DecisionTarget, Outbox, Proposal
from tests.storage.test_outbox_concurrency import FileSender
from tests.support.dialog import Bot

PROCESSES = 4
# the proposals below close Tue 1 Dec 2026 17:00 in Brussels; the processes tick a minute on
CLOSES = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
TICK = CLOSES + dt.timedelta(minutes=1)


def worker(url: str, path: str, barrier: Any, planners: str) -> None:
    """One process as ``taskbot run`` ticks: its own engine, registry and sender; everything
    is ready before the barrier, so that the ticks start together."""
    engine = make_engine(url)
    settings = CoreSettings(timezone="Europe/Brussels", clock=lambda: TICK,
                            platforms=registered_platforms())
    kinds = build_registry(settings.platforms).kinds
    if planners == "proposals":
        kinds.planners[:] = [plan for plan in kinds.planners if plan is plan_proposals]
        assert kinds.planners
    delivery = DeliveryEngine(make_session_factory(engine), settings,
                              {"shell": FileSender(path)}, kinds=kinds)
    with engine.connect():
        pass  # a pooled connection, open before the start
    barrier.wait(timeout=60)
    delivery.tick(TICK)
    engine.dispose()


def seed(bot: Bot) -> None:
    for line in ("tg add boc @bea", "tg add boc @cy", "tg add boc @dan",
                 "tg add replication @alice as chair", "tg add replication @bob"):
        bot.admin(line)
    for who, line in [
        ("bea", "proposal open boc Adopt the replication guide for replication,comms "
                "closes 2026-12-01 17:00"),
        ("bea", "proposal open boc Adopt the new logo for comms kind majority "
                "closes 2026-12-01 17:00"),
        ("alice", "proposal open replication Share the city data "
                  "closes 2026-12-01 17:00"),
        ("cy", "vote P-1 agree"), ("dan", "vote P-1 agree"),
        ("cy", "vote P-2 agree"), ("dan", "vote P-2 disagree"),
        ("alice", "vote P-3 agree"), ("bob", "vote P-3 abstain"),
    ]:
        reply = bot.ask(who, None, line)
        assert not reply.error, line


@pytest.mark.parametrize("planners", ["all", "proposals"])
def test_four_ticking_processes_close_each_proposal_once(bot: Bot, tmp_path: Path,
                                                         planners: str) -> None:
    """``all``: every feature's planner runs before the proposals' one, as in production
    (an earlier planner's writes may queue the processes before they reach the proposals);
    ``proposals``: its planner alone, so that the four reach the close together."""
    seed(bot)
    engine: Engine = bot.engine
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()  # no connection of the parent's crosses the fork
    path = str(tmp_path / "sent.log")
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=worker, args=(url, path, barrier, planners)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    sent = Counter(line.split()[1] for line in Path(path).read_text().splitlines())
    closing = {key: n for key, n in sent.items() if "proposal-close" in key}
    assert set(sent.values()) == {1}, [k for k, n in sent.items() if n > 1]  # each row once
    with make_session_factory(engine)() as s:
        rows = list(s.scalars(select(Outbox.key).where(Outbox.key.like("%proposal-close%"))
                              .order_by(Outbox.key)))
        assert sorted(closing) == rows
        assert rows == [
            # P-1 passed: its outcome to the Board, its decision to both groups and the Board
            "post:proposal-close:1:0:shell:#boc",
            "post:proposal-close:1:1:shell:#replication",
            "post:proposal-close:1:2:shell:#comms",
            "post:proposal-close:1:3:shell:#boc",
            # P-2 failed (a majority tie): its outcome only
            "post:proposal-close:2:0:shell:#boc",
            # P-3 passed in Replication (no decision: the Board's proposals make those)
            "post:proposal-close:3:0:shell:#replication",
        ]
        outcomes = s.execute(select(Proposal.id, Proposal.status, Proposal.outcome,
                                    Proposal.decision_id).order_by(Proposal.id)).all()
        assert [tuple(o) for o in outcomes] == [(1, "closed", "passed", 1),
                                                (2, "closed", "failed", None),
                                                (3, "closed", "passed", None)]
        assert s.scalar(select(func.count()).select_from(Decision)) == 1
        assert s.scalar(select(func.count()).select_from(DecisionTarget)) == 2
        closes = list(s.scalars(select(AuditLog.entity_id).where(
            AuditLog.entity == "proposal", AuditLog.verb == "close").order_by(AuditLog.id)))
        assert closes == [1, 2, 3]
