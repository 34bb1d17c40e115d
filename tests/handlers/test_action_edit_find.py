"""``action edit``, ``action list done [since <date>]`` and ``action find`` (issue 12, item 19).

The clock is Saturday 28 Nov 2026 10:00 in Brussels (tests/conftest.py DEFAULT_NOW).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.models import Action, AuditLog
from tests.handlers.test_actions import abot, events  # noqa: F401 (the fixture)
from tests.support.dialog import Bot


def title(bot: Bot, action_id: int) -> str:
    with Session(bot.engine) as s:
        a = s.get(Action, action_id)
        assert a is not None
        return a.title


# --- action edit ----------------------------------------------------------------------------


def test_edit_fixes_a_title_and_keeps_the_old_one(abot: Bot) -> None:  # noqa: F811
    abot.say("bob", "#repl", "action add Draft the replicaton guide due friday")
    out = abot.say("bob", "#repl", "action edit A-1 Draft the replication guide")
    assert out == ("Edited A-1: Draft the replication guide (due Fri 04 Dec 2026) for @bob "
                   "in repl (was: Draft the replicaton guide).")
    assert title(abot, 1) == "Draft the replication guide"
    assert events(abot, 1)[-1] == ("edited", "Draft the replicaton guide")
    show = abot.say("bob", None, "action show 1")
    assert "title changed (was: Draft the replicaton guide)" in show
    with Session(abot.engine) as s:
        row = s.scalars(select(AuditLog).where(AuditLog.verb == "edit")).one()
        assert (row.entity, row.entity_id) == ("action", 1)
        assert row.detail == {"old": "Draft the replicaton guide",
                              "new": "Draft the replication guide"}
    # the group's chair and the secretariat may edit too; a done action's title as well
    assert "Edited A-1" in abot.say("alice", None, "action edit 1 Guide, drafted")
    abot.say("bob", None, "action done A-1")
    assert "Edited A-1: The guide" in abot.say("sam", None, 'action edit a1 "The guide"')


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        # permission first: refused whatever follows the id
        ("carol", "action edit A-1", "Only an assignee, a chair of repl, the secretariat or "
                                     "an admin can do action edit."),
        ("carol", "action edit A-1 " + "x" * 600, "Only an assignee"),
        ("newcomer", "action edit 1 New", "Only an assignee"),
        ("bob", "action edit A-1", "Missing <text...>: the new title."),
        ("bob", "action edit", "Missing <id>."),
        ("bob", "action edit A-99 New", "No action A-99."),
        ("bob", "action edit D-1 New", "'D-1' is not an action id"),
        ("bob", "action edit A-1 " + "x" * 501, "The title is too long (501 characters"),
    ],
)
def test_bad_edits_write_nothing(abot: Bot, who: str, line: str, expected: str) -> None:  # noqa: F811
    abot.say("bob", "#repl", "action add Old title")
    before = abot.counts()
    reply = abot.ask(who, "#repl", line)
    out = abot.say(who, "#repl", line)
    assert reply.error and expected in out, out
    assert "Usage: action edit <id> <text...>" in out
    assert abot.counts() == before and title(abot, 1) == "Old title"


@pytest.mark.parametrize(
    "line",
    ["action due A-1 yesterday", "action due A-1 31 Feb", "action note A-1 " + "x" * 2001,
     "action assign A-1 not-a-user", "action done A-1 extra", "action cancel A-1 extra",
     "action edit A-1 " + "x" * 501],
)
def test_every_command_on_an_action_checks_permission_first(abot: Bot, line: str) -> None:  # noqa: F811
    """Before: a stranger was told the date was past or the note too long, not that they
    may not change the action."""
    abot.say("bob", "#repl", "action add Old title")
    before = abot.counts()
    for who in ("carol", "newcomer"):
        out = abot.say(who, "#repl", line)
        assert out.startswith("Only an assignee, a chair of repl, the secretariat or an admin"
                              f" can do action {line.split()[1]}."), out
    assert abot.counts() == before


def test_editing_to_the_same_title_says_so(abot: Bot) -> None:  # noqa: F811
    abot.say("bob", "#repl", "action add Old title")
    before = abot.counts()
    assert abot.say("bob", None, "action edit 1 Old title") == "A-1 reads 'Old title' already."
    assert abot.counts() == before


# --- action list done -----------------------------------------------------------------------


def _closed_on(bot: Bot, line: str, day: dt.datetime, who: str = "bob") -> None:
    saved = bot.now
    bot.now = day
    try:
        assert "Completed" in bot.say(who, None, line), line
    finally:
        bot.now = saved


def test_list_done_latest_first_and_since(abot: Bot) -> None:  # noqa: F811
    for t in ("Early task", "Late task", "Still open"):
        abot.say("bob", "#repl", f"action add {t}")
    abot.say("carol", "#comms", "action add Comms task")
    _closed_on(abot, "action done A-1", dt.datetime(2026, 10, 20, 9, tzinfo=dt.UTC))
    _closed_on(abot, "action done A-2", dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC))
    _closed_on(abot, "action done A-4", dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), "carol")
    out = abot.say("bob", "#repl", "action list done")
    assert out.splitlines()[0] == "== Done actions in repl: 2 =="
    assert out.index("A-2") < out.index("A-1") and "A-3" not in out and "A-4" not in out
    assert "Wed 25 Nov 2026" in out
    out = abot.say("bob", "#repl", "action list done since 1 Nov")  # the last 1 Nov
    assert out.splitlines()[0] == "== Done actions in repl since Sun 01 Nov 2026: 1 =="
    assert "A-2" in out and "A-1" not in out
    out = abot.say("bob", None, "action list all done since 2026-11-01")
    assert "Done actions in all groups since Sun 01 Nov 2026: 2" in out and "A-4" in out
    out = abot.say("bob", None, "action list mine done")
    assert "Done actions for you: 2" in out
    assert abot.say("bob", None, "action list comms done since friday") == (
        "No done actions in comms since Fri 27 Nov 2026.")
    # the open list is as it was
    assert "Open actions in repl: 1" in abot.say("bob", "#repl", "action list")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action list since friday", "since goes with done: action list done since <date>."),
        ("action list overdue since friday", "since goes with done"),
        ("action list done since", "Missing <date> after since."),
        ("action list done since 31 Feb", "31 Feb"),
        ("action list done since someday", "someday"),
        ("action list done nogroup", "Unknown group 'nogroup'"),
    ],
)
def test_bad_done_lists(abot: Bot, line: str, expected: str) -> None:  # noqa: F811
    reply = abot.ask("bob", "#repl", line)
    out = abot.say("bob", "#repl", line)
    assert reply.error and expected in out, out
    assert "Usage: action list [mine|all|<@user>|<group>] [overdue|done [since <date>]]" in out


# --- action find ----------------------------------------------------------------------------


def _seed_find(bot: Bot) -> None:
    """A-1..A-6 in repl (bob's), A-7 in comms (carol's)."""
    for t in ("Draft the Replication guide", "Review 100% of the budget",
              "Review 1000 pages", "Fix a_b", "Fix axb", "Fix a/b"):
        bot.say("bob", "#repl", f"action add {t}")
    bot.say("carol", "#comms", "action add Comms replication plan")


def ids(out: str) -> list[str]:
    return [w for w in out.replace("|", " ").split() if re.fullmatch(r"A-\d+", w)]


def test_find_all_words_any_case_within_what_one_may_see(abot: Bot) -> None:  # noqa: F811
    _seed_find(abot)
    out = abot.say("bob", None, "action find replication GUIDE")
    assert out.splitlines()[0] == (
        "== Actions in your groups and assigned to you matching replication GUIDE: 1 ==")
    assert ids(out) == ["A-1"]
    assert "No actions" in abot.say("bob", None, "action find guide budget")
    # carol sees comms only; the secretariat sees everything
    assert ids(abot.say("carol", None, "action find replication")) == ["A-7"]
    out = abot.say("sam", None, "action find REPLICATION")
    assert out.splitlines()[0] == "== Actions in all groups matching REPLICATION: 2 =="
    assert ids(out) == ["A-7", "A-1"]  # newest first
    # an assignee sees the action outside their groups
    abot.say("bob", "#repl", "action assign A-1 @carol")
    assert ids(abot.say("carol", None, "action find replication")) == ["A-7", "A-1"]


def test_find_reads_notes_and_puts_open_first(abot: Bot) -> None:  # noqa: F811
    _seed_find(abot)
    abot.say("bob", None, "action note A-3 ask the printers about paper")
    assert ids(abot.say("bob", None, "action find printers review")) == ["A-3"]
    abot.say("bob", None, "action done A-5")
    out = abot.say("bob", None, "action find fix")
    assert ids(out) == ["A-6", "A-4", "A-5"] and "done" in out


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("100%", ["A-2"]),          # % is literal, not "anything"
        ("a_b", ["A-4"]),           # so is _
        ("a/b", ["A-6"]),           # and the escape character itself
        ("%", ["A-2"]),
        ('"of the"', ["A-2"]),      # a quoted phrase is one word
        ("'; DROP TABLE actions; --", []),
        ("\\", []),
    ],
)
def test_find_takes_words_literally(abot: Bot, words: str, found: list[str]) -> None:  # noqa: F811
    _seed_find(abot)
    out = abot.say("sam", None, f"action find {words}")
    assert ids(out) == found, out
    assert "Open actions in all groups: 7" in abot.say("sam", None, "action list all")


def test_find_folds_letters_beyond_ascii(abot: Bot) -> None:  # noqa: F811
    abot.say("bob", "#repl", "action add Écrire à Émile")
    assert ids(abot.say("bob", None, "action find émile ÉCRIRE")) == ["A-1"] or _c_ctype(abot)
    assert ids(abot.say("bob", None, "action find Émile")) == ["A-1"]


def _c_ctype(bot: Bot) -> bool:
    """A PostgreSQL store under the C locale folds ASCII letters only (the tests' cluster
    is made so); every UTF-8 locale folds all of them."""
    if bot.engine.dialect.name != "postgresql":
        return False
    with bot.engine.connect() as conn:
        return conn.scalar(text("SHOW lc_ctype")) in ("C", "POSIX")


def test_find_output_is_bounded(abot: Bot) -> None:  # noqa: F811
    for n in range(25):
        abot.say("bob", "#repl", f"action add Budget line {n}")
    out = abot.say("bob", None, "action find budget")
    assert out.splitlines()[0].endswith("matching budget: 25 ==")
    assert len(ids(out)) == 20 and ids(out)[0] == "A-25"
    assert "…and 5 more (open first, then the newest). Add a word to narrow it down." in out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action find", "Missing <words...>: what to look for."),
        ('action find ""', "Missing <words...>"),
        ("action find " + " ".join(f"w{n}" for n in range(11)), "Too many words (11; at most 10)."),
    ],
)
def test_bad_finds(abot: Bot, line: str, expected: str) -> None:  # noqa: F811
    reply = abot.ask("bob", None, line)
    out = abot.say("bob", None, line)
    assert reply.error and expected in out and "Usage: action find <words...>" in out, out
