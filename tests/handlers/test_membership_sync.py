"""``follow_channel``: a bound channel's joins and leaves change the group's membership.

They go through ``Router.presence``, as an adapter's do: one transaction with the event's key.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.router import Incoming, Presence
from storage import kv
from storage.models import AuditLog, Group, Membership, Person
from tests.support.dialog import Bot


def setup(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")


def change(bot: Bot, channel: str, user: str, joined: bool, name: str | None = None,
           once: str | None = None) -> str | None:
    said = bot.router.presence(Incoming("shell", user, "", channel, name, once=once), joined)
    assert len(said) <= 1, said  # one feature watches presence
    return said[0] if said else None


def key_written(bot: Bot, key: str) -> bool:
    with Session(bot.engine) as s:
        return kv.get(s, key) is not None


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


def test_a_redelivered_event_changes_nothing_twice(bare_bot: Bot) -> None:
    setup(bare_bot)
    bare_bot.say("alice", "#repl", "tg settings follow_channel on")
    assert change(bare_bot, "#repl", "bob", False, once="test:seen:leave-1") is not None
    assert key_written(bare_bot, "test:seen:leave-1")
    bare_bot.admin("tg add repl @bob")  # back by hand; the old leave event comes again
    assert change(bare_bot, "#repl", "bob", False, once="test:seen:leave-1") is None
    assert "bob" in members(bare_bot)


def test_a_failing_watcher_writes_neither_the_change_nor_the_key(
        bare_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    setup(bare_bot)
    bare_bot.say("alice", "#repl", "tg settings follow_channel on")

    def broken(*_: object) -> str:
        raise RuntimeError("boom")

    bare_bot.router.registry.watch_presence(Presence("broken", broken))
    before = bare_bot.counts()
    assert change(bare_bot, "#repl", "carol", True, "Carol", once="test:seen:join-1") is None
    assert bare_bot.counts() == before and not key_written(bare_bot, "test:seen:join-1")
    assert "join of shell:#repl by carol failed" in caplog.text
