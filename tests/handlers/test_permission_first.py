"""Permission comes before any costly parsing, rule expansion is bounded, and a command
that is refused, fails to parse or only reads holds no write lock (finding 5 of issue 11).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.exc import OperationalError

from bot.textrender import render_reply
from handlers.core.recurrence import local_occurrences
from handlers.core.roles import ANYONE_LEVEL
from storage.models import Group
from tests.support.counting import dateutil_periods
from tests.support.dialog import Bot

# impossible rules: dateutil walked each to year 9999 (5 to 12 s of CPU) before answering
IMPOSSIBLE = [
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;BYSETPOS=1",
    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
    "RRULE:FREQ=DAILY;BYSETPOS=2",
    "RRULE:FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31",
    "RRULE:FREQ=MONTHLY;BYMONTH=6;BYMONTHDAY=31",
    "RRULE:FREQ=YEARLY;BYWEEKNO=53;BYYEARDAY=1;BYDAY=MO",
]


def _strangers_line(line: str) -> str:
    return line.replace("<rule>", "RRULE:FREQ=NOPE;BYSETPOS=x")


# every guarded command, with arguments that would fail to parse if they were parsed: the
# refusal (and not a parse error) proves the permission check came first
GUARDED = [
    "meeting schedule boc <rule> 99:99 Mars/Base remind 0x link ftp://x",
    "meeting skip boc 31/31/31",
    "meeting held boc 31/31/31",
    "meeting move boc never to never 99:99",
    "meeting start boc for ever",
    "tg create Bad! x" + " y" * 50,
    "tg link boc extra words",
    "tg add boc not-a-user as boss",
    "tg remove boc not-a-user",
    "decision post nowhere,never",
    "decision amend D-x",
    "decision revoke nope",
    "proposal open boc Fix it kind never quorum 900% closes never options a",
    "proposal open replication Fix it closes yesterday",
    "tg rename boc " + "n" * 200,
    "tg archive boc extra",
    "tg unarchive boc extra",
    "tg requests boc extra",
    "tg approve boc not-a-user extra",
    "tg deny boc not-a-user extra",
    "secretariat actions overdue group nowhere project",
    "secretariat summary extra",
    "secretariat deliveries nonsense",
    "secretariat retry not-an-id extra",
    "secretariat report 2026-13",
    "secretariat dashboard 999999",
    "secretariat feeds extra",
    "admin add not-a-user extra",
    "admin forget not-a-user extra",
    "admin remove not-a-user extra",
    "admin list extra",
    "checkin status extra words",
]


@pytest.mark.parametrize("line", GUARDED)
@pytest.mark.parametrize("who", ["mallory", "newcomer"])
def test_a_stranger_is_refused_before_anything_is_parsed(bot: Bot, line: str, who: str) -> None:
    bot.say("mallory", None, "tg list")  # mallory is known; newcomer is seen for the first time
    before = bot.counts()
    reply = bot.ask(who, "#boc", _strangers_line(line))
    out = render_reply(reply)
    assert reply.error and out.startswith("Only "), out
    assert "Usage:" in out
    assert bot.counts() == before


def test_every_staff_chair_and_admin_command_has_a_guard(bot: Bot) -> None:
    """The declared policy is the check: each command whose policy is a fixed role is
    checked by the router, so none of them can parse first again."""
    commands = [c for verbs in bot.router.registry.commands.values() for c in verbs.values()]
    unguarded = [f"{c.noun} {c.verb}" for c in commands
                 if c.policy.level != ANYONE_LEVEL and c.guard is None]
    assert unguarded == []
    # and a fixed role is never declared as a description only
    described = [f"{c.noun} {c.verb}" for c in commands if c.policy.level == ANYONE_LEVEL
                 and c.who in ("admin", "admin, secretariat", "secretariat, admin",
                               "admin, secretariat, chair", "chair and up",
                               "BoC members, secretariat, admin")]
    assert described == []
    named = {line.split()[0] + " " + line.split()[1] for line in GUARDED}
    guarded = {f"{c.noun} {c.verb}" for verbs in bot.router.registry.commands.values()
               for c in verbs.values() if c.guard is not None}
    # tg unlink takes no argument to parse; the guard of a command on one action looks the
    # action up, so a stranger's refusal is tested where there are actions
    # (tests/handlers/test_action_edit_find.py)
    on_one_action = {"action " + verb for verb in
                     ("edit", "done", "reopen", "cancel", "assign", "due", "note")}
    assert guarded - {"tg unlink"} - on_one_action <= named


@pytest.mark.parametrize("rule", IMPOSSIBLE)
def test_a_strangers_hostile_rule_is_refused_without_expansion(
    bot: Bot, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    periods = dateutil_periods(monkeypatch)
    out = bot.say("mallory", "#boc", f"meeting schedule boc {rule} 10:00")
    assert out.startswith("Only a chair of boc, the secretariat or an admin")
    assert periods[0] == 0  # the refusal came before any expansion


@pytest.mark.parametrize("rule", IMPOSSIBLE)
def test_an_impossible_rule_is_refused_quickly_and_clearly(
    bot: Bot, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = bot.counts()
    periods = dateutil_periods(monkeypatch)
    reply = bot.ask("root", "#boc", f"meeting schedule boc {rule} 10:00")
    out = render_reply(reply)
    assert reply.error
    assert out.splitlines()[0] == f"{rule} gives no meeting within 5 years."
    assert "Usage: meeting schedule <group> <rule>" in out
    assert bot.counts() == before
    # each walk (the rule is checked, then its first meetings are found) is bounded by the
    # 5-year window, at most a day at a time with a few months' margin: 3,832 days here
    # for the daily rules; before the fix one walk went to year 9999, ~2.9 million days
    assert 0 < periods[0] <= 4 * 366 * 6


# --- the bounded walk finds exactly what dateutil finds ------------------------------------

_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
_rules = st.builds(
    lambda freq, interval, days, nth, monthdays, months, setpos: ";".join(
        p for p in (
            f"RRULE:FREQ={freq}", f"INTERVAL={interval}",
            f"BYDAY={','.join((nth or '') + d for d in days)}" if days else "",
            f"BYMONTHDAY={','.join(map(str, monthdays))}" if monthdays and not days else "",
            f"BYMONTH={','.join(map(str, months))}" if months else "",
            f"BYSETPOS={setpos}" if setpos and days else "",
        ) if p
    ),
    freq=st.sampled_from(["WEEKLY", "MONTHLY", "YEARLY"]),
    interval=st.integers(1, 3),
    days=st.lists(st.sampled_from(_DAYS), max_size=3, unique=True),
    nth=st.sampled_from([None, "1", "-1", "2"]),
    monthdays=st.lists(st.integers(1, 28), max_size=3, unique=True),
    months=st.lists(st.integers(1, 12), max_size=2, unique=True),
    setpos=st.sampled_from([None, 1, -1]),
)


@given(rule=_rules, offset=st.integers(0, 2000), span=st.integers(1, 800))
@settings(max_examples=150, deadline=None)
def test_the_bounded_walk_matches_dateutil(rule: str, offset: int, span: int) -> None:
    """On rules that always have occurrences (so dateutil's own walk ends), the windowed
    expansion gives exactly dateutil's answer."""
    if "WEEKLY" in rule and "BYDAY=" in rule and any(c.isdigit() for c in
                                                     rule.split("BYDAY=")[1].split(";")[0]):
        return  # ordinal weekdays are not weekly
    start = dt.date(2026, 1, 5)
    at = dt.time(10, 0)
    after = dt.datetime(2026, 1, 1) + dt.timedelta(days=offset)
    before = after + dt.timedelta(days=span)
    try:
        reference_rule = rrulestr(rule, dtstart=dt.datetime.combine(start, at))
    except ValueError:
        return
    expected = [d for d in itertools.takewhile(lambda d: d < before, reference_rule)
                if d >= after]
    assert local_occurrences(rule, start, at, after, before) == expected


# --- no write lock while a command is refused, fails to parse, or only reads --------------


@pytest.fixture
def impatient(bot: Bot) -> Iterator[Engine]:
    """A second connection that gives up at once on a locked store (busy timeout 0)."""
    url = bot.engine.url
    eng = (create_engine(url, connect_args={"timeout": 0}) if url.get_backend_name() == "sqlite"
           else create_engine(url))
    yield eng
    eng.dispose()


def _writes_during(bot: Bot, other: Engine, who: str, line: str) -> tuple[list[bool], str]:
    """Run ``line``; at every statement it executes, another connection writes and
    commits. Returns whether each of those writes got through, and the reply."""
    results: list[bool] = []
    names = (f"w{n}" for n in itertools.count(len(results)))

    def write(*_args: Any) -> None:
        try:
            with other.begin() as conn:
                slug = next(names) + who
                conn.execute(insert(Group), {"slug": slug, "name": slug,
                                             "created_at": dt.datetime(2026, 11, 28)})
            results.append(True)
        except OperationalError:
            results.append(False)

    event.listen(bot.engine, "before_cursor_execute", write)
    try:
        out = bot.say(who, "#boc", line)
    finally:
        event.remove(bot.engine, "before_cursor_execute", write)
    return results, out


@pytest.mark.parametrize(("who", "line", "expected"), [
    ("mallory", f"meeting schedule boc {IMPOSSIBLE[0]} 10:00", "Only a chair of boc"),
    ("root", f"meeting schedule boc {IMPOSSIBLE[0]} 10:00", "gives no meeting within"),
    ("root", "meeting schedule boc first tuesday 25:00", "is not a time of day"),
    ("mallory", "tg list", "Board of Coordinators"),
    ("mallory", "meeting next boc", "Board of Coordinators"),
])
def test_a_concurrent_writer_is_not_blocked(
    bot: Bot, impatient: Engine, who: str, line: str, expected: str
) -> None:
    bot.say(who, None, "tg show boc")  # known already: the command need not create them
    results, out = _writes_during(bot, impatient, who, line)
    assert expected in out
    assert results and all(results), results


def test_a_writing_command_that_loses_the_race_runs_again(bot: Bot, impatient: Engine) -> None:
    """The deferred attempt reads, another connection commits, the first write then cannot
    take the lock: the command runs again from the start and commits once."""
    results, out = _writes_during(bot, impatient, "root", "tg create extra Extra Group")
    assert "Created group extra" in out
    assert bot.counts()["groups"] == 7 + 1 + sum(results)
    if bot.engine.dialect.name == "sqlite":
        # the other writes went through until the command's first write, which lost the
        # race; its second, immediate run held the lock from its start
        assert True in results and False in results
        first_refused = results.index(False)
        assert all(results[:first_refused]) and not any(results[first_refused:])
