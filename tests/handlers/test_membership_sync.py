"""``follow_channel``: a bound channel's joins and leaves change the group's membership."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.groups._sync import channel_membership_changed
from storage.models import AuditLog, Group, Membership, Person
from tests.support.dialog import Bot

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def setup(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")


def change(bot: Bot, channel: str, user: str, joined: bool, name: str | None = None) -> str | None:
    with Session(bot.engine) as s, s.begin():
        return channel_membership_changed(s, "shell", channel, user, joined, NOW, name)


def members(bot: Bot) -> dict[str, str]:
    with Session(bot.engine) as s:
        rows = s.execute(select(Person.display_name, Membership.role)
                         .join(Membership).join(Group).where(Group.slug == "repl"))
        return {name: role for name, role in rows}


def test_off_by_default_and_shown_by_tg_settings(bare_bot: Bot) -> None:
    setup(bare_bot)
    assert re.search(r"follow_channel\s+off\s+on\|off", bare_bot.say("alice", "#repl",
                                                                     "tg settings"))
    before = bare_bot.counts()
    assert change(bare_bot, "#repl", "carol", True) is None
    assert change(bare_bot, "#repl", "bob", False) is None
    assert bare_bot.counts() == before


def test_join_and_leave_follow_the_channel(bare_bot: Bot) -> None:
    setup(bare_bot)
    assert "follow_channel is now on" in bare_bot.say("alice", "#repl",
                                                      "tg settings follow_channel on")
    said = change(bare_bot, "#repl", "carol", True, "Carol")
    assert said == "Carol joined repl (joined shell:#repl)"
    assert members(bare_bot) == {"alice": "chair", "bob": "member", "Carol": "member"}
    assert change(bare_bot, "#repl", "carol", True) is None  # already in: nothing
    assert change(bare_bot, "#repl", "bob", False) == "bob left repl (left shell:#repl)"
    assert "bob" not in members(bare_bot)
    assert change(bare_bot, "#repl", "bob", False) is None  # not in any more
    assert change(bare_bot, "#repl", "nobody", False) is None  # never seen
    # a chair who leaves the channel stays chair
    assert "stays chair" in (change(bare_bot, "#repl", "alice", False) or "")
    assert members(bare_bot)["alice"] == "chair"
    # a channel bound to no group changes nothing
    before = bare_bot.counts()
    assert change(bare_bot, "#elsewhere", "dave", True) is None
    assert bare_bot.counts() == before
    with Session(bare_bot.engine) as s:
        audit = [(a.verb, a.detail["via"]) for a in s.scalars(
            select(AuditLog).where(AuditLog.verb.in_(("join", "leave"))).order_by(AuditLog.id))]
    assert audit == [("join", "shell:#repl"), ("leave", "shell:#repl")]


def test_follow_channel_values(bare_bot: Bot) -> None:
    setup(bare_bot)
    out = bare_bot.say("alice", "#repl", "tg settings follow_channel maybe")
    assert "follow_channel is on or off" in out
    assert "Only a chair of repl" in bare_bot.say("bob", "#repl", "tg settings follow_channel on")
