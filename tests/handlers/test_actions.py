"""Dialog tables for ``action``: (who, channel, input) -> reply, and what was written.

The clock is Saturday 28 Nov 2026 10:00 in Brussels (tests/conftest.py DEFAULT_NOW).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.actions._commands import DONE_BUTTONS, action_label, count_open_actions, open_actions
from handlers.core.messages import Buttons, Table
from storage.models import Action, ActionEvent, AuditLog, Decision, Group, Person
from tests.support.dialog import Bot


def setup_groups(bot: Bot) -> None:
    """repl (#repl): alice chair, bob member; comms (#comms): carol; secretariat: sam."""
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg create comms Communication")
    bot.admin("tg link comms", channel="#comms")
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")
    bot.admin("tg add comms @carol")
    bot.admin("tg add secretariat @sam")


@pytest.fixture
def abot(bare_bot: Bot) -> Bot:
    setup_groups(bare_bot)
    return bare_bot


def action(bot: Bot, action_id: int) -> Action:
    with Session(bot.engine) as s:
        a = s.get(Action, action_id)
        assert a is not None
        s.expunge(a)
        return a


def events(bot: Bot, action_id: int) -> list[tuple[str, str]]:
    with Session(bot.engine) as s:
        rows = s.scalars(
            select(ActionEvent).where(ActionEvent.action_id == action_id).order_by(ActionEvent.id)
        )
        return [(e.kind, e.detail) for e in rows]


def assignee_names(bot: Bot, action_id: int) -> list[str]:
    with Session(bot.engine) as s:
        a = s.get(Action, action_id)
        assert a is not None
        return [x.person.display_name for x in a.assignees]


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


# --- action add -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "channel", "line", "expected", "group", "due", "assignees"),
    [
        ("bob", "#repl", "action add Write the report",
         "Added A-1: Write the report for @bob in repl.", "repl", None, ["bob"]),
        ("bob", "#repl", "action add @alice @bob Draft the plan due friday",
         "Added A-1: Draft the plan (due Fri 04 Dec 2026) for @alice, @bob in repl.",
         "repl", dt.date(2026, 12, 4), ["alice", "bob"]),
        ("bob", None, "action add Send the minutes group repl",
         "Added A-1: Send the minutes for @bob in repl.", "repl", None, ["bob"]),
        ("bob", None, "action add Send the minutes due 15 Dec group Replication",
         "Added A-1: Send the minutes (due Tue 15 Dec 2026) for @bob in repl.",
         "repl", dt.date(2026, 12, 15), ["bob"]),
        ("bob", "#comms", "action add Send the minutes group repl due in 2 weeks",
         "(due Sat 12 Dec 2026) for @bob in repl.", "repl", dt.date(2026, 12, 12), ["bob"]),
        ("carol", "#comms", "action add Post the newsletter due today",
         "Added A-1: Post the newsletter (due Sat 28 Nov 2026) for @carol in comms.",
         "comms", dt.date(2026, 11, 28), ["carol"]),
        # "due" inside the text stays text
        ("bob", "#repl", "action add Report due to the weather",
         "Added A-1: Report due to the weather for @bob in repl.", "repl", None, ["bob"]),
        ("bob", "#repl", 'action add "Plan due friday" due monday',
         "Added A-1: Plan due friday (due Mon 30 Nov 2026) for @bob in repl.",
         "repl", dt.date(2026, 11, 30), ["bob"]),
        ("bob", "#repl", "action add @alice @alice Book the room",
         "Added A-1: Book the room for @alice in repl.", "repl", None, ["alice"]),
        # the secretariat and admins may add to any group
        ("sam", "#comms", "action add @carol Check the budget",
         "Added A-1: Check the budget for @carol in comms.", "comms", None, ["carol"]),
        ("root", None, "action add @bob Review group repl",
         "Added A-1: Review for @bob in repl.", "repl", None, ["bob"]),
    ],
)
def test_add(
    abot: Bot, who: str, channel: str | None, line: str, expected: str, group: str,
    due: dt.date | None, assignees: list[str],
) -> None:
    before = abot.counts()
    reply = abot.ask(who, channel, line)
    after = abot.counts()
    out = render_reply(reply)
    assert not reply.error, out
    assert not reply.private
    assert expected in out
    assert delta(after, before) == {
        "actions": 1, "action_assignees": len(assignees), "action_events": 1, "audit_log": 1,
    }
    a = action(abot, 1)
    assert a.status == "open" and a.due == due and a.closed_at is None
    assert a.created_at == dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)  # aware, read back
    with Session(abot.engine) as s:
        g = s.get(Group, a.group_id)
        author = s.get(Person, a.author_id)
        assert g is not None and g.slug == group
        assert author is not None and author.display_name == who
    assert sorted(assignee_names(abot, 1)) == assignees
    assert events(abot, 1)[0][0] == "created"


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("action add @bob Check the due diligence report", "Check the due diligence report"),
        ("action add Pay what is due", "Pay what is due"),
        ("action add Review the due process for grants", "Review the due process for grants"),
        ("action add Brief the working group on budgets", "Brief the working group on budgets"),
        ('action add Do the "due" diligence', 'Do the "due" diligence'),
    ],
)
def test_words_that_are_not_a_date_stay_in_the_title_silently(
    abot: Bot, line: str, title: str
) -> None:
    out = abot.say("bob", "#repl", line)
    assert f"Added A-1: {title} for @bob in repl." in out
    assert out.count("\n") == 0  # no warning line
    assert action(abot, 1).due is None and action(abot, 1).title == title


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action add @bob T6 due yesterday",
         "The due date Fri 27 Nov 2026 is in the past (today is Sat 28 Nov 2026)."),
        ("action add @bob Fix the heating due fooday", "Can't read 'fooday' as a date"),
        ("action add @bob Do it due blah", "Can't read 'blah' as a date"),
        ("action add @bob Do it due Friday 4pm",
         "A due date is a day, without a time of day: write `due Friday` (that is Fri 04 Dec"),
        ("action add @bob Do it due 2026-12-15 16:00",
         "A due date is a day, without a time of day: write `due 2026-12-15`"),
        ("action add @bob Do it due 15 Dec 10:30", "without a time of day"),
        ("action add @bob Do it due next fortnight", "Can't read 'next fortnight' as a date"),
        ("action add @bob Do it due 3 Smarch", "Can't read '3 Smarch' as a date"),
        ("action add @bob do it group nogroup", "Unknown group 'nogroup'."),
        ("action add @bob do it group nogroup due friday", "Unknown group 'nogroup'."),
        ("action add @bob do it due friday group nogroup", "Unknown group 'nogroup'."),
        ("action add @bob do it due blah group repl", "Can't read 'blah' as a date"),
        ("action add @bob do it group repl due yesterday", "is in the past"),
    ],
)
def test_a_failed_due_or_group_tail_is_an_error(abot: Bot, line: str, expected: str) -> None:
    before = abot.counts()
    reply = abot.ask("bob", "#repl", line)
    out = render_reply(reply)
    assert reply.error and expected in out, out
    assert "Usage: action add [<@user> ...] <text...> [due <date>] [group <group>]" in out
    assert abot.counts() == before


@pytest.mark.parametrize(
    ("who", "channel", "line", "expected"),
    [
        ("dave", "#repl", "action add Do it",
         "Only a member of repl (or the secretariat) can do action add."),
        ("carol", "#repl", "action add Do it",
         "Only a member of repl (or the secretariat) can do action add."),
        ("carol", "#comms", "action add Do it group repl",
         "Only a member of repl (or the secretariat) can do action add."),
        ("bob", None, "action add Do it",
         "Name a group with `group <group>`: this channel is not linked to one."),
        ("bob", "#elsewhere", "action add Do it due friday",
         "Name a group with `group <group>`: this channel is not linked to one."),
        ("bob", None, "action add Do it group nowhere",
         "Unknown group 'nowhere'. `tg list` shows the groups."),
        ("bob", "#repl", "action add @zed Do it", "Unknown user @zed"),
        ("bob", "#repl", "action add Do it due 2026-11-27",
         "The due date Fri 27 Nov 2026 is in the past (today is Sat 28 Nov 2026)."),
        ("bob", "#repl", "action add Do it due 31 Feb", "'31 Feb' is not a real date"),
        ("bob", "#repl", "action add Do it due 2026-02-30", "'2026-02-30' is not a real date"),
        ("bob", "#repl", "action add Do it due 12/15/2027",
         "'12/15/2027' is not a real date: numeric dates are day first"),
        ("bob", "#repl", "action add Do it due 31 Feb group repl", "is not a real date"),
        ("bob", "#repl", "action add " + "x" * 501,
         "The title is too long (501 characters; at most 500)."),
        ("bob", "#repl", "action add", "Missing <text...>"),
        ("bob", "#repl", "action add @alice due friday", "Missing <text...>"),
    ],
)
def test_add_refused_writes_nothing(
    abot: Bot, who: str, channel: str | None, line: str, expected: str
) -> None:
    before = abot.counts()
    reply = abot.ask(who, channel, line)
    out = render_reply(reply)
    assert reply.error and reply.private
    assert expected in out
    assert "Usage: action add [<@user> ...] <text...> [due <date>] [group <group>]" in out
    assert abot.counts() == before


# --- action list ----------------------------------------------------------------------------


def seed_for_list(bot: Bot) -> None:
    bot.say("bob", "#repl", "action add Undated one")
    bot.say("bob", "#repl", "action add @alice Due later due 15 Dec")
    bot.say("bob", "#repl", "action add Due soon due monday")
    bot.say("carol", "#comms", "action add Comms task due tomorrow")
    bot.say("bob", "#repl", "action add Undated two")
    bot.say("alice", "#repl", "action add @bob Closed one due tomorrow")
    bot.say("alice", None, "action done A-6")


def labels_in(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if line.startswith("A-")]


@pytest.mark.parametrize(
    ("who", "channel", "line", "heading", "labels"),
    [
        # default: the channel's group, else mine
        ("bob", "#repl", "action list", "Open actions in repl: 4", ["A-3", "A-2", "A-1", "A-5"]),
        ("bob", None, "action list", "Open actions for you: 3", ["A-3", "A-1", "A-5"]),
        ("bob", "#comms", "action list mine", "Open actions for you: 3", ["A-3", "A-1", "A-5"]),
        ("dave", None, "action list all", "Open actions in all groups: 5",
         ["A-4", "A-3", "A-2", "A-1", "A-5"]),
        ("dave", None, "action list @alice", "Open actions for @alice: 1", ["A-2"]),
        ("dave", None, "action list comms", "Open actions in comms: 1", ["A-4"]),
        ("dave", None, "action list Communication", "Open actions in comms: 1", ["A-4"]),
    ],
)
def test_list_scopes_and_order(
    abot: Bot, who: str, channel: str | None, line: str, heading: str, labels: list[str]
) -> None:
    seed_for_list(abot)
    before = abot.counts()
    reply = abot.ask(who, channel, line)
    out = render_reply(reply)
    assert not reply.error and reply.private
    assert f"== {heading} ==" in out
    assert labels_in(out) == labels
    assert "id   title" in out and "status" in out
    # a query writes nothing (beyond the router noting a first-time caller)
    assert delta(abot.counts(), before).keys() <= {"people", "identities"}


def test_list_overdue_follows_the_clock(abot: Bot) -> None:
    seed_for_list(abot)
    assert "No overdue actions in repl." in abot.say("bob", "#repl", "action list overdue")
    abot.now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # Wednesday 2 Dec
    out = abot.say("bob", "#repl", "action list overdue")
    assert "== Overdue actions in repl: 1 ==" in out
    assert labels_in(out) == ["A-3"]
    assert next(line for line in out.splitlines() if line.startswith("A-3")).endswith("overdue")
    out = abot.say("dave", None, "action list all overdue")
    assert labels_in(out) == ["A-4", "A-3"]
    assert labels_in(abot.say("dave", None, "action list overdue all")) == ["A-4", "A-3"]
    assert labels_in(abot.say("bob", None, "action list mine overdue")) == ["A-3"]
    assert "No overdue actions for @alice." in abot.say("bob", None, "action list @alice overdue")
    # due today is marked, not overdue
    abot.now = dt.datetime(2026, 12, 15, 9, 0, tzinfo=dt.UTC)
    row = next(line for line in abot.say("bob", "#repl", "action list").splitlines()
               if line.startswith("A-2"))
    assert row.endswith("due today")


def test_list_caps_rows_and_counts_the_rest(abot: Bot) -> None:
    for i in range(53):
        abot.say("bob", "#repl", f"action add Task {i}")
    out = abot.say("bob", "#repl", "action list")
    assert "== Open actions in repl: 53 ==" in out
    assert len(labels_in(out)) == 50
    assert "…and 3 more." in out
    assert "…and" not in abot.say("bob", "#repl", "action list comms")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action list nowhere", "Unknown group 'nowhere'."),
        ("action list @zed", "Unknown user @zed"),
        ("action list mine extra", "Unexpected 'extra'."),
        ("action list all overdue now", "Unexpected 'overdue'."),
    ],
)
def test_list_errors(abot: Bot, line: str, expected: str) -> None:
    before = abot.counts()
    out = abot.say("bob", None, line)
    assert expected in out
    assert "Usage: action list [mine|all|<@user>|<group>] [overdue|done [since <date>]]" in out
    assert abot.counts() == before


def test_list_empty(abot: Bot) -> None:
    assert "No open actions in repl." in abot.say("bob", "#repl", "action list")
    assert "No open actions for you." in abot.say("bob", None, "action list")


# --- action show ----------------------------------------------------------------------------


def test_show_everything(abot: Bot) -> None:
    abot.say("bob", "#repl", "action add @alice @bob Draft the replication plan due friday")
    with Session(abot.engine) as s, s.begin():
        d = Decision(text="Each TG drafts a replication plan.",
                     created_at=dt.datetime(2026, 11, 1, 9, 0))
        s.add(d)
        s.flush()
        a = s.get(Action, 1)
        assert a is not None
        a.decision_id = d.id
        a.meeting_date = dt.date(2026, 12, 1)
    abot.now = dt.datetime(2026, 11, 28, 14, 30, tzinfo=dt.UTC)
    abot.say("bob", None, "action note A-1 First draft is in the shared folder")
    abot.say("alice", None, "action due A-1 15 Dec")
    before = abot.counts()
    reply = abot.ask("dave", None, "action show a-1")
    out = render_reply(reply)
    assert reply.private and not reply.error
    assert delta(abot.counts(), before).keys() <= {"people", "identities"}
    for expected in [
        "== A-1: Draft the replication plan ==",
        "Status: open",
        "Group: Replication (repl)",
        "Assigned to: @alice, @bob",
        "Due: Tue 15 Dec 2026",
        "Added by @bob on Sat 28 Nov 2026 10:00 CET",
        "Decision: D-1: Each TG drafts a replication plan.",
        "Meeting: Tue 01 Dec 2026",
        "== Notes ==",
        "Sat 28 Nov 2026 15:30 CET @bob: First draft is in the shared folder",
        "== History ==",
        "created",
        "added a note",
        "due date set to Tue 15 Dec 2026",
    ]:
        assert expected in out, (expected, out)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action show A-99", "No action A-99."),
        ("action show 99", "No action A-99."),
        ("action show D-1", "'D-1' is not an action id (like A-12 or 12)."),
        ("action show", "Missing <id>."),
        ("action show A-1 extra", "Unexpected 'extra'."),
    ],
)
def test_show_errors(abot: Bot, line: str, expected: str) -> None:
    abot.say("bob", "#repl", "action add Something")
    out = abot.say("bob", None, line)
    assert expected in out
    assert "Usage: action show <id>" in out


# --- life cycle -----------------------------------------------------------------------------


def test_life_cycle(abot: Bot) -> None:
    abot.say("bob", "#repl", "action add Write it due friday")
    out = abot.say("bob", None, "action done A-1")
    assert "Completed A-1: Write it (due Fri 04 Dec 2026) for @bob in repl." in out
    a = action(abot, 1)
    assert a.status == "done" and a.closed_at == dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    assert "No open actions" in abot.say("bob", "#repl", "action list")

    abot.now = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
    assert "Reopened A-1: Write it" in abot.say("alice", None, "action reopen A-1")
    a = action(abot, 1)
    assert a.status == "open" and a.closed_at is None

    assert "Cancelled A-1: Write it" in abot.say("sam", None, "action cancel 1")
    a = action(abot, 1)
    assert a.status == "cancelled" and a.closed_at == dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)
    assert "Status: cancelled on Sun 29 Nov 2026 10:00 CET" in abot.say("bob", None,
                                                                       "action show A-1")
    assert "Reopened A-1" in abot.say("root", None, "action reopen A-1")
    assert [k for k, _ in events(abot, 1)] == [
        "created", "done", "reopened", "cancelled", "reopened",
    ]
    with Session(abot.engine) as s:
        verbs = list(s.scalars(select(AuditLog.verb).where(AuditLog.entity == "action")
                               .order_by(AuditLog.id)))
    assert verbs == ["create", "done", "reopen", "cancel", "reopen"]


@pytest.mark.parametrize(
    ("status_cmd", "line", "expected"),
    [
        (None, "action reopen A-1", "A-1 is open already."),
        ("done", "action done A-1", "A-1 is already done."),
        ("done", "action cancel A-1", "A-1 is done: `action reopen A-1` first."),
        ("cancel", "action cancel A-1", "A-1 is already cancelled."),
        ("cancel", "action done A-1", "A-1 is cancelled: `action reopen A-1` first."),
    ],
)
def test_wrong_transitions_write_nothing(
    abot: Bot, status_cmd: str | None, line: str, expected: str
) -> None:
    abot.say("bob", "#repl", "action add Write it")
    if status_cmd:
        abot.say("bob", None, f"action {status_cmd} A-1")
    before = abot.counts()
    reply = abot.ask("bob", None, line)
    assert reply.error
    assert render_reply(reply) == expected
    assert abot.counts() == before


REFUSAL = "Only an assignee, a chair of repl, the secretariat or an admin can do action {}."


@pytest.mark.parametrize("who", ["bob", "carol", "dave"])
@pytest.mark.parametrize(
    ("line", "verb"),
    [
        ("action done A-1", "done"),
        ("action cancel A-1", "cancel"),
        ("action assign A-1 @bob", "assign"),
        ("action due A-1 friday", "due"),
        ("action due A-1 none", "due"),
        ("action note A-1 I had a look", "note"),
    ],
)
def test_refusals_write_nothing(abot: Bot, who: str, line: str, verb: str) -> None:
    abot.say("root", "#repl", "action add @alice The chair's job due friday")
    before = abot.counts()
    reply = abot.ask(who, "#repl", line)
    out = render_reply(reply)
    assert reply.error and reply.private
    assert REFUSAL.format(verb) in out
    assert abot.counts() == before


def test_reopen_refused(abot: Bot) -> None:
    abot.say("bob", "#repl", "action add Write it")
    abot.say("bob", None, "action done A-1")
    before = abot.counts()
    assert REFUSAL.format("reopen") in abot.say("carol", None, "action reopen A-1")
    assert abot.counts() == before


@pytest.mark.parametrize("who", ["bob", "alice", "sam", "root"])
def test_assignee_chair_secretariat_admin_may_change(abot: Bot, who: str) -> None:
    abot.say("alice", "#repl", "action add @bob Bob's job")
    assert "Note added to A-1: Bob's job." in abot.say(who, None, "action note A-1 ok")
    assert "Completed A-1" in abot.say(who, None, "action done A-1")


# --- assign, due, note ----------------------------------------------------------------------


def test_assign_replaces_assignees(abot: Bot) -> None:
    abot.say("bob", "#repl", "action add @alice @bob Shared job")
    out = abot.say("bob", None, "action assign A-1 @carol")
    assert "A-1 is now for @carol." in out
    assert assignee_names(abot, 1) == ["carol"]
    out = abot.say("alice", None, "action assign A-1 @alice @carol @alice")
    assert "A-1 is now for @alice, @carol." in out
    assert sorted(assignee_names(abot, 1)) == ["alice", "carol"]
    assert events(abot, 1)[1:] == [("assigned", "@carol"), ("assigned", "@alice, @carol")]
    # bob is no longer an assignee, so he may not change it
    assert REFUSAL.format("done") in abot.say("bob", None, "action done A-1")
    assert "Completed" in abot.say("carol", None, "action done A-1")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action assign A-1", "Missing <@user>."),
        ("action assign A-1 @zed", "Unknown user @zed"),
        ("action assign A-9 @bob", "No action A-9."),
        ("action assign bob @bob", "'bob' is not an action id"),
    ],
)
def test_assign_errors(abot: Bot, line: str, expected: str) -> None:
    abot.say("bob", "#repl", "action add Job")
    before = abot.counts()
    out = abot.say("bob", None, line)
    assert expected in out and "Usage: action assign <id> <@user> ..." in out
    assert abot.counts() == before


def test_due_set_and_clear(abot: Bot) -> None:
    abot.say("bob", "#repl", "action add Job")
    assert "A-1 is now due Thu 31 Dec 2026." in abot.say("bob", None, "action due A-1 31 Dec")
    assert action(abot, 1).due == dt.date(2026, 12, 31)
    assert "A-1 is now due Mon 30 Nov 2026." in abot.say("bob", None, "action due A-1 end of month")
    assert "A-1 has no due date now." in abot.say("bob", None, "action due A-1 none")
    assert action(abot, 1).due is None
    assert events(abot, 1)[1:] == [("due", "2026-12-31"), ("due", "2026-11-30"), ("due", "")]
    assert "due date cleared" in abot.say("bob", None, "action show A-1")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action due A-1", "Missing <date> (or none to clear it)."),
        ("action due A-1 fooday", "Can't read 'fooday' as a date"),
        ("action due A-1 2026-11-27", "The due date Fri 27 Nov 2026 is in the past"),
        ("action due A-1 31 Feb", "'31 Feb' is not a real date"),
        ("action due A-1 01/13/2027", "numeric dates are day first"),
        ("action due A-7 friday", "No action A-7."),
    ],
)
def test_due_errors(abot: Bot, line: str, expected: str) -> None:
    abot.say("bob", "#repl", "action add Job")
    before = abot.counts()
    out = abot.say("bob", None, line)
    assert expected in out and "Usage: action due <id> <date>|none" in out
    assert abot.counts() == before


def test_note(abot: Bot) -> None:
    abot.say("bob", "#repl", "action add Job")
    before = abot.counts()
    out = abot.say("bob", None, "action note A-1 Waiting for   the  figures, due soon")
    assert "Note added to A-1: Job." in out
    assert delta(abot.counts(), before) == {
        "action_notes": 1, "action_events": 1, "audit_log": 1,
    }
    assert "@bob: Waiting for   the  figures, due soon" in abot.say("bob", None, "action show 1")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("action note A-1", "Missing <text...>."),
        ("action note A-1 " + "n" * 2001, "The note is too long (2001 characters; at most 2000)."),
        ("action note A-2 hello", "No action A-2."),
    ],
)
def test_note_errors(abot: Bot, line: str, expected: str) -> None:
    abot.say("bob", "#repl", "action add Job")
    before = abot.counts()
    out = abot.say("bob", None, line)
    assert expected in out and "Usage: action note <id> <text...>" in out
    assert abot.counts() == before


def done_commands(bot: Bot, who: str, channel: str | None, line: str) -> list[str]:
    reply = bot.ask(who, channel, line)
    assert not reply.error
    blocks = [b for b in reply.blocks if isinstance(b, Buttons)]
    assert len(blocks) <= 1
    if blocks:  # right under the table
        at = reply.blocks.index(blocks[0])
        assert isinstance(reply.blocks[at - 1], Table)
    return [b.command for block in blocks for b in block.buttons]


@pytest.mark.parametrize(
    ("who", "channel", "line", "commands"),
    [
        # an assignee closes their own; alice chairs repl: every repl action
        ("bob", "#repl", "action list", ["action done A-3", "action done A-1",
                                         "action done A-5"]),
        ("alice", "#repl", "action list", ["action done A-3", "action done A-2",
                                           "action done A-1", "action done A-5"]),
        ("alice", None, "action list all", ["action done A-3", "action done A-2",
                                            "action done A-1", "action done A-5"]),
        # the secretariat and admins close anything
        ("sam", None, "action list all", [f"action done A-{n}" for n in (4, 3, 2, 1, 5)]),
        ("root", None, "action list comms", ["action done A-4"]),
        # carol is in comms only: nothing of repl's is hers to close
        ("carol", None, "action list repl", []),
        ("carol", None, "action list mine", ["action done A-4"]),
    ],
)
def test_list_done_buttons_for_what_the_reader_may_close(
    abot: Bot, who: str, channel: str | None, line: str, commands: list[str]
) -> None:
    seed_for_list(abot)
    assert done_commands(abot, who, channel, line) == commands


def test_list_done_buttons_are_capped_and_close_the_action(abot: Bot) -> None:
    for i in range(DONE_BUTTONS + 3):
        abot.say("bob", "#repl", f"action add Task {i}")
    commands = done_commands(abot, "bob", "#repl", "action list")
    assert len(commands) == DONE_BUTTONS and commands[0] == "action done A-1"
    # the button's command is the command: run as bob, it closes the action
    assert "Completed A-1" in abot.say("bob", "#repl", commands[0])
    assert "action done A-1" not in done_commands(abot, "bob", "#repl", "action list")


# --- the shared queries ---------------------------------------------------------------------


def test_open_actions_queries(abot: Bot) -> None:
    seed_for_list(abot)
    with Session(abot.engine) as s:
        repl = s.scalar(select(Group).where(Group.slug == "repl"))
        bob = s.scalar(select(Person).where(Person.display_name == "bob"))
        assert repl is not None and bob is not None

        def ids(rows: list[Action]) -> list[str]:
            return [action_label(a) for a in rows]

        assert ids(open_actions(s)) == ["A-4", "A-3", "A-2", "A-1", "A-5"]
        assert ids(open_actions(s, limit=2)) == ["A-4", "A-3"]
        assert ids(open_actions(s, limit=4)) == ["A-4", "A-3", "A-2", "A-1"]
        assert ids(open_actions(s, group_id=repl.id)) == ["A-3", "A-2", "A-1", "A-5"]
        assert ids(open_actions(s, person_id=bob.id)) == ["A-3", "A-1", "A-5"]
        assert ids(open_actions(s, overdue_before=dt.date(2026, 12, 1))) == ["A-4", "A-3"]
        assert ids(open_actions(s, group_id=repl.id, overdue_before=dt.date(2026, 12, 1))) == [
            "A-3"
        ]
        assert count_open_actions(s) == 5
        assert count_open_actions(s, person_id=bob.id) == 3
        assert count_open_actions(s, group_id=repl.id, overdue_before=dt.date(2026, 12, 16)) == 2
        rows = open_actions(s, group_id=repl.id)
        # eager loads: assignees and groups are there without further queries
        assert [x.person.display_name for x in rows[1].assignees] == ["alice"]
        assert rows[0].group is not None and rows[0].group.slug == "repl"
    assert action_label(12) == "A-12"


@pytest.mark.parametrize(
    ("when", "due"),
    [("15/12", dt.date(2026, 12, 15)), ("15.12.2026", dt.date(2026, 12, 15)),
     ("3/1", dt.date(2027, 1, 3)), ("03.01.27", None)],
)
def test_european_dates_are_read_day_first_by_the_command(
    abot: Bot, when: str, due: dt.date | None
) -> None:
    """Issue 12 item 9, through the command and not only the date reader: numeric dates
    are day first (today is 28 Nov 2026, so 3/1 is next January); a two-digit year is
    refused with the usage and writes nothing."""
    before = abot.counts()
    reply = abot.ask("bob", "#repl", f"action add @bob Send the minutes due {when}")
    if due is None:
        assert reply.error and "Usage: action add" in render_reply(reply)
        assert abot.counts() == before
        return
    assert not reply.error, render_reply(reply)
    with Session(abot.engine) as s:
        action = s.scalars(select(Action).order_by(Action.id.desc())).first()
        assert action is not None
        assert (action.title, action.due) == ("Send the minutes", due)
