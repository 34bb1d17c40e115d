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
