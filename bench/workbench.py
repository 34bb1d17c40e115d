"""Benchmark: the secretariat's workbench on 200,000 actions.

Run: ``.venv/bin/python bench/workbench.py [--db sqlite|postgresql|both] [--actions 200000]
[--requests 300]``. Figures, each beside its goal from the issue:

- CSV export (``export_actions``, what ``taskbot report actions`` and ``secretariat actions
  csv`` stream): wall time for every action (goal < 2 s), and the memory it needs above the
  idle process, as the peak of Python allocations during the export (tracemalloc; goal:
  streaming, < 100 MB) and the growth of peak RSS.
- Dashboard page (the HTTP handler's work: link check, SQL, HTML) over a mix of filters:
  p50 and p99 (goal: p99 < 100 ms). Timed in process, without the socket.
- Monthly report (numbers, six months of history, PNG chart, Markdown, HTML): build time
  (goal < 3 s), matplotlib's first import excluded and shown apart.

The store is the one of bench/commands.py (100 groups, 2,000 people, actions over two years,
a quarter open, 40% of those overdue), seeded in a child process.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.commands import NOW, ZONE, seed_store  # noqa: E402
from bot.web import dashboard_response  # noqa: E402
from handlers import reports  # noqa: E402
from handlers.core.context import CoreSettings  # noqa: E402
from handlers.secretariat._commands import ActionQuery  # noqa: E402
from storage import kv  # noqa: E402
from storage.db import make_engine, make_reader_factory, make_session_factory  # noqa: E402
from storage.models import Group, Membership, Person  # noqa: E402

GOAL_CSV_S = 2.0
GOAL_CSV_MB = 100.0
GOAL_P99_MS = 100.0
GOAL_REPORT_S = 3.0


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CountingSink(io.TextIOBase):
    """Counts what is written and keeps nothing: the export's own memory is measured."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        return len(s)


def run_database(label: str, url: str, args: argparse.Namespace) -> list[str]:
    print(f"\n{label}: seeding {args.actions:,} actions", flush=True)
    seed_store(url, args.actions, False)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    readers = make_reader_factory(engine)  # what the web routes and `taskbot report` use
    settings = CoreSettings(timezone=ZONE, clock=lambda: NOW)
    misses: list[str] = []

    # --- CSV export
    with readers() as session:
        ctx = reports.reader_ctx(session, settings, NOW)
        reports.export_actions(ctx, ActionQuery(status="open"), CountingSink(), "csv")  # warm
    idle_rss = rss_mb()
    t = time.perf_counter()
    with readers() as session:
        ctx = reports.reader_ctx(session, settings, NOW)
        sink = CountingSink()
        n = reports.export_actions(ctx, ActionQuery(status="all"), sink, "csv")
    took = time.perf_counter() - t
    grew = rss_mb() - idle_rss
    # a second pass under tracemalloc (which slows it several times) for the peak
    tracemalloc.start()
    with readers() as session:
        ctx = reports.reader_ctx(session, settings, NOW)
        reports.export_actions(ctx, ActionQuery(status="all"), CountingSink(), "csv")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = peak / 2**20
    print(f"  CSV export: {n:,} rows, {sink.chars / 2**20:.1f} MB of text in {took:.2f} s "
          f"(goal < {GOAL_CSV_S:.0f} s: {verdict(took < GOAL_CSV_S)}); peak Python "
          f"allocations {peak_mb:.1f} MB (goal < {GOAL_CSV_MB:.0f} MB: "
          f"{verdict(peak_mb < GOAL_CSV_MB)}); peak RSS grew {grew:.1f} MB")
    if took >= GOAL_CSV_S:
        misses.append(f"{label} CSV time")
    if peak_mb >= GOAL_CSV_MB:
        misses.append(f"{label} CSV memory")
    for fmt in ("json", "md"):
        t = time.perf_counter()
        with readers() as session:
            ctx = reports.reader_ctx(session, settings, NOW)
            reports.export_actions(ctx, ActionQuery(status="all"), CountingSink(), fmt)
        print(f"  {fmt} export: {time.perf_counter() - t:.2f} s")

    # --- dashboard
    with sessions.begin() as session:
        secret = reports.web_secret(session, create=True)
        assert secret is not None
        slugs = list(session.scalars(select(Group.slug)))
        people = list(session.scalars(select(Person.id).limit(500)))
        projects = [p for p in session.scalars(
            select(Membership.project).where(Membership.project.is_not(None)).distinct()
            .limit(50)) if p]
        # the link's holder: checked against current roles on every page (an admin here)
        holder = Person(display_name="bench admin", is_admin=True,
                        created_at=NOW.replace(tzinfo=None))
        session.add(holder)
        session.flush()
        who = holder.id
        key = reports.link_key(session, who, NOW, create=True) or ""
    expires = int(NOW.timestamp()) + 86400
    base = {"exp": str(expires), "who": str(who),
            "sig": reports.dashboard_signature(secret, who, key, expires)}
    rng = random.Random(7)
    mixes: list[dict[str, str]] = []
    for i in range(args.requests):
        q = dict(base)
        kind = i % 5
        if kind == 1:
            q["group"] = rng.choice(slugs)
        elif kind == 2:
            q["person"] = str(rng.choice(people))
        elif kind == 3:
            q["group"], q["overdue"] = rng.choice(slugs), "1"
        elif kind == 4 and projects:
            q["project"] = rng.choice(projects)
        mixes.append(q)
    for q in mixes[:10]:
        dashboard_response(readers, settings, q)  # warm up
    samples: list[float] = []
    for q in mixes:
        t = time.perf_counter()
        status, _ = dashboard_response(readers, settings, q)
        samples.append((time.perf_counter() - t) * 1000)
        assert status == 200
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"  dashboard: {len(samples)} pages (none, group, person, group+overdue, project): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {samples[-1]:.1f} ms "
          f"(goal p99 < {GOAL_P99_MS:.0f} ms: {verdict(p99 < GOAL_P99_MS)})")
    if p99 >= GOAL_P99_MS:
        misses.append(f"{label} dashboard p99")

    # --- monthly report
    t = time.perf_counter()
    import matplotlib  # noqa: F401

    first_import = time.perf_counter() - t
    with readers() as session:
        ctx = reports.reader_ctx(session, settings, NOW)
        month = NOW.astimezone(settings.zone).date().replace(day=1)
        t = time.perf_counter()
        report = reports.build_report(ctx, month)
        numbers = time.perf_counter() - t
        files = reports.report_files(ctx, report)
        took = time.perf_counter() - t
    sizes = ", ".join(f"{f.name} {len(f.content) / 1024:.0f} KB" for f in files)
    print(f"  report: {len(report.groups)} groups in {took:.2f} s (numbers {numbers:.2f} s, "
          f"chart and files {took - numbers:.2f} s; matplotlib import {first_import:.2f} s "
          f"apart) (goal < {GOAL_REPORT_S:.0f} s: {verdict(took < GOAL_REPORT_S)}); {sizes}")
    if took >= GOAL_REPORT_S:
        misses.append(f"{label} report")
    with sessions.begin() as session:
        kv.drop(session, reports.SECRET_KEY)
    engine.dispose()
    return misses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--actions", type=int, default=200_000)
    p.add_argument("--requests", type=int, default=300)
    args = p.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"workbench benchmark, {args.actions:,} actions; load average {load:.2f} "
          f"on {os.cpu_count()} cores; today is {NOW:%Y-%m-%d} (fixed)")
    misses: list[str] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="taskbot-bench-") as tmp:
            misses += run_database("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args)
    if args.db in ("postgresql", "both"):
        from tests.support.postgres import postgres_cluster

        with postgres_cluster() as url:
            misses += run_database("PostgreSQL 15", url, args)
    print("\nall goals met" if not misses else "\nmissed: " + ", ".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
