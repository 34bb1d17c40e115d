"""Benchmark: `action add`, `action list` and `secretariat actions overdue` on a seeded store.

Run: ``.venv/bin/python bench/commands.py [--db sqlite|postgresql|both] [--runs 1000]
[--actions 200000] [--profile]``. See bench/README.md for what each figure means.

Each command is timed in process through the real Router (tokenize + parse + handler + SQL
round trips + commit), beside a bare SQLAlchemy Core baseline doing the least the command
must do on the same store in the same run. The store is migrated and seeded in a child
process, so the peak RSS printed at the end is that of the bot's work, not of the seeding.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import math
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event, func, insert, select, text, update  # noqa: E402

from bot.platforms import registered_platforms  # noqa: E402
from bot.textrender import render_reply  # noqa: E402
from handlers.catalog import build_registry  # noqa: E402
from handlers.core.context import CoreSettings  # noqa: E402
from handlers.core.messages import Reply  # noqa: E402
from handlers.core.router import Incoming, Router  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.models import (  # noqa: E402
    Action,
    ActionAssignee,
    Channel,
    Group,
    Identity,
    Membership,
    Person,
)

# A fixed clock: every run sees the same "today", whatever the wall clock says.
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
ZONE = "Europe/Brussels"
TODAY = NOW.astimezone(ZoneInfo(ZONE)).date()  # as Ctx.today counts it
ADMIN = "root"

N_GROUPS = 100  # 99 task groups g000..g098 plus the secretariat
N_PEOPLE = 2000
SECRETARIAT_ID = N_GROUPS  # group id of the secretariat
G001_ID = 2  # group id of g001
BATCH = 5000

# Who does what (person id i is shell user u{i:04d}).
ASSIGNEE = 1  # @u0001, assigned the benchmark's new actions
ADDER = 2  # u0002 types `action add`; a member of g001
LISTER = 3  # u0003 types `action list`: an ordinary member with open actions
SECRETARY = 4  # u0004 is the secretariat's member
UNBOUND = "#bench-unbound"  # a channel bound to no group

GOAL_RSS_MB = 150.0
GOAL_RATIO = 3.0
GOAL_TRANSLATION = 1.1  # a command read in another language, against the same in English


def user(pid: int) -> str:
    return f"u{pid:04d}"


def slug(gid: int) -> str:
    return "secretariat" if gid == SECRETARIAT_ID else f"g{gid - 1:03d}"


def naive(d: dt.datetime) -> dt.datetime:
    return d.astimezone(dt.UTC).replace(tzinfo=None)


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


def _memberships(rng: random.Random) -> dict[int, list[int]]:
    """Group id -> member person ids: everyone in 1-3 task groups; fixed roles for the bench."""
    groups_of: dict[int, set[int]] = {}
    task_groups = range(1, N_GROUPS)  # not the secretariat
    for pid in range(1, N_PEOPLE + 1):
        groups_of[pid] = set(rng.sample(task_groups, rng.randint(1, 3)))
    for pid in (ASSIGNEE, ADDER):
        groups_of[pid].add(G001_ID)
    groups_of[SECRETARY] = {SECRETARIAT_ID}
    members: dict[int, list[int]] = {gid: [] for gid in range(1, N_GROUPS + 1)}
    for pid, gids in groups_of.items():
        for gid in sorted(gids):
            members[gid].append(pid)
    return members


def _actions(
    rng: random.Random, n: int, members: dict[int, list[int]], links: list[dict[str, int]]
) -> Iterator[dict[str, Any]]:
    """Actions over two years; a quarter open, 40% of those overdue; fills ``links``."""
    start = NOW - dt.timedelta(days=730)
    task_groups = [gid for gid in range(1, N_GROUPS) if members[gid]]
    for aid in range(1, n + 1):
        gid = rng.choice(task_groups)
        people = members[gid]
        r = rng.random()
        closed_at: dt.datetime | None = None
        if r < 0.25:
            status = "open"
            if rng.random() < 0.4:
                due = TODAY - dt.timedelta(days=rng.randint(1, 300))
            else:
                due = TODAY + dt.timedelta(days=rng.randint(0, 180))
            created = min(
                NOW - dt.timedelta(minutes=rng.randint(5, 60 * 24 * 30)),
                dt.datetime.combine(due, dt.time(9), dt.UTC)
                - dt.timedelta(days=rng.randint(7, 90)),
            )
            created = max(created, start)
        else:
            status = "done" if r < 0.25 + 0.75 * 0.85 else "cancelled"
            created = start + dt.timedelta(seconds=rng.randint(0, 729 * 86400))
            due = created.date() + dt.timedelta(days=rng.randint(7, 90))
            closed_at = min(NOW, created + dt.timedelta(hours=rng.randint(1, 120 * 24)))
        k = 2 if len(people) > 1 and rng.random() < 0.1 else 1
        for pid in rng.sample(people, k):
            links.append({"action_id": aid, "person_id": pid})
        yield {
            "id": aid,
            "group_id": gid,
            "title": f"Seeded action {aid} of {slug(gid)}: follow up with the partners",
            "status": status,
            "due": due,
            "author_id": rng.choice(people),
            "created_at": naive(created),
            "closed_at": naive(closed_at) if closed_at else None,
        }


def seed(engine: Engine, n_actions: int, *, analyze: bool = False) -> dict[str, int]:
    """Bulk Core inserts in batches; returns row counts."""
    rng = random.Random(20261130)
    t0 = naive(NOW - dt.timedelta(days=800))
    members = _memberships(rng)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        groups = [
            {"id": gid, "slug": slug(gid), "name": f"Task group {slug(gid)}", "mandate": "",
             "restricted": gid == SECRETARIAT_ID, "created_at": t0}
            for gid in range(1, N_GROUPS + 1)
        ]
        groups[-1]["name"] = "Secretariat"
        conn.execute(insert(Group), groups)
        conn.execute(
            insert(Channel),
            [{"group_id": gid, "platform": "shell", "channel_id": f"#{slug(gid)}",
              "created_at": t0} for gid in range(1, N_GROUPS + 1)],
        )
        conn.execute(
            insert(Person),
            [{"id": pid, "display_name": f"User {pid:04d}", "is_admin": False, "created_at": t0}
             for pid in range(1, N_PEOPLE + 1)],
        )
        conn.execute(
            insert(Identity),
            [{"person_id": pid, "platform": "shell", "external_id": user(pid)}
             for pid in range(1, N_PEOPLE + 1)],
        )
        ms = [
            {"group_id": gid, "person_id": pid, "role": "chair" if i == 0 else "member",
             "project": f"Project {(pid * 7 + gid) % 40 + 1}", "created_at": t0}
            for gid, pids in members.items() for i, pid in enumerate(pids)
        ]
        conn.execute(insert(Membership), ms)
        counts.update(groups=len(groups), people=N_PEOPLE, memberships=len(ms))
        links: list[dict[str, int]] = []
        n = 0
        for batch in _batches(_actions(rng, n_actions, members, links)):
            conn.execute(insert(Action), batch)
            n += len(batch)
            if len(links) >= BATCH:
                conn.execute(insert(ActionAssignee), links)
                counts["assignees"] = counts.get("assignees", 0) + len(links)
                links.clear()
        if links:
            conn.execute(insert(ActionAssignee), links)
            counts["assignees"] = counts.get("assignees", 0) + len(links)
        counts["actions"] = n
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; the bot's own inserts need them ahead.
            for table in ("groups", "people", "actions"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))
    if engine.dialect.name == "postgresql":
        vacuum_until_visible(engine)
    elif analyze:
        # Nothing in the bot runs ANALYZE on SQLite; only on request, to compare plans.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return counts


def vacuum_until_visible(engine: Engine, patience_s: float = 30.0) -> None:
    """What autovacuum would have done long before a store reached this size: VACUUM
    ANALYZE, so that every page is marked all-visible and index-only scans stay in the
    index. Run straight after the load it may mark none (seen here: ``relallvisible`` 0;
    two seconds later, all; the cause, the load's hint bits or an autoanalyze holding the
    horizon, was not pinned down); the planner then costs index-only scans as heap reads
    and picks other plans. So it is repeated until the tables are all-visible."""
    check = text("SELECT count(*) FROM pg_class WHERE relname IN ('actions', "
                 "'action_assignees') AND relallvisible < relpages")
    deadline = time.monotonic() + patience_s
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        while True:
            conn.execute(text("VACUUM ANALYZE"))
            if not conn.scalar(check) or time.monotonic() > deadline:
                return
            time.sleep(0.5)


def seed_child(url: str, n_actions: int, analyze: bool) -> None:
    """Entry point of the seeding child process: migrate, seed, report."""
    from storage.db import upgrade

    engine = make_engine(url)
    t = time.perf_counter()
    upgrade(engine)
    migrated = time.perf_counter() - t
    t = time.perf_counter()
    counts = seed(engine, n_actions, analyze=analyze)
    seeded = time.perf_counter() - t
    engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    print(f"  migrated in {migrated:.1f} s; seeded {rows} in {seeded:.1f} s "
          f"(seeding process peak RSS {rss:.0f} MB)", flush=True)


def seed_store(url: str, n_actions: int, analyze: bool) -> None:
    cmd = [sys.executable, __file__, "--seed-into", url, "--actions", str(n_actions)]
    subprocess.run([*cmd, "--sqlite-analyze"] if analyze else cmd, check=True)


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


def timed(fn: Callable[[int], object], runs: int, warmup: int) -> list[int]:
    for i in range(warmup):
        fn(-1 - i)
    out: list[int] = []
    clock = time.perf_counter_ns
    for i in range(runs):
        t0 = clock()
        fn(i)
        out.append(clock() - t0)
    return out


@contextmanager
def record_sql(engine: Engine) -> Iterator[list[tuple[str, float]]]:
    """(statement, ms in cursor.execute) for each statement sent while the block runs.

    Diagnostics only: never attached while timing.
    """
    seen: list[tuple[str, float]] = []
    started: list[float] = []

    def before(*_args: Any) -> None:
        started.append(time.perf_counter())

    def after(*args: Any) -> None:
        seen.append((" ".join(str(args[2]).split()), (time.perf_counter() - started.pop()) * 1e3))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


class BenchError(RuntimeError):
    pass


@dataclass
class Case:
    """One command and its bare baseline."""

    name: str
    goal_ms: float  # p99 goal on SQLite
    who: str
    channel: str | None
    line: Callable[[int], str]
    baseline: Callable[[Engine, int], object]
    expect: Callable[[Engine], str | None]  # a title the reply should show, if any


class Bench:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.router = Router(
            make_session_factory(engine),
            CoreSettings(timezone=ZONE, admins=frozenset({f"shell:{ADMIN}"}), clock=lambda: NOW,
                         platforms=registered_platforms()),
            build_registry(registered_platforms()),
        )

    def ask(self, who: str, channel: str | None, line: str) -> Reply:
        return self.router.handle(
            Incoming(platform="shell", user_id=who, text=line, channel_id=channel)
        )

    def command_fn(self, case: Case) -> Callable[[int], Reply]:
        def run(i: int) -> Reply:
            return self.ask(case.who, case.channel, case.line(i))

        return run

    def registered(self, line: str) -> bool:
        noun, verb = line.split()[:2]
        return self.router.registry.find(noun, verb) is not None


# Baselines: the least SQL each command must run, as bare Core, one transaction each.


def base_add(engine: Engine, i: int) -> None:
    with engine.begin() as conn:
        aid = conn.execute(
            insert(Action)
            .values(group_id=G001_ID, title=f"Baseline item {i}", status="open",
                    due=dt.date(2027, 1, 15), author_id=ADDER, created_at=naive(NOW))
            .returning(Action.id)
        ).scalar_one()
        conn.execute(insert(ActionAssignee).values(action_id=aid, person_id=ASSIGNEE))


def _open_of(person_id: int) -> Any:
    return (
        select(Action.id, Action.title, Action.due, Group.slug)
        .join(ActionAssignee, ActionAssignee.action_id == Action.id)
        .outerjoin(Group, Group.id == Action.group_id)
        .where(ActionAssignee.person_id == person_id, Action.status == "open")
        .order_by(Action.due, Action.id)
        .limit(50)
    )


def _open_in(group_id: int) -> Any:
    return (
        select(Action.id, Action.title, Action.due, Group.slug)
        .join(Group, Group.id == Action.group_id)
        .where(Action.group_id == group_id, Action.status == "open")
        .order_by(Action.due, Action.id)
        .limit(50)
    )


def _overdue() -> Any:
    return (
        select(Action.id, Action.title, Action.due, Group.slug)
        .outerjoin(Group, Group.id == Action.group_id)
        .where(Action.status == "open", Action.due < TODAY)
        .order_by(Action.due, Action.id)
        .limit(100)
    )


def _read(engine: Engine, stmt: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(stmt).all())


# CROSS JOIN makes SQLite walk the assignee index first; PostgreSQL plans it as a plain join.
_OPEN_OF_SQL = text(
    "SELECT a.id, a.title, a.due, g.slug FROM action_assignees x CROSS JOIN actions a"
    " LEFT JOIN groups g ON g.id = a.group_id"
    " WHERE a.id = x.action_id AND x.person_id = :person AND a.status = 'open'"
    " ORDER BY a.due, a.id LIMIT 50"
)


def base_list(engine: Engine, _i: int) -> None:
    """The person's open actions along the assignee index, then by primary key.

    Written as a plain join, SQLite without planner statistics walks every open action in
    due order instead (ix_actions_status_due) and probes each one's assignees.
    """
    _read(engine, _OPEN_OF_SQL.bindparams(person=LISTER))


def base_list_group(engine: Engine, _i: int) -> None:
    _read(engine, _open_in(G001_ID))


def base_overdue(engine: Engine, _i: int) -> None:
    with engine.connect() as conn:
        ids = [row.id for row in conn.execute(_overdue())]
        conn.execute(
            select(ActionAssignee.action_id, Person.id, Person.display_name,
                   Identity.platform, Identity.external_id)
            .join(Person, Person.id == ActionAssignee.person_id)
            .join(Identity, Identity.person_id == Person.id)
            .where(ActionAssignee.action_id.in_(ids))
        ).all()


def first_title(stmt: Any) -> Callable[[Engine], str | None]:
    def get(engine: Engine) -> str | None:
        rows = _read(engine, stmt)
        return str(rows[0].title) if rows else None

    return get


CASES = [
    # Reads first, so they see the store as seeded; `action add` then grows g001.
    Case("action list", 20.0, user(LISTER), UNBOUND, lambda _i: "action list",
         base_list, first_title(_open_of(LISTER))),
    Case("action list g001", 20.0, user(LISTER), UNBOUND, lambda _i: "action list g001",
         base_list_group, first_title(_open_in(G001_ID))),
    Case("secretariat actions overdue", 50.0, user(SECRETARY), UNBOUND,
         lambda _i: "secretariat actions overdue", base_overdue, first_title(_overdue())),
    Case("action add", 20.0, user(ADDER), UNBOUND,
         lambda i: f"action add @{user(ASSIGNEE)} Benchmark item {i} due 2027-01-15 group g001",
         base_add, lambda _e: None),
]
BASELINE_NAME = {
    "action add": "bare insert action+assignee",
    "action list": "bare select via assignee index",
    "action list g001": "bare select by group",
    "secretariat actions overdue": "bare select overdue+assignees",
}


def _load() -> str:
    """The 1-minute load average: on a shared 2-core machine it explains a noisy p99."""
    return f"{os.getloadavg()[0]:.1f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_database(label: str, url: str, args: argparse.Namespace) -> list[str]:
    """Seed, time and print one database's table; returns the MISS lines for the summary."""
    print(f"\n== {label} ==", flush=True)
    seed_store(url, args.actions, args.sqlite_analyze)
    engine = make_engine(url)
    bench = Bench(engine)
    if args.gc_freeze:
        # Start-up objects (SQLAlchemy's mappers, compiled caches) leave the collector's
        # view, so a full collection no longer walks them in the middle of a command.
        gc.collect()
        gc.freeze()
    misses: list[str] = []
    with engine.connect() as conn:
        open_n = conn.scalar(
            select(func.count()).select_from(ActionAssignee)
            .join(Action, Action.id == ActionAssignee.action_id)
            .where(ActionAssignee.person_id == LISTER, Action.status == "open")
        )
        overdue_n = conn.scalar(
            select(func.count()).select_from(Action)
            .where(Action.status == "open", Action.due < TODAY)
        )
        g001_n = conn.scalar(
            select(func.count()).select_from(Action)
            .where(Action.group_id == G001_ID, Action.status == "open")
        )
    print(f"  {user(LISTER)} has {open_n} open actions; g001 has {g001_n} open; "
          f"{overdue_n:,} open actions are overdue on {TODAY}")
    if engine.dialect.name == "sqlite":
        stats = "yes (--sqlite-analyze)" if args.sqlite_analyze else "none, as the bot leaves it"
    else:
        stats = "VACUUM ANALYZE after seeding, as autovacuum would"
    collector = "frozen after start-up" if args.gc_freeze else "default"
    print(f"  planner statistics: {stats}; gc: {collector}; load average {_load()}", flush=True)
    head = (f"  {'figure':<36} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'sql':>4}  "
            f"{'goal':<18} verdict")
    print(head)
    print("  " + "-" * (len(head) - 2))
    sqlite = engine.dialect.name == "sqlite"
    for case in CASES:
        if not bench.registered(case.line(0)):
            print(f"  {case.name:<36} not registered yet: skipped")
            misses.append(f"{label}: {case.name} not measured (command missing)")
            continue
        run = bench.command_fn(case)
        reply = run(-1000)
        rendered = render_reply(reply)
        if reply.error:
            raise BenchError(f"{case.name} answered an error:\n{rendered}")
        expected = case.expect(engine)
        if expected is not None and expected not in rendered:
            print(f"  warning: the {case.name} reply does not show {expected!r}")
        if args.show:
            print("\n".join("    | " + ln for ln in rendered.splitlines()[:12]))

        def checked(i: int, run: Callable[[int], Reply] = run, name: str = case.name) -> Reply:
            r = run(i)
            if r.error:
                raise BenchError(f"{name} answered an error:\n{render_reply(r)}")
            return r

        with record_sql(engine) as stmts:
            run(-2000)
        cmd_sql = len(stmts)
        with record_sql(engine) as stmts:
            case.baseline(engine, -2000)
        base_sql = len(stmts)
        cmd = Stats.of(timed(checked, args.runs, args.warmup))
        base = Stats.of(timed(partial(case.baseline, engine), args.runs, args.warmup))
        r50, r99 = cmd.p50 / base.p50, cmd.p99 / base.p99
        if sqlite:
            ok_ms = cmd.p99 <= case.goal_ms
            goal_ms, mark = f"p99 <= {case.goal_ms:g} ms", verdict(ok_ms)
            if not ok_ms:
                misses.append(f"{label}: {case.name} p99 {cmd.p99:.2f} ms > {case.goal_ms:g} ms")
        else:
            goal_ms, mark = f"(SQLite: {case.goal_ms:g} ms)", "info"
        ok_ratio = r99 <= GOAL_RATIO
        if not ok_ratio:
            misses.append(f"{label}: {case.name} p99 ratio {r99:.1f}x > {GOAL_RATIO:g}x")
        print(f"  {case.name:<36} {cmd.p50:8.2f} {cmd.p99:8.2f} {cmd.mean:8.2f} "
              f"{cmd_sql:>4}  {goal_ms:<18} {mark}")
        print(f"    {BASELINE_NAME[case.name]:<34} {base.p50:8.2f} {base.p99:8.2f} "
              f"{base.mean:8.2f} {base_sql:>4}")
        print(f"    {'ratio command / baseline':<34} {r50:7.1f}x {r99:7.1f}x {'':>8} {'':>4}  "
              f"{f'p99 <= {GOAL_RATIO:g}x':<18} {verdict(ok_ratio)}", flush=True)
        if args.profile:
            profile(checked, args.runs, case.name)
        if args.sql:
            with record_sql(engine) as stmts:
                run(-3000)
            for sql, ms in stmts:
                print(f"      {ms:6.2f} ms  {sql[:200]}")
    if args.languages:
        misses += languages(engine, bench, args, label)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS so far: {rss:.0f} MB; load average {_load()}")
    engine.dispose()
    return misses


def _speak(engine: Engine, who: str, lang: str) -> None:
    """``me language <lang>`` for the person behind ``who``, written straight to the store."""
    with engine.begin() as conn:
        pid = conn.scalar(select(Identity.person_id).where(Identity.external_id == who))
        conn.execute(update(Person).where(Person.id == pid).values(settings={"language": lang}))


def languages(engine: Engine, bench: Bench, args: argparse.Namespace, label: str) -> list[str]:
    """Each command read in each language by the same person, in the same run: rounds that
    alternate the languages (so a drift of the machine falls on all), reply rendered as the
    shell prints it (dates are written then). The ratio is against the first language."""
    langs = [x.strip() for x in args.languages.split(",") if x.strip()]
    rounds, per = 4, max(1, args.runs // 4)
    print(f"\n  translation cost: {', '.join(langs)}; {rounds} alternating rounds of {per} "
          f"runs each; goal: p50 <= {GOAL_TRANSLATION:g}x the {langs[0]} p50")
    print(f"  {'command':<30} {'lang':<5} {'p50 ms':>8} {'p99 ms':>8} {'ratio p50':>10} "
          f"{'ratio p99':>10}  verdict")
    misses: list[str] = []
    for case in CASES:
        run = bench.command_fn(case)
        samples: dict[str, list[int]] = {lang: [] for lang in langs}
        for r in range(rounds):
            for lang in langs if r % 2 == 0 else list(reversed(langs)):
                _speak(engine, case.who, lang)
                samples[lang] += timed(lambda i, run=run: render_reply(run(i)), per,
                                       args.warmup)
        first = Stats.of(samples[langs[0]])
        for lang in langs:
            st = Stats.of(samples[lang])
            r50, r99 = st.p50 / first.p50, st.p99 / first.p99
            ok = r50 <= GOAL_TRANSLATION
            if not ok:
                misses.append(f"{label}: {case.name} in {lang}: p50 {r50:.2f}x "
                              f"> {GOAL_TRANSLATION:g}x")
            print(f"  {case.name:<30} {lang:<5} {st.p50:8.2f} {st.p99:8.2f} {r50:9.2f}x "
                  f"{r99:9.2f}x  {verdict(ok) if lang != langs[0] else ''}", flush=True)
        _speak(engine, case.who, langs[0])
    return misses


def profile(fn: Callable[[int], object], runs: int, name: str) -> None:
    prof = cProfile.Profile()
    prof.enable()
    for i in range(min(runs, 200)):
        fn(10_000 + i)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
    print(f"\n  --- cProfile: {name}, {min(runs, 200)} calls, by cumulative time ---")
    print("\n".join("    " + ln for ln in out.getvalue().splitlines() if ln.strip()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--actions", type=int, default=200_000)
    p.add_argument("--profile", action="store_true", help="cProfile each command (200 calls)")
    p.add_argument("--show", action="store_true", help="print the start of each reply")
    p.add_argument("--sql", action="store_true", help="print each command's SQL statements")
    p.add_argument("--sqlite-analyze", action="store_true",
                   help="run ANALYZE on SQLite after seeding (the bot never does)")
    p.add_argument("--gc-freeze", action="store_true",
                   help="gc.freeze() after start-up, as taskbot run and its core processes "
                        "do (off by default, so the figures compare with earlier runs)")
    p.add_argument("--languages", metavar="en,de",
                   help="time each command again with its caller reading in each language "
                        "(the same store, alternating rounds); the ratio is to the first")
    p.add_argument("--seed-into", metavar="URL", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.seed_into:
        seed_child(args.seed_into, args.actions, args.sqlite_analyze)
        return 0
    started = time.perf_counter()
    print(f"Taskbot command benchmark: {N_GROUPS} groups, {N_PEOPLE:,} people, "
          f"{args.actions:,} actions; {args.runs} runs after {args.warmup} warm-up; "
          f"today is {TODAY} (fixed clock)")
    misses: list[str] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="taskbot-bench-") as tmp:
            misses += run_database("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args)
    if args.db in ("postgresql", "both"):
        from tests.support.postgres import postgres_cluster

        with postgres_cluster() as url:
            misses += run_database("PostgreSQL 15", url, args)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = rss <= GOAL_RSS_MB
    if not ok:
        misses.append(f"peak RSS {rss:.0f} MB > {GOAL_RSS_MB:g} MB")
    print(f"\npeak RSS of the benchmark process: {rss:.0f} MB   "
          f"goal <= {GOAL_RSS_MB:g} MB   {verdict(ok)}")
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    if misses:
        print("missed goals:\n" + "\n".join(f"  - {m}" for m in misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
