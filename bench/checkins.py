"""Benchmark: a check-in round for 100 Task Groups of 30 members, all of them asked
(``checkin_from members``), through the real delivery tick (issue 18).

Run: ``.venv/bin/python bench/checkins.py [--db sqlite|postgresql|both] [--runs 5]
[--groups 100] [--members 30] [--profile]``. See bench/README.md for what each figure means.

Per repetition, on a fresh copy of one seeded store and an injected clock, the real
``DeliveryEngine`` ticks (a) at the opening (the round created, 3,000 prompts and 3,000
reminders planned), (b) at 09:00 on the opening day (the 3,000 prompts composed and sent to
an in-process recording sender), then, after most groups' answers are written, at the
reminders' hour, and (c) at the close (the compilation posted to the Board, the missing
groups' chairs and the secretariat told, the agenda items written). The baseline is the bare
indexed select of who is due: the 3,000 prompt rows due at 09:00, read as the claim reads
them (``status``, ``due_at`` index), bare Core, without claiming.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import logging
import os
import pstats
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import (  # noqa: E402
    Engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bot.platforms import registered_platforms  # noqa: E402
from handlers.catalog import build_registry  # noqa: E402
from handlers.checkins import round_times  # noqa: E402
from handlers.core.context import CoreSettings  # noqa: E402
from handlers.core.messages import Block, ChannelRef  # noqa: E402
from handlers.core.recurrence import place  # noqa: E402
from handlers.core.scheduling import ScheduleKinds  # noqa: E402
from handlers.delivery._engine import DeliveryEngine, TickResult  # noqa: E402
from handlers.meetings import occurrences  # noqa: E402
from storage.db import make_engine, make_session_factory, upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Action,
    ActionAssignee,
    AgendaItem,
    Channel,
    CheckinAnswer,
    CheckinAskee,
    CheckinRound,
    Group,
    Identity,
    MeetingSeries,
    Membership,
    Outbox,
    Person,
)

UTC = dt.UTC
ZONE = "Europe/Brussels"
CREATED = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# The Board meets on the second Tuesday at 14:00 Brussels: on Tue 8 Dec 2026 the round opens
# 5 days before (prompts at 09:00 on Thu 3 Dec), closes 1 day before (Mon 7 Dec 13:00 UTC)
MEETING = dt.date(2026, 12, 8)
BOC_RULE = "RRULE:FREQ=MONTHLY;BYDAY=2TU"
HISTORY = 6  # closed rounds of the months before (Jun-Nov), with their sent outbox rows
ACTIONS = 10  # open actions a group (3 of them overdue): what a prompt lists for reference
QUESTIONS = 3  # the default three; the second is the blockers'
ANSWERERS = 3  # members of an answering group who answer every question
BATCH = 5000
GOAL_MS = 2000.0
GOAL_RATIO = 3.0


def naive(at: dt.datetime) -> dt.datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def second_tuesday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(1 - first.weekday()) % 7 + 7)


def _insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for at in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[at:at + BATCH])


@dataclass(frozen=True)
class Shape:
    groups: int
    members: int
    answered: float  # the share of groups that answer before the close

    @property
    def people(self) -> int:
        return self.groups * self.members

    def gid(self, g: int) -> int:  # the boc is 1, the secretariat 2
        return g + 3

    def pid(self, g: int, m: int) -> int:
        return g * self.members + m + 1

    def answers(self, g: int) -> bool:
        """Group g answers; the missing ones are spread over the list (every tenth)."""
        missing = round(self.groups * (1 - self.answered))
        if missing <= 0:
            return True
        step = max(1, self.groups // missing)
        return not (g % step == step - 1 and g // step < missing)

    def blocked(self, g: int) -> bool:
        return g % 3 == 0


@dataclass(frozen=True)
class Times:
    opens: dt.datetime  # the first instant a prompt can fall: the round is created then
    prompts: dt.datetime  # 09:00 Brussels on the opening day
    reminders: dt.datetime  # 09:00 Brussels the day before the close
    close: dt.datetime


def times_of(engine: Engine) -> Times:
    sessions = make_session_factory(engine)
    with sessions() as s:
        series = s.scalar(select(MeetingSeries).where(MeetingSeries.group_id == 1))
        assert series is not None
        start = dt.datetime.combine(MEETING, dt.time(), UTC) - dt.timedelta(days=1)
        occ = next(o for o in occurrences(series, start, start + dt.timedelta(days=3))
                   if o.original_date == MEETING)
        opens_on, first, close = round_times(occ, dt.timedelta(days=5), dt.timedelta(days=1))
    at9 = dt.time(9, 0)
    prompts = place(dt.datetime.combine(opens_on, at9), ZONE).astimezone(UTC)
    the_day_before = close.astimezone(ZoneInfo(ZONE)).date() - dt.timedelta(days=1)
    reminders = place(dt.datetime.combine(the_day_before, at9), ZONE).astimezone(UTC)
    return Times(first, prompts, reminders, close)


# --------------------------------------------------------------------------- the store


def seed(engine: Engine, shape: Shape) -> dict[str, int]:
    """The Board (its series, a channel, ten members), the secretariat (a channel, three
    members), ``groups`` Task Groups of ``members`` people each (a shell identity each, the
    first its chair; ``checkin_from members``; a shell channel; ten open actions) and
    ``HISTORY`` closed rounds of the months before, with their askees, answers and sent
    prompt and reminder rows. Bulk Core inserts; returns row counts."""
    t0 = naive(CREATED)
    counts: dict[str, int] = defaultdict(int)
    n = shape.people
    staff = range(n + 1, n + 4)  # the secretariat's three
    with engine.begin() as conn:
        groups = [
            {"id": 1, "slug": "boc", "name": "Board of Coordinators", "mandate": "",
             "restricted": True, "created_at": t0,
             "settings": {"checkin": "5d", "checkin_close": "1d"}},
            {"id": 2, "slug": "secretariat", "name": "Secretariat", "mandate": "",
             "restricted": True, "created_at": t0, "settings": {}},
        ] + [
            {"id": shape.gid(g), "slug": f"tg{g:03d}", "name": f"Task Group {g:03d}",
             "mandate": "", "restricted": False, "created_at": t0,
             # nudges off: the 09:00 ticks then carry the check-in's rows alone
             "settings": {"checkin_from": "members", "nudges": "off"}}
            for g in range(shape.groups)]
        _insert(conn, Group, groups)
        _insert(conn, Channel, [{"group_id": row["id"], "platform": "shell",
                                 "channel_id": f"#{row['slug']}", "created_at": t0}
                                for row in groups])
        conn.execute(insert(MeetingSeries).values(
            group_id=1, rule=BOC_RULE, rule_text="second tuesday", start_time=dt.time(14, 0),
            timezone=ZONE, duration_minutes=120, remind_offsets="7d,1d,1h",
            starts_on=CREATED.date(), created_at=t0, sequence=0))
        _insert(conn, Person, [{"id": pid, "display_name": f"Member {pid:05d}",
                                "is_admin": False, "created_at": t0, "settings": {}}
                               for pid in range(1, n + 4)])
        _insert(conn, Identity, [{"person_id": pid, "platform": "shell",
                                  "external_id": f"u{pid:05d}"} for pid in range(1, n + 4)])
        members: list[dict[str, Any]] = [
            {"group_id": shape.gid(g), "person_id": shape.pid(g, m),
             "role": "chair" if m == 0 else "member", "project": f"Project {g % 40}",
             "created_at": t0}
            for g in range(shape.groups) for m in range(shape.members)]
        # the Board: the chairs of the first ten groups; the secretariat: its own three
        members += [{"group_id": 1, "person_id": shape.pid(g, 0), "role": "member",
                     "project": None, "created_at": t0} for g in range(min(10, shape.groups))]
        members += [{"group_id": 2, "person_id": pid, "role": "member", "project": None,
                     "created_at": t0} for pid in staff]
        _insert(conn, Membership, members)
        today = MEETING - dt.timedelta(days=5)
        actions: list[dict[str, Any]] = [
            {"id": g * ACTIONS + a + 1, "group_id": shape.gid(g), "status": "open",
             "title": f"Follow up with partner {a} of group {g:03d}",
             "due": today + dt.timedelta(days=-3 * (a + 1) if a < 3 else 7 * a),
             "author_id": shape.pid(g, 0), "created_at": t0}
            for g in range(shape.groups) for a in range(ACTIONS)]
        _insert(conn, Action, actions)
        _insert(conn, ActionAssignee, [
            {"action_id": row["id"], "person_id": shape.pid(g, (row["id"] % shape.members))}
            for g in range(shape.groups) for row in actions[g * ACTIONS:(g + 1) * ACTIONS]])
        counts.update(groups=len(groups), people=n + 3, memberships=len(members),
                      actions=len(actions))
        # the rounds of the months before, closed, and their rows in the outbox
        rounds: list[dict[str, Any]] = []
        askees: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for rid in range(1, HISTORY + 1):
            month = MEETING.month - HISTORY - 1 + rid
            meeting = second_tuesday(MEETING.year, month)
            at = dt.datetime.combine(meeting, dt.time(13, 0))
            opened = at - dt.timedelta(days=5, hours=4)
            closes = at - dt.timedelta(days=1)
            rounds.append({"id": rid, "series_id": 1, "meeting_date": meeting,
                           "meeting_at": at, "zone": ZONE, "opens_on": opened.date(),
                           "closes_at": closes, "status": "closed", "questions": None,
                           "blockers": 2, "created_at": opened - dt.timedelta(hours=13),
                           "closed_at": closes})
            for g in range(shape.groups):
                gid = shape.gid(g)
                for m in range(shape.members):
                    pid = shape.pid(g, m)
                    askees.append({"round_id": rid, "group_id": gid, "person_id": pid,
                                   "prompt_at": opened})
                    for kind, due in (("checkin_prompt", opened),
                                      ("checkin_reminder", closes - dt.timedelta(hours=5))):
                        rows.append({
                            "key": f"{kind}:{rid}:{gid}:{pid}", "kind": kind,
                            "platform": "shell", "channel_id": f"@u{pid:05d}",
                            "payload": {"round_id": rid, "group_id": gid, "person_id": pid,
                                        "grace_s": 86400},
                            "due_at": due, "status": "sent", "attempts": 1, "sent_at": due,
                            "message_id": f"h{len(rows)}", "created_at": opened})
                if shape.answers((g + rid) % shape.groups):
                    answers += _answers(shape, rid, g, opened + dt.timedelta(days=1))
        _insert(conn, CheckinRound, rounds)
        _insert(conn, CheckinAskee, askees)
        _insert(conn, CheckinAnswer, answers)
        _insert(conn, Outbox, rows)
        counts.update(earlier_rounds=len(rounds), earlier_askees=len(askees),
                      earlier_answers=len(answers), sent_outbox_rows=len(rows))
        if engine.dialect.name == "postgresql":
            for table in ("groups", "people", "actions", "checkin_rounds"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    return dict(counts)


def _answers(shape: Shape, rid: int, g: int, at: dt.datetime) -> list[dict[str, Any]]:
    """Group g's answers in round rid: its first ``ANSWERERS`` members answer all three."""
    gid = shape.gid(g)
    out = []
    for m in range(min(ANSWERERS, shape.members)):
        for number in range(1, QUESTIONS + 1):
            if number == 2:
                said = (f"Waiting on the data-sharing agreement with partner {m} (legal)"
                        if shape.blocked(g) else "none")
            else:
                said = (f"Round {rid}: group {g:03d}, member {m}, question {number}: the pilot "
                        f"sites reported, the survey went out and the workshop is booked.")
            out.append({"round_id": rid, "group_id": gid, "person_id": shape.pid(g, m),
                        "number": number, "text": said, "via": "shell", "created_at": at,
                        "updated_at": at})
    return out


# --------------------------------------------------------------------------- the ticks


class RecordingSender:
    """The Sender port, in process: no platform, so no rate limit in the figures."""

    def __init__(self) -> None:
        self.count = 0

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.count += 1
        return f"rec:{self.count}"


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def due_select(engine: Engine, at: dt.datetime) -> Callable[[], list[Any]]:
    """The baseline: every due row, whole, by the (status, due_at) index with the claim's
    conditions, bare Core, one connection a run, without claiming."""
    when = naive(at)
    stmt = (select(Outbox.__table__)
            .where(Outbox.due_at <= when, Outbox.platform.in_(["shell"]),
                   or_((Outbox.status == "pending")
                       & (Outbox.claimed_until.is_(None) | (Outbox.claimed_until <= when)),
                       (Outbox.status == "sending") & (Outbox.claimed_until < when)))
            .order_by(Outbox.due_at, Outbox.id))

    def run() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(stmt).all())

    return run


def askees_select(engine: Engine) -> Callable[[], list[Any]]:
    """For reference: who a round asks, with where their prompt goes (every Task Group's
    members, their settings and identities), bare Core."""
    stmt = (select(Membership.group_id, Membership.role, Person.id, Person.settings,
                   Identity.platform, Identity.external_id)
            .join(Person, Person.id == Membership.person_id)
            .join(Identity, Identity.person_id == Person.id)
            .where(Membership.group_id > 2)
            .order_by(Membership.group_id, Membership.id, Identity.id))

    def run() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(stmt).all())

    return run


def round_select(engine: Engine, round_id: int) -> Callable[[], object]:
    """For reference: what a compilation must read, the round's askees and its answers
    with their authors' names, bare Core."""
    askees = (select(CheckinAskee.group_id, CheckinAskee.person_id, Person.display_name)
              .join(Person, Person.id == CheckinAskee.person_id)
              .where(CheckinAskee.round_id == round_id)
              .order_by(CheckinAskee.group_id, CheckinAskee.person_id))
    answers = (select(CheckinAnswer.group_id, CheckinAnswer.number, CheckinAnswer.text,
                      Person.display_name)
               .join(Person, Person.id == CheckinAnswer.person_id)
               .where(CheckinAnswer.round_id == round_id)
               .order_by(CheckinAnswer.group_id, CheckinAnswer.number, CheckinAnswer.id))

    def run() -> object:
        with engine.connect() as conn:
            return conn.execute(askees).all(), conn.execute(answers).all()

    return run


def opening_writes(engine: Engine, round_id: int) -> Callable[[], float]:
    """For reference: the least the opening must write, the round's askees and its prompt
    and reminder rows as bare Core inserts (the same rows, the keys suffixed), in a
    transaction rolled back afterwards; the askees' own rows are deleted first, untimed."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(Outbox.key, Outbox.kind, Outbox.platform, Outbox.channel_id, Outbox.payload,
                   Outbox.due_at, Outbox.status, Outbox.attempts, Outbox.created_at)
            .where(Outbox.kind.in_(["checkin_prompt", "checkin_reminder"]),
                   Outbox.key.like(f"%:{round_id}:%")))]
        askees = [dict(r._mapping) for r in conn.execute(
            select(CheckinAskee.__table__).where(CheckinAskee.round_id == round_id))]
    for row in rows:
        row["key"] += ":ref"

    def run() -> float:
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(delete(CheckinAskee).where(CheckinAskee.round_id == round_id))
            t0 = time.perf_counter_ns()
            conn.execute(insert(CheckinAskee), askees)
            conn.execute(insert(Outbox), rows)
            took = time.perf_counter_ns() - t0
            trans.rollback()
        return took / 1e6

    return run


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1e6


@dataclass
class Tick:
    """One timed tick, or the ticks at one instant until nothing was due."""

    ms: float = 0.0
    sql: int = 0
    ticks: int = 0
    planned: int = 0
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by kind
    skipped: int = 0
    missed: int = 0

    def add(self, result: TickResult, sql: int) -> None:
        self.ticks += 1
        self.sql += sql
        self.planned += result.planned
        for d in result.delivered:
            self.sent[d.kind] += 1
        self.skipped += len(result.skipped)
        self.missed += len(result.missed)

    @property
    def delivered(self) -> int:
        return sum(self.sent.values())


@dataclass
class Rep:
    ticks: dict[str, Tick] = field(default_factory=dict)
    bare: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Store:
    """A fresh copy of the seeded store for each repetition: every repetition does the
    same work from the same state (a tick moves bookmarks and leaves rows behind)."""

    def __init__(self, label: str, url: str) -> None:
        self.label, self.template = label, url
        self.n = 0

    @contextmanager
    def copy(self) -> Iterator[str]:
        self.n += 1
        if self.template.startswith("sqlite"):
            source = Path(self.template.removeprefix("sqlite:///"))
            target = source.with_name(f"rep{self.n}.sqlite3")
            shutil.copyfile(source, target)
            try:
                yield f"sqlite:///{target}"
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{target}{suffix}").unlink(missing_ok=True)
            return
        base, _sep, name = self.template.rpartition("/")
        admin = make_engine(f"{base}/postgres", poolclass=NullPool)
        copy = f"rep{self.n}"
        with admin.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text(f'CREATE DATABASE {copy} TEMPLATE "{name}"'))
        try:
            yield f"{base}/{copy}"
        finally:
            with admin.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text(f"DROP DATABASE {copy}"))
            admin.dispose()


def first_tick(url: str, at: dt.datetime, kinds: ScheduleKinds) -> TickResult:
    """The seeded store as a running bot leaves it: every bookmark worked out."""
    engine = make_engine(url)
    core = CoreSettings(timezone=ZONE, clock=Clock(at), platforms=registered_platforms())
    try:
        return DeliveryEngine(make_session_factory(engine), core, {"shell": RecordingSender()},
                              kinds=kinds).tick(at)
    finally:
        engine.dispose()
        if engine.dialect.name == "sqlite":  # the template is one file, copied as it is
            with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as raw:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def write_answers(sessions: sessionmaker[Session], shape: Shape, round_id: int,
                  at: dt.datetime) -> tuple[int, int]:
    """Most groups' answers, as people would have given them before the reminders."""
    rows: list[dict[str, Any]] = []
    answering = 0
    for g in range(shape.groups):
        if shape.answers(g):
            answering += 1
            rows += _answers(shape, round_id, g, naive(at))
    with sessions.begin() as s:
        _insert(s.connection(), CheckinAnswer, rows)
    return answering, len(rows)


def one_rep(url: str, shape: Shape, times: Times, kinds: ScheduleKinds, args: argparse.Namespace,
            profiles: dict[str, cProfile.Profile] | None = None,
            sql: dict[str, list[str]] | None = None) -> Rep:
    """One round on a fresh store: (a) the opening, (b) the prompts, the answers, the
    reminders, (c) the close. ``profiles`` and ``sql`` (diagnostics, never in the
    figures): a cProfile for a tick by name, and the statements of each tick, by name."""
    rep = Rep()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    clock = Clock(times.opens)
    core = CoreSettings(timezone=ZONE, clock=clock, platforms=registered_platforms())
    sender = RecordingSender()
    delivery = DeliveryEngine(sessions, core, {"shell": sender}, kinds=kinds)
    statements: list[str | None] = []  # one entry per statement: a list append, cheap
    if sql is None:
        event.listen(engine, "before_cursor_execute", lambda *_a: statements.append(None))
    else:
        event.listen(engine, "before_cursor_execute",
                     lambda *a: statements.append(" ".join(str(a[2]).split())))

    def pending(at: dt.datetime) -> int:
        return len(due_select(engine, at)())

    def settle(name: str, at: dt.datetime) -> None:
        """Catch-up ticks (not timed): whatever else was due is sent first."""
        clock.at = at
        for _ in range(100):
            pre = delivery.tick(at)
            if pre.planned or pre.delivered or pre.missed or pre.skipped:
                rep.notes.append(f"catch-up before {name}: {pre.planned} planned, "
                                 f"{len(pre.delivered)} sent, {len(pre.missed)} missed, "
                                 f"{len(pre.skipped)} skipped")
            if not pending(at):
                return
        raise RuntimeError(f"rows still due at {at} after 100 ticks")

    def tick(name: str, at: dt.datetime, drain: bool = False) -> Tick:
        """The tick at ``at``, timed; with ``drain``, more ticks at the same instant until
        nothing is due (a tick stops after a batch that skipped a row), their times summed."""
        settle(name, at - dt.timedelta(seconds=1))
        clock.at = at
        done = Tick()
        profile = profiles.get(name) if profiles is not None else None
        while True:
            counted = len(statements)
            if profile is not None:
                profile.enable()
            t0 = time.perf_counter_ns()
            result = delivery.tick(at)
            done.ms += (time.perf_counter_ns() - t0) / 1e6
            if profile is not None:
                profile.disable()
            done.add(result, len(statements) - counted)
            if sql is not None:
                sql.setdefault(name, []).extend(str(st) for st in statements[counted:])
            if not drain or (not result.delivered and not result.skipped) or not pending(at):
                break
        left = pending(at)
        if left:
            rep.notes.append(f"{name}: {left} rows still due after the tick")
        rep.ticks[name] = done
        return done

    try:
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        # (a) the opening: the round, its askees, 3,000 prompts and 3,000 reminders planned
        opened = tick("open", times.opens)
        with sessions() as s:
            round_ = s.scalar(select(CheckinRound).where(CheckinRound.meeting_date == MEETING))
            assert round_ is not None, "no round opened"
            round_id = round_.id
            askees = s.scalar(select(func.count()).select_from(CheckinAskee)
                              .where(CheckinAskee.round_id == round_id))
        expected = 2 * shape.people
        if askees != shape.people or opened.planned != expected:
            raise RuntimeError(f"the opening asked {askees} and planned {opened.planned} "
                               f"rows, not {shape.people} and {expected}")
        # the baseline, now that the prompts are in the outbox and not yet claimed
        clock.at = times.prompts
        due = due_select(engine, times.prompts)
        found = due()
        if len(found) != shape.people or {r.kind for r in found} != {"checkin_prompt"}:
            raise RuntimeError(f"{len(found)} rows due at {times.prompts}, not "
                               f"{shape.people} prompts")
        rep.bare["due"] = median_ms(due, args.select_runs)
        rep.bare["askees"] = median_ms(askees_select(engine), args.select_runs)
        writes = opening_writes(engine, round_id)
        rep.bare["writes"] = statistics.median(writes() for _ in range(3))
        # (b) the prompts: claimed in batches, composed, sent, marked sent
        if args.deliver:
            sent = tick("prompts", times.prompts, drain=True)
            if sent.sent.get("checkin_prompt") != shape.people:
                raise RuntimeError(f"the prompts' tick sent {dict(sent.sent)}")
        else:
            mark_sent(engine, times.prompts)
        answering, written = write_answers(sessions, shape, round_id,
                                           times.prompts + dt.timedelta(hours=30))
        if args.deliver:
            tick("reminders", times.reminders, drain=True)
        else:
            mark_sent(engine, times.reminders)
        rep.bare["round"] = median_ms(round_select(engine, round_id), args.select_runs)
        # (c) the close: compiled once, posted to the Board, the missing groups' chairs
        # and the secretariat told, the agenda items written
        closed = tick("close", times.close)
        with sessions() as s:
            status = s.scalar(select(CheckinRound.status).where(CheckinRound.id == round_id))
            agenda = s.scalar(select(func.count()).select_from(AgendaItem)
                              .where(AgendaItem.occurrence_date == MEETING))
        if status != "closed" or agenda != answering + (answering < shape.groups):
            raise RuntimeError(f"the close left the round {status} with {agenda} agenda items")
        rep.notes.append(f"answers: {answering} groups, {written} rows; the close sent "
                         + ", ".join(f"{v} {k}" for k, v in sorted(closed.sent.items()))
                         + f"; {agenda} agenda items")
    finally:
        engine.dispose()
    return rep


def mark_sent(engine: Engine, at: dt.datetime) -> None:
    """Without --deliver: the rows due at ``at`` marked sent, as a tick would leave them."""
    with engine.begin() as conn:
        conn.execute(update(Outbox).where(
            Outbox.status == "pending", Outbox.due_at <= naive(at)).values(
            status="sent", sent_at=naive(at), attempts=1))


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_statements(name: str, stmts: list[str]) -> None:
    """A tick's statements, the same ones counted together (their parameters aside)."""
    shapes: dict[str, int] = defaultdict(int)
    for st in stmts:
        shapes[re.sub(r"\(__\[POSTCOMPILE_\w+\]\)|\?(, \?)*", "?", st)[:150]] += 1
    print(f"\n  --- statements: {name} ({len(stmts):,}) ---")
    for st, count in sorted(shapes.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {count:>6,}  {st}")


def print_profile(profile: cProfile.Profile, title: str, lines: int = 30) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(lines)
        print(f"\n  --- profile: {title} (by {order}) ---")
        body = out.getvalue().splitlines()
        start = next((i for i, ln in enumerate(body) if ln.lstrip().startswith("ncalls")), 0)
        print("\n".join("  " + ln[:170] for ln in body[max(0, start - 3):start + lines + 1]))


def run_database(label: str, url: str, args: argparse.Namespace) -> list[str]:
    print(f"\n== {label} ==", flush=True)
    shape = Shape(args.groups, args.members, args.answered)
    kinds = build_registry(registered_platforms()).kinds
    engine = make_engine(url)
    t = time.perf_counter()
    upgrade(engine)
    counts = seed(engine, shape)
    times = times_of(engine)
    engine.dispose()
    warm = first_tick(url, times.opens - dt.timedelta(hours=1), kinds)
    if engine.dialect.name == "postgresql":  # and no connection left: it is the template
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        engine.dispose()
    rows = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
    print(f"  seeded {rows} in {time.perf_counter() - t:.1f} s (a first tick planned "
          f"{warm.planned} rows, sent {len(warm.delivered)}); load average "
          f"{os.getloadavg()[0]:.1f}")
    stamp = "%a %d %b %H:%M"
    print(f"  round (UTC): opens {times.opens:{stamp}}, prompts {times.prompts:{stamp}}, "
          f"reminders {times.reminders:{stamp}}, closes {times.close:{stamp}}; the Board "
          f"meets {MEETING:%a %d %b} at 14:00 Brussels")
    store = Store(label, url)
    reps: list[Rep] = []
    for n in range(args.runs):
        with store.copy() as copy:
            rep = one_rep(copy, shape, times, kinds, args)
        reps.append(rep)
        print(f"  run {n + 1}/{args.runs}: " + ", ".join(
            f"{name} {tk.ms:,.0f} ms" for name, tk in rep.ticks.items())
            + f"; bare select of who is due {rep.bare['due']:.1f} ms", flush=True)
    for note in reps[0].notes:
        print(f"  {note}")
    misses: list[str] = []
    base = statistics.median(r.bare["due"] for r in reps)
    names = {"open": "(a) opening: round + planning",
             "prompts": "(b) prompts delivered",
             "reminders": "    reminders delivered",
             "close": "(c) close: compile + posts"}
    head = (f"  {'figure':<34} {'median':>10} {'max':>10} {'ticks':>5} {'sql':>6} "
            f"{'rows':>16} {'/bare':>7}  {'goal':<22} verdict")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for key, name in names.items():
        ticks = [r.ticks[key] for r in reps if key in r.ticks]
        if not ticks:
            continue
        med = statistics.median(tk.ms for tk in ticks)
        worst = max(tk.ms for tk in ticks)
        last = ticks[-1]
        moved = f"{last.planned:,}p {last.delivered:,}s {last.skipped:,}k"
        ratio = med / base
        if key in ("open", "close"):
            ok = worst < GOAL_MS and ratio <= GOAL_RATIO
            goal = f"< {GOAL_MS / 1000:g} s, <= {GOAL_RATIO:g}x bare"
            if worst >= GOAL_MS:
                misses.append(f"{label}: {name.strip()} took up to {worst:,.0f} ms "
                              f">= {GOAL_MS:,.0f} ms")
            if ratio > GOAL_RATIO:
                misses.append(f"{label}: {name.strip()} median {ratio:,.0f}x the bare select "
                              f"> {GOAL_RATIO:g}x")
            state = verdict(ok)
        else:
            goal, state = "(info)", ""
        print(f"  {name:<34} {med:8,.0f}ms {worst:8,.0f}ms {last.ticks:>5} {last.sql:>6,} "
              f"{moved:>16} {ratio:6,.1f}x  {goal:<22} {state}")
    for key, name in (("due", f"bare select of who is due ({shape.people:,} rows)"),
                      ("askees", "  ref.: members + identities"),
                      ("writes", "  ref.: insert the opening's rows"),
                      ("round", "  ref.: the round's askees + answers")):
        med = statistics.median(r.bare[key] for r in reps)
        print(f"  {name:<34} {med:8,.1f}ms {max(r.bare[key] for r in reps):8,.1f}ms")
    refs = {key: statistics.median(r.bare[key] for r in reps) for key in ("writes", "round")}
    ticks_of = {key: statistics.median(r.ticks[key].ms for r in reps) for key in ("open", "close")}
    print(f"  for reference: (a) / the insert of its rows "
          f"{ticks_of['open'] / refs['writes']:.1f}x, (c) / the select of the round "
          f"{ticks_of['close'] / refs['round']:.0f}x (info)")
    print("  (rows: p planned, s sent, k skipped; ticks: at one instant until nothing was "
          f"due; the median and the slowest of {len(reps)} runs, each on a fresh copy of the "
          "store; /bare: median over the bare select's median)")
    if args.profile or args.sql:
        profiles = {"open": cProfile.Profile(), "close": cProfile.Profile()}
        seen: dict[str, list[str]] = {}
        with store.copy() as copy:
            one_rep(copy, shape, times, kinds, args, profiles if args.profile else None,
                    seen if args.sql else None)
        print("\n  (diagnostics: one more run; its times are not in the figures)")
        for name, stmts in seen.items() if args.sql else ():
            print_statements(name, stmts)
        if args.profile:
            print_profile(profiles["open"], "(a) the opening tick")
            print_profile(profiles["close"], "(c) the closing tick")
    print(f"  load average {os.getloadavg()[0]:.1f}")
    return misses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    p.add_argument("--runs", type=int, default=5, help="repetitions, each on a fresh copy")
    p.add_argument("--groups", type=int, default=100)
    p.add_argument("--members", type=int, default=30)
    p.add_argument("--answered", type=float, default=0.9,
                   help="the share of groups that answer before the close")
    p.add_argument("--select-runs", type=int, default=20,
                   help="runs of each bare select a repetition (their median)")
    p.add_argument("--no-deliver", dest="deliver", action="store_false",
                   help="do not time the prompts' and reminders' ticks: mark the rows sent")
    p.add_argument("--profile", action="store_true",
                   help="one more run with cProfile on the opening and closing ticks")
    p.add_argument("--sql", action="store_true",
                   help="one more run printing each tick's statements, counted by shape")
    p.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false",
                   help="leave start-up objects to the collector (taskbot run freezes them)")
    args = p.parse_args(argv)
    # a round opened late or a missed row is a warning: the figures say it
    logging.getLogger("handlers").setLevel(logging.ERROR)
    started = time.perf_counter()
    print(f"Taskbot check-in benchmark: {args.groups} Task Groups of {args.members} members "
          f"(checkin_from members), {args.answered:.0%} of them answering; {args.runs} runs "
          f"on fresh copies of the store; gc "
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
