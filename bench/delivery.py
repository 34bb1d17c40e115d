"""Benchmark: the delivery tick on a large store (issue 5).

Run: ``.venv/bin/python bench/delivery.py [--db sqlite|postgresql|both] [--idle-runs 200]
[--groups 10000] [--actions 200000] [--profile]``. See bench/README.md for what each figure
means.

10,000 groups, each with a shell channel and a meeting series (varied monthly rules, three
reminder offsets), and 200,000 actions. Per database: the cost of an idle tick and of a tick
in which 1,000 reminders fall due (p50, p99), beside a bare indexed select of the due rows;
the lateness of delivery (sent minus due) with the APScheduler loop of ``taskbot run``
ticking every second; and the peak RSS of the process that did all that. Sends go to an
in-process recording sender, so no platform rate limit is in the figures.

The store is migrated and seeded in one child process and the ticks run in another, so the
peak RSS printed is that of a process doing what ``taskbot run`` does, not of the seeding.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import datetime as dt
import io
import json
import logging
import math
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, insert, or_, select, text, update  # noqa: E402

from bot.config import Settings  # noqa: E402
from handlers.catalog import build_registry  # noqa: E402
from handlers.core.context import CoreSettings  # noqa: E402
from handlers.core.messages import Block, ChannelRef  # noqa: E402
from handlers.delivery._engine import DeliveryEngine, TickResult  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.models import (  # noqa: E402
    Action,
    ActionAssignee,
    Channel,
    Group,
    Identity,
    MeetingSeries,
    Outbox,
    Person,
)

UTC = dt.UTC
ZONE = "Europe/Brussels"
# Groups and series exist from Saturday 30 Jan 2027; the run happens on Tuesday 2 Feb 2027,
# the first Tuesday of the month (Brussels is UTC+1 then).
CREATED = dt.datetime(2027, 1, 30, 0, 0, tzinfo=UTC)
WARMUP_AT = dt.datetime(2027, 2, 2, 8, 30, tzinfo=UTC)  # after the 09:00 Brussels nudges
IDLE_FROM = dt.datetime(2027, 2, 2, 8, 31, tzinfo=UTC)  # nothing falls due 08:31-08:35
# Five cohorts of 1,000 series meet on the first Tuesday at 11:05, 11:15, ... 11:45 Brussels:
# each cohort's 1-hour reminders fall due together, at 09:05, 09:15, ... 09:45 UTC. Every
# other series meets on the hour or the half hour, so nothing else falls due at those times.
COHORTS = 5
COHORT_SIZE = 1000
LATENESS_AT = dt.datetime(2027, 2, 2, 10, 2, tzinfo=UTC)  # the scheduler run starts here
N_PEOPLE = 20000
N_HISTORY = 100000  # sent outbox rows of earlier months
BATCH = 5000

GOAL_IDLE_MS = 50.0
GOAL_1000_MS = 2000.0
GOAL_RSS_MB = 200.0

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
DIGEST_DAYS = ("wednesday", "thursday", "friday")
ZONES = ("Europe/Brussels", "Europe/Brussels", "Europe/London", "America/New_York",
         "Asia/Tokyo")


def naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def cohort_due(c: int) -> dt.datetime:
    return dt.datetime(2027, 2, 2, 9, 5 + 10 * c, tzinfo=UTC)


# --------------------------------------------------------------------------- seeding


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _series(rng: random.Random, gid: int) -> dict[str, Any]:
    """The first COHORTS * COHORT_SIZE groups are the cohorts; the rest vary."""
    if gid <= COHORTS * COHORT_SIZE:
        c = (gid - 1) // COHORT_SIZE
        rule, label, zone = "RRULE:FREQ=MONTHLY;BYDAY=1TU", "first tuesday", ZONE
        at = dt.time(11, 5 + 10 * c)
    else:
        zone = rng.choice(ZONES)
        at = dt.time(rng.randint(8, 17), rng.choice((0, 30)))
        kind = rng.random()
        if kind < 0.6:
            n = rng.choice((1, 2, 3, 4, -1))
            day = rng.choice(WEEKDAYS)
            rule, label = f"RRULE:FREQ=MONTHLY;BYDAY={n}{day}", f"{n} {day}"
        elif kind < 0.9:
            n = rng.randint(1, 28)
            rule, label = f"RRULE:FREQ=MONTHLY;BYMONTHDAY={n}", f"day {n}"
        else:
            rule, label = "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "last day"
    return {
        "group_id": gid, "rule": rule, "rule_text": label, "start_time": at, "timezone": zone,
        "duration_minutes": 60, "link": f"https://meet.example.org/g{gid:05d}",
        "remind_offsets": "7d,1d,1h", "starts_on": dt.date(2027, 1, 30),
        "created_at": naive(CREATED),
    }


def _actions(rng: random.Random, n: int, n_groups: int,
             links: list[dict[str, int]]) -> Iterator[dict[str, Any]]:
    """A quarter open (40% of those overdue), the rest done or cancelled; 1-2 assignees."""
    today = WARMUP_AT.date()
    for aid in range(1, n + 1):
        gid = rng.randint(1, n_groups)
        r = rng.random()
        closed: dt.datetime | None = None
        if r < 0.25:
            status = "open"
            due = today + dt.timedelta(days=rng.randint(-300, -1) if rng.random() < 0.4
                                       else rng.randint(0, 180))
        else:
            status = "done" if r < 0.89 else "cancelled"
            due = today - dt.timedelta(days=rng.randint(1, 700))
            closed = naive(CREATED) - dt.timedelta(days=rng.randint(0, 700))
        for pid in rng.sample(range(1, N_PEOPLE + 1), 2 if rng.random() < 0.1 else 1):
            links.append({"action_id": aid, "person_id": pid})
        yield {
            "id": aid, "group_id": gid, "status": status, "due": due, "author_id": None,
            "title": f"Seeded action {aid}: follow up with the partners",
            "created_at": naive(CREATED) - dt.timedelta(days=rng.randint(0, 730)),
            "closed_at": closed,
        }


def _history(rng: random.Random, n: int, n_groups: int) -> Iterator[dict[str, Any]]:
    """Reminders sent in the months before: the outbox is not empty on a real store."""
    start = naive(CREATED) - dt.timedelta(days=120)
    for i in range(n):
        due = start + dt.timedelta(seconds=rng.randint(0, 118 * 86400))
        gid = rng.randint(1, n_groups)
        yield {
            "key": f"history:{i}", "kind": "meeting_reminder", "platform": "shell",
            "channel_id": f"#g{gid:05d}", "payload": {"series_id": gid, "group_id": gid},
            "due_at": due, "status": "sent", "attempts": 1, "sent_at": due,
            "message_id": f"h{i}", "created_at": due,
        }


def seed(engine: Engine, n_groups: int, n_actions: int) -> dict[str, int]:
    rng = random.Random(20270202)
    t0 = naive(CREATED)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for lo in range(1, n_groups + 1, BATCH):
            ids = range(lo, min(lo + BATCH, n_groups + 1))
            conn.execute(insert(Group), [
                {"id": gid, "slug": f"g{gid:05d}", "name": f"Task group {gid:05d}",
                 "mandate": "", "restricted": False, "created_at": t0,
                 "settings": {"digest": f"{DIGEST_DAYS[gid % 3]} {9 + gid % 8:02d}:00"}}
                for gid in ids])
            conn.execute(insert(Channel), [
                {"group_id": gid, "platform": "shell", "channel_id": f"#g{gid:05d}",
                 "created_at": t0} for gid in ids])
            conn.execute(insert(MeetingSeries), [_series(rng, gid) for gid in ids])
        counts.update(groups=n_groups, series=n_groups)
        for lo in range(1, N_PEOPLE + 1, BATCH):
            ids = range(lo, min(lo + BATCH, N_PEOPLE + 1))
            conn.execute(insert(Person), [
                {"id": pid, "display_name": f"User {pid:05d}", "is_admin": False,
                 "created_at": t0} for pid in ids])
            conn.execute(insert(Identity), [
                {"person_id": pid, "platform": "shell", "external_id": f"u{pid:05d}"}
                for pid in ids])
        counts["people"] = N_PEOPLE
        links: list[dict[str, int]] = []
        for batch in _batches(_actions(rng, n_actions, n_groups, links)):
            conn.execute(insert(Action), batch)
            conn.execute(insert(ActionAssignee), links)
            counts["assignees"] = counts.get("assignees", 0) + len(links)
            links.clear()
        counts["actions"] = n_actions
        for batch in _batches(_history(rng, N_HISTORY, n_groups)):
            conn.execute(insert(Outbox), batch)
        counts["sent outbox rows"] = N_HISTORY
        if engine.dialect.name == "postgresql":
            for table in ("groups", "people", "actions"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return counts


def seed_child(url: str, n_groups: int, n_actions: int) -> None:
    from storage.db import upgrade

    engine = make_engine(url)
    t = time.perf_counter()
    upgrade(engine)
    counts = seed(engine, n_groups, n_actions)
    engine.dispose()
    rows = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    print(f"  seeded {rows} in {time.perf_counter() - t:.1f} s", flush=True)


# --------------------------------------------------------------------------- timing


class RecordingSender:
    """The Sender port, in process: no platform, so no rate limit in the figures."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        with self.lock:
            self.count += 1
            return f"rec:{self.count}"


class Clock:
    """An injected clock; ``offset`` mode runs real time shifted to the bench's day."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at
        self.offset: dt.timedelta | None = None

    def __call__(self) -> dt.datetime:
        if self.offset is not None:
            return dt.datetime.now(UTC) + self.offset
        return self.at


def rank(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def due_rows(engine: Engine, now: dt.datetime, limit: int = 200) -> list[Any]:
    """The baseline: the due rows (whole rows, as the claim reads them) by the
    (status, due_at) index, as bare Core, without claiming them."""
    at = naive(now)
    with engine.connect() as conn:
        return list(conn.execute(
            select(Outbox.__table__)
            .where(Outbox.due_at <= at, Outbox.platform.in_(["shell"]),
                   or_((Outbox.status == "pending")
                       & (Outbox.claimed_until.is_(None) | (Outbox.claimed_until <= at)),
                       (Outbox.status == "sending") & (Outbox.claimed_until < at)))
            .order_by(Outbox.due_at, Outbox.id).limit(limit)
        ))


def timed_tick(engine: DeliveryEngine, clock: Clock, at: dt.datetime,
               profile: cProfile.Profile | None = None) -> tuple[float, TickResult]:
    clock.at = at
    if profile is not None:
        profile.enable()
    t0 = time.perf_counter()
    result = engine.tick(at)
    ms = (time.perf_counter() - t0) * 1e3
    if profile is not None:
        profile.disable()
    return ms, result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_profile(profile: cProfile.Profile, title: str) -> None:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
    print(f"\n  --- profile: {title} (cumulative) ---")
    print("\n".join("  " + line for line in out.getvalue().splitlines()[:60]))


def lateness_run(url: str, clock: Clock, n: int, tick_seconds: float) -> list[float]:
    """``taskbot run``'s scheduler (bot.scheduler.start_async) on a container for the
    store, ticking every ``tick_seconds``; ``n`` reminders fall due over the next 30 s."""
    from bot import container as composition
    from bot.scheduler import start_async

    settings = Settings(database_url=url, timezone=ZONE, tick_seconds=tick_seconds)
    core = dataclasses.replace(settings.to_core(), clock=clock)
    box = composition.build(settings, core=core, migrate=False, preset=False)
    box.dispatcher.register("shell", RecordingSender())
    rng = random.Random(7)
    try:
        clock.offset = LATENESS_AT - dt.datetime.now(UTC)
        # catch up to the run's start, so that only the rows below fall due during it
        DeliveryEngine(box.sessions, box.core, box.dispatcher.senders,
                       kinds=box.router.registry.kinds).tick(clock())
        start = clock()
        with box.engine.begin() as conn:
            series = list(conn.execute(
                select(MeetingSeries.id, MeetingSeries.group_id)
                .order_by(MeetingSeries.id).limit(n)))
            rows = []
            for i, (sid, gid) in enumerate(series):
                due = start + dt.timedelta(seconds=2 + rng.uniform(0, 30))
                meeting = due + dt.timedelta(hours=1)
                rows.append({
                    "key": f"lateness:{i}", "kind": "meeting_reminder", "platform": "shell",
                    "channel_id": f"#g{gid:05d}", "status": "pending", "attempts": 0,
                    "payload": {"series_id": sid, "group_id": gid,
                                "original_date": meeting.date().isoformat(),
                                "start": meeting.isoformat(), "zone": ZONE, "offset_s": 3600,
                                "grace_s": 3600},
                    "due_at": naive(due), "created_at": naive(start),
                })
            conn.execute(insert(Outbox), rows)

        async def run() -> None:
            scheduler = start_async(box)
            try:
                await asyncio.sleep(36 + tick_seconds)
                scheduler.pause()
                await asyncio.sleep(2 * tick_seconds)  # a tick under way finishes
            finally:
                scheduler.shutdown(wait=True)

        asyncio.run(run())
        with box.engine.connect() as conn:
            got = conn.execute(
                select(Outbox.due_at, Outbox.sent_at, Outbox.status)
                .where(Outbox.key.like("lateness:%"))).all()
    finally:
        clock.offset = None
        box.close()
    unsent = [r for r in got if r.status != "sent"]
    if unsent:
        raise RuntimeError(f"{len(unsent)} lateness rows not sent: {unsent[:3]}")
    return [(r.sent_at - r.due_at).total_seconds() for r in got]


def run_child(url: str, args: argparse.Namespace) -> None:
    """Everything timed, in one process that does what ``taskbot run`` does."""
    # the first tick marks yesterday's 1-hour reminders missed, each with a warning
    logging.getLogger("handlers").setLevel(logging.ERROR)
    engine = make_engine(url)
    clock = Clock(WARMUP_AT)
    core = CoreSettings(timezone=ZONE, clock=clock)
    sender = RecordingSender()
    delivery = DeliveryEngine(make_session_factory(engine), core, {"shell": sender},
                              kinds=build_registry().kinds)
    misses: list[str] = []
    label = "SQLite" if engine.dialect.name == "sqlite" else "PostgreSQL"
    load = f"{os.getloadavg()[0]:.1f}"

    # the first tick works out every series' bookmark (after a deploy, or a change to all)
    ms, result = timed_tick(delivery, clock, WARMUP_AT)
    print(f"  first tick on the fresh store (no bookmarks yet): {ms:,.0f} ms, "
          f"{result.planned:,} rows planned, {len(result.delivered):,} delivered "
          f"(the day's nudges and reminders due in the last day); load average {load}",
          flush=True)

    # idle: nothing due, the clock moving on a second per tick as in production
    idle_profile = cProfile.Profile() if args.profile else None
    idle: list[float] = []
    bare: list[float] = []
    for i in range(args.idle_runs + 5):
        at = IDLE_FROM + dt.timedelta(seconds=i)
        ms, result = timed_tick(delivery, clock, at, idle_profile if i >= 5 else None)
        if result.planned or result.delivered:
            raise RuntimeError(f"idle tick at {at} did work: {result}")
        t0 = time.perf_counter()
        found = due_rows(engine, at)
        bare_ms = (time.perf_counter() - t0) * 1e3
        if found:
            raise RuntimeError(f"bare select found due rows at {at}")
        if i >= 5:  # warm-up
            idle.append(ms)
            bare.append(bare_ms)

    # 1,000 rows: each cohort's 1-hour reminders fall due at once
    busy_profile = cProfile.Profile() if args.profile else None
    busy: list[float] = []
    busy_bare: list[float] = []
    busy_sql: list[int] = []
    statements: list[None] = []  # one entry per SQL statement sent (a list append: cheap)
    event.listen(engine, "before_cursor_execute", lambda *_a: statements.append(None))
    delivered: list[int] = []
    catchup: list[str] = []
    for c in range(COHORTS):
        at = cohort_due(c)
        t0 = time.perf_counter()
        pre = delivery.tick(at - dt.timedelta(seconds=1))
        catchup.append(f"{len(pre.delivered)} in {(time.perf_counter() - t0) * 1e3:,.0f} ms")
        # the bare select of the same 1,000 due rows, planned but not yet claimed
        clock.at = at
        delivery.plan(at, TickResult())  # inserts the cohort's rows, moves its bookmarks
        t0 = time.perf_counter()
        found = due_rows(engine, at, limit=COHORT_SIZE)
        busy_bare.append((time.perf_counter() - t0) * 1e3)
        if len(found) != COHORT_SIZE:
            raise RuntimeError(f"{len(found)} rows due at {at}, not {COHORT_SIZE}")
        # put them back as they were, so that the timed tick plans them itself
        with engine.begin() as conn:
            conn.execute(Outbox.__table__.delete().where(
                Outbox.status == "pending", Outbox.due_at == naive(at)))
            conn.execute(update(MeetingSeries).where(
                MeetingSeries.start_time == dt.time(11, 5 + 10 * c),
                MeetingSeries.rule == "RRULE:FREQ=MONTHLY;BYDAY=1TU",
            ).values(next_reminder_at=naive(at)))
        counted = len(statements)
        ms, result = timed_tick(delivery, clock, at, busy_profile)
        busy_sql.append(len(statements) - counted)
        busy.append(ms)
        delivered.append(len(result.delivered))
    # peak RSS of this process: the ticks so far, then the scheduler run
    lateness = lateness_run(url, clock, 1000, args.tick_seconds)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()

    late_p50, late_p99 = rank(lateness, 0.5), rank(lateness, 0.99)
    late_goal = args.tick_seconds + 1.0
    print(f"  catch-up ticks before each 1,000-row tick (not timed as figures): "
          f"{'; '.join(catchup)}")
    print(f"  SQL statements per 1,000-row tick: {', '.join(f'{n:,}' for n in busy_sql)}")
    if args.profile:
        print("  (--profile: the idle and 1,000-row ticks ran under cProfile, so their times "
              "below are inflated; time without it)")
    head = f"  {'figure':<44} {'p50':>10} {'p99':>10}  {'goal':<14} verdict"
    print(head)
    print("  " + "-" * (len(head) - 2))
    rows: list[tuple[str, str, str, str, str]] = [
        (f"idle tick ({len(idle)} runs)", f"{rank(idle, .5):.2f} ms", f"{rank(idle, .99):.2f} ms",
         f"< {GOAL_IDLE_MS:.0f} ms", verdict(rank(idle, .99) < GOAL_IDLE_MS)),
        ("  bare indexed select of due rows", f"{rank(bare, .5):.2f} ms",
         f"{rank(bare, .99):.2f} ms", "", ""),
        (f"1,000-row tick ({len(busy)} runs, {min(delivered)}-{max(delivered)} sent)",
         f"{rank(busy, .5):,.0f} ms", f"{rank(busy, .99):,.0f} ms", f"< {GOAL_1000_MS:.0f} ms",
         verdict(rank(busy, .99) < GOAL_1000_MS)),
        ("  bare indexed select of the 1,000 due rows", f"{rank(busy_bare, .5):.1f} ms",
         f"{rank(busy_bare, .99):.1f} ms", "", ""),
        (f"lateness, scheduler every {args.tick_seconds:g} s ({len(lateness)} rows)",
         f"{late_p50 * 1e3:,.0f} ms", f"{late_p99 * 1e3:,.0f} ms", f"< {late_goal * 1e3:,.0f} ms",
         verdict(late_p99 < late_goal)),
        ("peak RSS of this process", f"{rss:.0f} MB", "", f"<= {GOAL_RSS_MB:.0f} MB",
         verdict(rss <= GOAL_RSS_MB)),
    ]
    for name, p50, p99, goal, ok in rows:
        print(f"  {name:<44} {p50:>10} {p99:>10}  {goal:<14} {ok}")
        if ok == "MISS":
            misses.append(f"{label}: {name.strip()} (p50 {p50}, p99 {p99}; goal {goal})")
    if min(delivered) != COHORT_SIZE or max(delivered) != COHORT_SIZE:
        misses.append(f"{label}: a 1,000-row tick sent {delivered}, not 1,000 each")
    if idle_profile is not None:
        print_profile(idle_profile, f"{len(idle)} idle ticks")
    if busy_profile is not None:
        print_profile(busy_profile, f"{len(busy)} 1,000-row ticks")
    if args.misses_file:
        Path(args.misses_file).write_text(json.dumps(misses))


# --------------------------------------------------------------------------- driver


def run_database(label: str, url: str, args: argparse.Namespace) -> list[str]:
    print(f"\n== {label} ==", flush=True)
    me = [sys.executable, __file__]
    subprocess.run([*me, "--seed-into", url, "--groups", str(args.groups),
                    "--actions", str(args.actions)], check=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        misses_file = f.name
    try:
        cmd = [*me, "--run-on", url, "--idle-runs", str(args.idle_runs), "--tick-seconds",
               str(args.tick_seconds), "--misses-file", misses_file]
        if args.profile:
            cmd.append("--profile")
        subprocess.run(cmd, check=True)
        misses: list[str] = json.loads(Path(misses_file).read_text() or "[]")
    finally:
        os.unlink(misses_file)
    return misses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--groups", type=int, default=10000)
    p.add_argument("--actions", type=int, default=200000)
    p.add_argument("--idle-runs", type=int, default=200)
    p.add_argument("--tick-seconds", type=float, default=1.0)
    p.add_argument("--profile", action="store_true",
                   help="cProfile the idle and the 1,000-row ticks")
    p.add_argument("--seed-into", metavar="URL", help=argparse.SUPPRESS)
    p.add_argument("--run-on", metavar="URL", help=argparse.SUPPRESS)
    p.add_argument("--misses-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.groups < COHORTS * COHORT_SIZE + 1:
        p.error(f"--groups must be above {COHORTS * COHORT_SIZE} (the 1,000-row cohorts)")
    if args.seed_into:
        seed_child(args.seed_into, args.groups, args.actions)
        return 0
    if args.run_on:
        run_child(args.run_on, args)
        return 0
    print(f"Delivery benchmark: {args.groups:,} groups with a meeting series each (7d,1d,1h), "
          f"{args.actions:,} actions, {N_PEOPLE:,} people, {N_HISTORY:,} sent outbox rows; "
          f"{os.cpu_count()} cores", flush=True)
    misses: list[str] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="taskbot-bench-") as tmp:
            misses += run_database("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args)
    if args.db in ("postgresql", "both"):
        from tests.support.postgres import postgres_cluster

        with postgres_cluster() as url:
            misses += run_database("PostgreSQL 15", url, args)
    print("\nGoals missed:" if misses else "\nEvery goal met.")
    for line in misses:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
