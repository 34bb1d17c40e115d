"""Dialog tables for ``tg``: (who, channel, input) -> reply, and what was written."""

from __future__ import annotations

import pytest

from tests.support.dialog import Bot


def test_create_link_add_show(bare_bot: Bot) -> None:
    bot = bare_bot
    assert "Created group repl: Replication." in bot.admin("tg create repl Replication")
    assert "now linked to Replication" in bot.admin("tg link repl", channel="#repl")
    out = bot.admin("tg add repl @alice project Lighthouse One as chair")
    assert "Added @alice in repl as chair, representing Lighthouse One." in out
    # a chair may add members to their group
    out = bot.say("alice", "#repl", "tg add repl @bob project Bravo City")
    assert "Added @bob in repl as member, representing Bravo City." in out
    show = bot.say("bob", "#repl", "tg show")
    assert "Replication (repl)" in show
    assert "shell:#repl" in show
    assert "Lighthouse One" in show and "Bravo City" in show
    listing = bot.say("bob", None, "tg list")
    assert "repl" in listing and "@alice" in listing


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("bob", "tg create comms Communication", "Only an admin or the secretariat can do tg create."),
        ("bob", "tg add repl @carol", "Only a chair of repl, the secretariat or an admin can do tg add."),
        ("root", "tg add nowhere @carol", "Unknown group 'nowhere'."),
        ("root", "tg add repl", "Missing <@user>."),
        ("root", "tg add repl @carol as boss", "Role must be chair or member, not 'boss'."),
        ("root", "tg create Bad_Slug Name", "is not a valid group id"),
        ("root", "tg create repl Again", "exists already"),
        ("root", "tg remove repl @zed", "Unknown user @zed"),
        ("root", "tg frobnicate", "Unknown tg subcommand 'frobnicate'."),
        ("root", "tg create x" + "y" * 10 + " " + "n" * 200, "too long"),
    ],
)
def test_refusals_write_nothing(bare_bot: Bot, who: str, line: str, expected: str) -> None:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg add repl @bob")
    before = bot.counts()
    reply = bot.ask(who, "#repl", line)
    out = bot.say(who, "#repl", line)
    assert reply.error and reply.private
    assert expected in out
    assert "Usage:" in out
    assert bot.counts() == before


def test_join_leave_and_restricted(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg settings repl join open")  # a new group takes requests by default
    assert "@dana joined repl." in bot.say("dana", None, "tg join repl")
    assert "already a member" in bot.say("dana", None, "tg join Replication")
    assert "@dana left repl." in bot.say("dana", None, "tg leave repl")
    assert "You are not a member of repl." in bot.say("dana", None, "tg leave repl")


def test_group_by_full_name(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create data Data Management")
    out = bot.admin("tg add Data Management @erin project Delta")
    assert "Added @erin in data as member" in out
    assert "Data Management (data)" in bot.say("erin", None, "tg show data management")


# --- leaving with open work (issue 12, item 13) ---------------------------------------------


def _bob_with_work(bot: Bot) -> None:
    """repl (#repl): alice chair, bob and carol members; bob holds 20 open actions in repl
    (A-1..A-20, A-3 shared with carol), one done (A-21), and one open in comms (A-22)."""
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg create comms Communication")
    for who, role in (("alice", "chair"), ("bob", "member"), ("carol", "member")):
        bot.admin(f"tg add repl @{who} as {role}")
    bot.admin("tg add comms @bob")
    for n in range(1, 21):
        who = "@bob @carol" if n == 3 else "@bob"
        assert "Added" in bot.say("bob", "#repl", f"action add {who} Task number {n}")
    bot.say("bob", "#repl", "action add Finished already")
    bot.say("bob", "#repl", "action done A-21")
    bot.say("bob", None, "action add Comms work group comms")


def test_removing_a_member_says_what_stays_open(bare_bot: Bot) -> None:
    bot = bare_bot
    _bob_with_work(bot)
    out = bot.say("alice", "#repl", "tg remove repl @bob")
    assert out.splitlines() == [
        "Removed @bob from repl.",
        "20 open actions in repl still assigned to @bob: A-1, A-2, A-3, A-4, A-5 and 15 "
        "more. Give each to someone else with `action assign <id> @someone`.",
    ]
    # the removal went through; the actions are untouched
    assert "@bob" not in bot.say("alice", "#repl", "tg show repl")
    assert "Open actions for @bob: 21" in bot.say("alice", None, "action list @bob")


def test_leaving_says_what_stays_open(bare_bot: Bot) -> None:
    bot = bare_bot
    _bob_with_work(bot)
    out = bot.say("bob", None, "tg leave comms")
    assert out.splitlines() == [
        "@bob left comms.",
        "1 open action in comms still assigned to @bob: A-22. "
        "Give each to someone else with `action assign <id> @someone`.",
    ]
    # nothing open: nothing more said
    bot.admin("tg add comms @dan")
    assert bot.say("dan", None, "tg leave comms") == "@dan left comms."


def test_remove_with_reassign_hands_the_open_actions_over(bare_bot: Bot) -> None:
    bot = bare_bot
    _bob_with_work(bot)
    out = bot.say("alice", "#repl", "tg remove repl @bob reassign @carol")
    assert out.splitlines() == [
        "Removed @bob from repl.",
        "20 open actions in repl (A-1, A-2, A-3, A-4, A-5 and 15 more) now for @carol.",
    ]
    assert "Open actions for @bob: 1" in bot.say("root", None, "action list @bob")  # comms
    assert "Open actions for @carol: 20" in bot.say("root", None, "action list @carol")
    show = bot.say("root", None, "action show A-3")
    assert "Assigned to: @carol\n" in show + "\n" and "assigned to @carol" in show
    assert "marked done" in bot.say("root", None, "action show A-21")  # done: left alone
    assert "Assigned to: @bob" in bot.say("root", None, "action show A-21")


def test_leave_with_reassign(bare_bot: Bot) -> None:
    bot = bare_bot
    _bob_with_work(bot)
    bot.admin("tg add comms @carol")
    out = bot.say("bob", None, "tg leave comms reassign @carol")
    assert out.splitlines() == ["@bob left comms.", "1 open action in comms (A-22) now for @carol."]


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("alice", "tg remove repl @bob reassign @zed", "Unknown user @zed"),
        ("alice", "tg remove repl @bob reassign @bob", "Reassign to someone other than @bob."),
        ("alice", "tg remove repl @bob reassign @erin",
         "@erin is not a member of repl: add them first (tg add repl @erin)."),
        ("alice", "tg remove repl @bob reassign", "Missing <@user> after reassign."),
        ("alice", "tg remove repl @bob reassign @carol extra", "Unexpected 'extra'."),
        ("alice", "tg remove repl @bob handover @carol", "Unexpected 'handover'."),
        ("bob", "tg leave repl reassign @erin",
         "@erin is not a member of repl: add them first (tg add repl @erin)."),
        ("bob", "tg leave repl reassign", "Missing <@user> after reassign."),
        ("carol", "tg remove repl @bob reassign @carol",
         "Only a chair of repl, the secretariat or an admin can do tg remove."),
    ],
)
def test_a_bad_reassign_removes_no_one(bare_bot: Bot, who: str, line: str,
                                       expected: str) -> None:
    bot = bare_bot
    _bob_with_work(bot)
    bot.admin("tg add comms @erin")
    before = bot.counts()
    reply = bot.ask(who, "#repl", line)
    out = bot.say(who, "#repl", line)
    assert reply.error and expected in out, out
    assert "Usage:" in out and "reassign <@user>" in out
    assert bot.counts() == before
