"""Benchmark: a proposal's tally and `proposal show` with a 1,000-member electorate and
1,000 votes, beside a bare indexed count of the same votes (issue 17).

Run: ``.venv/bin/python bench/proposals.py [--db sqlite|postgresql|both] [--runs 1000]
[--members 1000] [--sql] [--show]``. See bench/README.md for what each figure means.

The tally (``handlers.proposals.tally``: the electorate's size and the current votes by
choice, then the rule) and ``proposal show P-1`` through the real Router (tokenize, parse,
checks, handler, every SQL round trip, commit) are timed in process on a seeded store, beside
the least SQL a tally must run: one ``SELECT choice, count(*) ... GROUP BY choice`` of the
proposal's current votes on ``ix_votes_proposal_choice``, bare Core, one connection a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, func, insert, select, text  # noqa: E402

from bot.platforms import registered_platforms  # noqa: E402
from bot.textrender import render_reply  # noqa: E402
from handlers.catalog import build_registry  # noqa: E402
from handlers.core.context import CoreSettings  # noqa: E402
from handlers.core.messages import Reply  # noqa: E402
from handlers.core.router import Incoming, Router  # noqa: E402
from handlers.proposals import tally  # noqa: E402
from storage.db import make_engine, make_session_factory, upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Channel,
    Group,
    Identity,
    Membership,
    Person,
    Proposal,
    ProposalVoter,
    Vote,
)

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)  # a fixed clock
ZONE = "Europe/Brussels"
TIMED = 1  # P-1: the proposal timed; the others are the table's other rows
OTHERS = 20  # other proposals of the same group, each with most of the electorate voting
CHANGED = 0.2  # the share of voters whose vote on P-1 replaced an earlier one (history rows)
BATCH = 5000
GOAL_P99_MS = 20.0
GOAL_RATIO = 3.0
# the choices of P-1's 1,000 votes: 60% agree, 15% abstain, 20% disagree, 5% block
SPREAD = ("agree",) * 12 + ("abstain",) * 3 + ("disagree",) * 4 + ("block",)


def user(pid: int) -> str:
    return f"u{pid:04d}"


def naive(d: dt.datetime) -> dt.datetime:
    return d.astimezone(dt.UTC).replace(tzinfo=None)


def _insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for at in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[at:at + BATCH])


def seed(engine: Engine, members: int) -> dict[str, int]:
    """One group of ``members`` people (shell identities u0001...), its channel; P-1 open
    with all of them as its electorate and each one's current vote (a fifth changed once
    before: a replaced row each); ``OTHERS`` other proposals of the group with its whole
    electorate and 80% of it voting. Bulk Core inserts; returns row counts."""
    t0 = naive(NOW - dt.timedelta(days=60))
    opened = naive(NOW - dt.timedelta(days=2))
    closes = naive(NOW + dt.timedelta(days=5))
    people = range(1, members + 1)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(insert(Group).values(id=1, slug="boc", name="Board of Coordinators",
                                          mandate="", restricted=True, created_at=t0))
        conn.execute(insert(Channel).values(group_id=1, platform="shell", channel_id="#boc",
                                            created_at=t0))
        _insert(conn, Person, [{"id": pid, "display_name": f"User {pid:04d}",
                                "is_admin": False, "created_at": t0} for pid in people])
        _insert(conn, Identity, [{"person_id": pid, "platform": "shell",
                                  "external_id": user(pid)} for pid in people])
        _insert(conn, Membership, [{"group_id": 1, "person_id": pid, "role": "member",
                                    "project": f"Project {pid % 40 + 1}", "created_at": t0}
                                   for pid in people])
        proposals = [{"id": n, "group_id": 1, "title": f"Benchmark question {n}",
                      "kind": "consent", "options": [], "quorum_pct": 50, "anonymous": False,
                      "hidden": False, "status": "open", "result": {}, "opened_by_id": 1,
                      "opened_at": opened, "closes_at": closes}
                     for n in range(1, OTHERS + 2)]
        _insert(conn, Proposal, proposals)
        _insert(conn, ProposalVoter, [{"proposal_id": n, "person_id": pid,
                                       "project": f"Project {pid % 40 + 1}"}
                                      for n in range(1, OTHERS + 2) for pid in people])
        votes: list[dict[str, Any]] = []
        cast = naive(NOW - dt.timedelta(days=1))
        for pid in people:
            if pid <= members * CHANGED:  # the earlier vote, replaced
                votes.append({"proposal_id": TIMED, "person_id": pid, "choice": "block",
                              "reason": "", "via": "shell", "cast_at": opened,
                              "replaced_at": cast})
            votes.append({"proposal_id": TIMED, "person_id": pid,
                          "choice": SPREAD[pid % len(SPREAD)], "reason": "", "via": "shell",
                          "cast_at": cast, "replaced_at": None})
        for n in range(2, OTHERS + 2):
            votes += [{"proposal_id": n, "person_id": pid, "choice": SPREAD[(pid + n) % 20],
                       "reason": "", "via": "shell", "cast_at": cast, "replaced_at": None}
                      for pid in people if (pid + n) % 5]
        _insert(conn, Vote, votes)
        counts.update(people=members, proposals=len(proposals),
                      electorate_rows=members * len(proposals), votes=len(votes))
        if engine.dialect.name == "postgresql":
            for table in ("groups", "people", "proposals"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return counts


# --------------------------------------------------------------------------- timing


@dataclass
class Stats:
    p50: float  # ms
    p99: float
    mean: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Stats:
        s = sorted(samples_ns)

        def rank(q: float) -> float:
            return s[max(0, math.ceil(q * len(s)) - 1)] / 1e6

        return cls(rank(0.50), rank(0.99), sum(s) / len(s) / 1e6)


def timed(fn: Callable[[], object], runs: int, warmup: int) -> list[int]:
    for _ in range(warmup):
        fn()
    out: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(runs):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def interleaved(fns: dict[str, Callable[[], object]], runs: int, warmup: int,
                rounds: int = 5) -> dict[str, list[int]]:
    """Each function timed in turn, ``rounds`` times ``runs / rounds`` runs, so that a
    drift of the machine's load falls on all of them alike."""
    samples: dict[str, list[int]] = {name: [] for name in fns}
    per = max(1, runs // rounds)
    for r in range(rounds):
        for name, fn in fns.items():
            samples[name] += timed(fn, per, warmup if r == 0 else 0)
    return samples


@contextmanager
def record_sql(engine: Engine) -> Iterator[list[str]]:
    """The statements sent while the block runs (diagnostics only: never while timing)."""
    seen: list[str] = []

    def after(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", after)


def bare_count(engine: Engine) -> Callable[[], list[Any]]:
    stmt = (select(Vote.choice, func.count()).where(Vote.proposal_id == TIMED,
                                                    Vote.replaced_at.is_(None))
            .group_by(Vote.choice))

    def run() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(stmt).all())

    return run


def bare_voters(engine: Engine) -> Callable[[], object]:
    """For reference, not a goal: the least a ``proposal show`` naming every voter must read,
    the current votes with each voter's name and identities, bare Core."""
    stmt = (select(Vote.choice, Person.id, Person.display_name, Identity.platform,
                   Identity.external_id)
            .join(Person, Person.id == Vote.person_id)
            .outerjoin(Identity, Identity.person_id == Person.id)
            .where(Vote.proposal_id == TIMED, Vote.replaced_at.is_(None))
            .order_by(Vote.choice, Person.display_name, Person.id, Identity.id))

    def run() -> object:
        with engine.connect() as conn:
            return conn.execute(stmt).all()

    return run


def plan_of(engine: Engine) -> str:
    """How the database runs the bare count: it must use the votes' index."""
    sql = ("SELECT choice, count(*) FROM votes WHERE proposal_id = 1 AND replaced_at IS NULL "
           "GROUP BY choice")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            return "; ".join(str(r[-1]) for r in rows)
        rows = conn.execute(text("EXPLAIN " + sql)).all()
        return "; ".join(str(r[0]).strip() for r in rows)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_database(label: str, url: str, args: argparse.Namespace) -> list[str]:
    print(f"\n== {label} ==", flush=True)
    engine = make_engine(url)
    t = time.perf_counter()
    upgrade(engine)
    counts = seed(engine, args.members)
    rows = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    print(f"  migrated and seeded {rows} in {time.perf_counter() - t:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  bare count's plan: {plan_of(engine)}")
    sessions = make_session_factory(engine)
    settings = CoreSettings(timezone=ZONE, clock=lambda: NOW, platforms=registered_platforms())
    router = Router(sessions, settings, build_registry(settings.platforms))
    with sessions() as s:
        proposal = s.get(Proposal, TIMED)
        assert proposal is not None
        s.expunge(proposal)  # read by tally for its id, kind, options and quorum only

    def run_tally() -> object:
        with sessions() as s:
            return tally(s, proposal)

    def run_show() -> Reply:
        reply = router.handle(Incoming(platform="shell", user_id=user(2),
                                       text=f"proposal show P-{TIMED}", channel_id=None))
        if reply.error:
            raise RuntimeError(render_reply(reply))
        return reply

    if args.gc_freeze:
        # start-up objects (SQLAlchemy's mappers, compiled caches) leave the collector's
        # view, so a full collection no longer walks them in the middle of a command
        gc.collect()
        gc.freeze()
    # each answers what it should, or the figures would mean nothing
    with sessions() as session:
        outcome = tally(session, proposal)
    expected = dict(bare_count(engine)())
    assert dict(outcome.counts) == expected and outcome.electorate == args.members, outcome
    shown = render_reply(run_show())
    line = f"; {args.members} of {args.members} voted"
    assert line in shown, shown[:500]
    if args.show:
        print("\n".join("    | " + ln[:150] for ln in shown.splitlines()[:8]))
    sql: dict[str, int] = {}
    fns = {"tally": run_tally, "proposal show": run_show, "bare count": bare_count(engine),
           "bare select of the voters": bare_voters(engine)}
    for name, fn in fns.items():
        with record_sql(engine) as stmts:
            fn()
        sql[name] = len(stmts)
        if args.sql:
            print(f"  {name}: {len(stmts)} statements")
            for stmt in stmts[:12]:
                print(f"      {stmt[:160]}")
    samples = interleaved(fns, args.runs, args.warmup)
    stats = {name: Stats.of(s) for name, s in samples.items()}
    base = stats["bare count"]
    head = (f"  {'figure':<26} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'sql':>4}  "
            f"{'p99/bare':>8}  {'goal':<26} verdict")
    print(head)
    print("  " + "-" * (len(head) - 2))
    misses: list[str] = []
    for name in fns:
        st = stats[name]
        if name.startswith("bare"):
            print(f"  {name:<26} {st.p50:8.2f} {st.p99:8.2f} {st.mean:8.2f} {sql[name]:>4}")
            continue
        ratio = st.p99 / base.p99
        ok = st.p99 < GOAL_P99_MS and ratio <= GOAL_RATIO
        goal = f"p99 < {GOAL_P99_MS:g} ms, <= {GOAL_RATIO:g}x bare"
        print(f"  {name:<26} {st.p50:8.2f} {st.p99:8.2f} {st.mean:8.2f} {sql[name]:>4}  "
              f"{ratio:7.1f}x  {goal:<26} {verdict(ok)}", flush=True)
        if st.p99 >= GOAL_P99_MS:
            misses.append(f"{label}: {name} p99 {st.p99:.2f} ms >= {GOAL_P99_MS:g} ms")
        if ratio > GOAL_RATIO:
            misses.append(f"{label}: {name} p99 {ratio:.1f}x the bare count > {GOAL_RATIO:g}x")
    voters = stats["bare select of the voters"]
    print(f"  for reference: proposal show / bare select of the voters: "
          f"p50 {stats['proposal show'].p50 / voters.p50:.1f}x, "
          f"p99 {stats['proposal show'].p99 / voters.p99:.1f}x (info)")
    print(f"  load average {os.getloadavg()[0]:.1f}")
    engine.dispose()
    return misses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--members", type=int, default=1000,
                   help="the electorate, each of whom has voted on P-1")
    p.add_argument("--sql", action="store_true", help="print each figure's SQL statements")
    p.add_argument("--show", action="store_true", help="print the start of the show reply")
    p.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                   help="leave start-up objects to the collector (taskbot run and its core "
                        "processes gc.freeze() them after start-up: the default here too)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    print(f"Taskbot proposals benchmark: an electorate of {args.members:,} who have all "
          f"voted on P-1 ({int(args.members * CHANGED):,} of them twice), {OTHERS} other "
          f"proposals; {args.runs} runs each after {args.warmup} warm-up, interleaved; gc "
          f"{'frozen after start-up' if args.gc_freeze else 'default'}")
    misses: list[str] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="taskbot-bench-") as tmp:
            misses += run_database("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args)
    if args.db in ("postgresql", "both"):
        from tests.support.postgres import postgres_cluster

        with postgres_cluster() as url:
            misses += run_database("PostgreSQL 15", url, args)
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")
    if misses:
        print("missed goals:\n" + "\n".join(f"  - {m}" for m in misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
