"""Links are a person's and checked against their roles on every fetch, over real HTTP on
both stores: a removed member loses the feed, a reset key stops the old links at once (by
the person or by the secretariat), and a dashboard link ends with its holder's role."""

from __future__ import annotations

import dataclasses
import re

from tests.support.dialog import Bot
from tests.web.conftest import fetch

FEED = re.compile(r"(http://\S+/calendar/\S+\.ics\?token=[0-9a-f]{32})")
DASH = re.compile(r"(http://\S+/dashboard\?exp=\d+&who=\d+&sig=[0-9a-f]{32})")


def setup(bot: Bot, base: str) -> None:
    bot.router.settings = dataclasses.replace(bot.settings, public_url=base)
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg create repl Replication")
    bot.admin("tg add secretariat @sam")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")
    bot.admin("meeting schedule repl first tuesday 10:00 link https://meet.example/secret-room")


def link(bot: Bot, who: str, line: str, pattern: re.Pattern[str] = FEED) -> str:
    out = bot.say(who, None, line)
    found = pattern.search(out)
    assert found, out
    return found.group(1)


def test_each_member_has_their_own_feed(bare_bot: Bot, served: str) -> None:
    setup(bare_bot, served)
    alice, bob = link(bare_bot, "alice", "meeting feed repl"), link(bare_bot, "bob",
                                                                   "meeting feed repl")
    assert alice != bob
    assert fetch(alice).status == fetch(bob).status == 200


def test_a_removed_member_loses_the_feed(bare_bot: Bot, served: str) -> None:
    setup(bare_bot, served)
    url = link(bare_bot, "bob", "meeting feed repl")
    everything = link(bare_bot, "bob", "meeting feed all")
    got = fetch(url)
    assert got.status == 200 and "secret-room" in got.body
    bare_bot.admin("tg remove repl @bob")
    for gone in (url, everything):  # bob is in no group now: all is closed to him too
        refused = fetch(gone)
        assert refused.status == 403, refused.body
        assert "BEGIN:VCALENDAR" not in refused.body and "secret-room" not in refused.body
    assert fetch(link(bare_bot, "alice", "meeting feed repl")).status == 200  # others keep theirs
    bare_bot.admin("tg add repl @bob")
    assert fetch(url).status == 200  # the same link again once he is back


def test_meeting_feed_reset_revokes_the_old_link(bare_bot: Bot, served: str) -> None:
    setup(bare_bot, served)
    old = link(bare_bot, "bob", "meeting feed repl")
    alice = link(bare_bot, "alice", "meeting feed repl")
    reply = bare_bot.ask("bob", None, "meeting feed reset")
    assert reply.private and not reply.error
    new = link(bare_bot, "bob", "meeting feed repl")
    assert new != old
    assert fetch(old).status == 403
    assert fetch(new).status == 200
    assert fetch(alice).status == 200  # only his own


def test_the_secretariat_resets_someones_links(bare_bot: Bot, served: str) -> None:
    setup(bare_bot, served)
    old = link(bare_bot, "bob", "meeting feed repl")
    refused = bare_bot.ask("alice", None, "secretariat feeds reset @bob")
    assert refused.error and "Only an admin or the secretariat" in bare_bot.say(
        "alice", None, "secretariat feeds reset @bob")
    assert fetch(old).status == 200
    reply = bare_bot.ask("sam", None, "secretariat feeds reset @bob")
    assert reply.private and not reply.error
    assert fetch(old).status == 403
    assert fetch(link(bare_bot, "bob", "meeting feed repl")).status == 200


def test_a_dashboard_link_ends_with_its_holders_role(bare_bot: Bot, served: str) -> None:
    setup(bare_bot, served)
    url = link(bare_bot, "sam", "secretariat dashboard", DASH)
    assert fetch(url).status == 200
    bare_bot.admin("tg remove secretariat @sam")
    refused = fetch(url)
    assert refused.status == 403 and "no longer valid" in refused.body
    bare_bot.admin("tg add secretariat @sam")
    assert fetch(url).status == 200
    # resetting the key revokes the dashboard link too
    assert not bare_bot.ask("sam", None, "meeting feed reset").error
    assert fetch(url).status == 403
    # and a link cannot be moved to someone else
    other = re.sub(r"who=\d+", "who=1", link(bare_bot, "sam", "secretariat dashboard", DASH))
    assert fetch(other).status == 403


def test_help_shows_the_reset_commands(bare_bot: Bot) -> None:
    assert "meeting feed [<group>|all|reset]" in bare_bot.say("root", None, "help meeting")
    assert "secretariat feeds [reset <@user>]" in bare_bot.say("root", None, "help secretariat")


def test_the_dashboard_is_in_its_holders_language(bare_bot: Bot, served: str) -> None:
    """Over real HTTP: the page is in the language of whoever holds the link, whoever
    else opens it (the page's words, its tables' headers, its dates)."""
    setup(bare_bot, served)
    bare_bot.say("sam", None, "me language de")
    page = fetch(link(bare_bot, "sam", "secretariat dashboard", DASH))
    assert page.status == 200
    assert "Taskbot dashboard" not in page.body and "Recent decisions" not in page.body
    assert "Gruppe" in page.body
