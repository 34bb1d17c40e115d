"""Join policies (``open``, ``request``, ``closed``), requests settled by a chair, and the
rule that an acknowledgement counts only from someone who was a member when the decision
was posted, or a chair (issue 12, item 5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.core.grammar import UserError
from handlers.core.messages import ChannelRef
from handlers.governance._presets import apply_governance
from storage.models import Decision, Group, JoinRequest, Membership, Person
from tests.support.dialog import Bot

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def members(bot: Bot, slug: str) -> set[str]:
    with Session(bot.engine) as s:
        return set(s.scalars(select(Person.display_name).join(Membership).join(Group)
                             .where(Group.slug == slug)))


def stored_policy(bot: Bot, slug: str) -> tuple[str, bool]:
    with Session(bot.engine) as s:
        g = s.scalar(select(Group).where(Group.slug == slug))
        assert g is not None
        return g.join_policy, g.restricted


def requests(bot: Bot, slug: str) -> dict[str, str]:
    with Session(bot.engine) as s:
        return {name: status for name, status in s.execute(
            select(Person.display_name, JoinRequest.status)
            .join(JoinRequest, JoinRequest.person_id == Person.id)
            .join(Group, Group.id == JoinRequest.group_id).where(Group.slug == slug))}


def apply(bot: Bot, data: dict[str, Any]) -> list[str]:
    with bot.sessions.begin() as session:
        return apply_governance(session, bot.settings, data, now=NOW)


@pytest.fixture
def finance(bot: Bot) -> Bot:
    bot.admin("tg add finance @carol as chair")
    bot.admin("tg add finance @alice")
    bot.admin("tg add boc @bea")
    return bot


def test_joining_to_acknowledge_does_not_count(finance: Bot) -> None:
    """The report: bob, not in finance, was refused `decision ack D-1`, ran `tg join
    finance` and acknowledged for finance."""
    bot = finance
    assert "Recorded decision D-1" in bot.say("bea", "#boc", "decision post finance Fund it.")
    assert "Only a member of finance" in bot.say("bob", None, "decision ack D-1")
    # finance takes requests: joining asks the chair and makes bob no member yet
    reply = bot.ask("bob", None, "tg join finance")
    assert not reply.error
    assert [(list(p.channels), p.group_slug) for p in reply.posts] == [
        ([ChannelRef("shell", "dm:carol")], "finance")]
    assert "bob" not in members(bot, "finance")
    assert "Only a member of finance" in bot.say("bob", None, "decision ack D-1")
    # approved later (the clock moves on): a member now, but not when D-1 was posted
    bot.now += dt.timedelta(hours=1)
    assert "Approved: @bob is now a member of finance." in bot.say(
        "carol", None, "tg approve finance @bob")
    before = bot.counts()
    out = bot.say("bob", None, "decision ack D-1")
    assert "You joined finance after D-1 was posted" in out
    out = bot.say("bob", "#finance", "decision ack D-1 finance")
    assert "You joined finance after D-1 was posted" in out
    assert bot.counts() == before
    # a decision posted after he joined: his acknowledgement counts
    bot.say("bea", "#boc", "decision post finance Report on it.")
    assert "@bob acknowledged D-2 for finance" in bot.say("bob", None, "decision ack D-2")
    # a member from before, and the chair, count for D-1
    assert "@alice acknowledged D-1 for finance" in bot.say("alice", None, "decision ack D-1")


def test_a_chair_who_joined_later_counts(finance: Bot) -> None:
    bot = finance
    bot.say("bea", "#boc", "decision post finance Fund it.")
    bot.now += dt.timedelta(days=1)
    bot.admin("tg add finance @fred as chair")
    assert "@fred acknowledged D-1 for finance" in bot.say("fred", "#finance",
                                                           "decision ack D-1")


def test_someone_who_left_and_came_back_counts_from_their_return(finance: Bot) -> None:
    bot = finance
    bot.say("bea", "#boc", "decision post finance Fund it.")
    bot.now += dt.timedelta(hours=1)
    bot.say("alice", None, "tg leave finance")
    bot.admin("tg add finance @alice")
    assert "You joined finance after D-1" in bot.say("alice", None, "decision ack D-1")


@pytest.mark.parametrize("policy", ["open", "request", "closed"])
def test_each_policy(finance: Bot, policy: str) -> None:
    bot = finance
    if policy != "request":  # request is the default
        assert f"join is now {policy} (was request)" in bot.say(
            "carol", "#finance", f"tg settings finance join {policy}")
    assert stored_policy(bot, "finance") == (policy, policy == "closed")
    before = bot.counts()
    reply = bot.ask("bob", None, "tg join finance")
    out = render_reply(reply)
    if policy == "open":
        assert "@bob joined finance." in out and not reply.posts
        assert "bob" in members(bot, "finance")
    elif policy == "request":
        assert "its chair @carol will approve or decline" in out
        assert requests(bot, "finance") == {"bob": "pending"}
        assert "bob" not in members(bot, "finance")
    else:
        assert reply.error and "finance is closed: people join it only by being added" in out
        assert bot.counts() == before
    assert f"Joining: {policy}" in bot.say("bob", None, "tg show finance")
    settings_table = bot.say("bob", None, "tg settings finance")
    assert any(line.split()[:2] == ["join", policy] for line in settings_table.splitlines())


def test_new_groups_take_requests_and_role_groups_stay_closed(bot: Bot) -> None:
    assert all(stored_policy(bot, slug)[0] == "request"
               for slug in ("replication", "comms", "finance", "data", "monitoring"))
    bot.admin("tg create extra Extra Group")
    assert stored_policy(bot, "extra") == ("request", False)
    for slug in ("boc", "secretariat"):
        assert stored_policy(bot, slug) == ("closed", True)
        before = bot.counts()
        for value in ("open", "request"):
            out = bot.say("root", None, f"tg settings {slug} join {value}")
            assert f"{slug} is always closed" in out and "Usage:" in out
        assert bot.counts() == before
        for who in ("mallory", "root"):
            assert "joined only by being added" in bot.say(who, None, f"tg join {slug}")
        assert requests(bot, slug) == {}


def test_staff_join_directly(bot: Bot) -> None:
    bot.admin("tg add secretariat @sam")
    assert "@sam joined finance." in bot.say("sam", None, "tg join finance")
    bot.admin("tg settings data join closed")
    assert "@root joined data." in bot.admin("tg join data")


def test_a_group_without_chair_tells_its_channels(bot: Bot) -> None:
    reply = bot.ask("bob", None, "tg join data")
    assert [list(p.channels) for p in reply.posts] == [[ChannelRef("shell", "#data")]]
    assert "no chair yet" in render_reply(reply)
    assert "@bob" in bot.admin("tg requests data")
    assert "Approved: @bob" in bot.admin("tg approve data @bob")


def test_requests_approve_deny_and_withdraw(finance: Bot) -> None:
    bot = finance
    bot.say("bob", None, "tg join finance")
    bot.say("dave", None, "tg join finance")
    bot.say("erin", None, "tg join finance")
    # asking again tells, and notifies nobody twice
    again = bot.ask("bob", None, "tg join finance")
    assert not again.posts and not again.error
    listing = bot.say("carol", None, "tg requests")
    assert all(f"@{n}" in listing for n in ("bob", "dave", "erin"))
    assert "@bob" in bot.say("carol", "#finance", "tg requests")
    # only chairs and staff settle them, refused before anything is looked up
    before = bot.counts()
    for line in ("tg approve finance @bob", "tg deny finance @bob", "tg requests finance",
                 "tg requests"):
        out = bot.say("alice", None, line)
        assert out.startswith("Only ") and "Usage:" in out, (line, out)
    assert bot.counts() == before
    # deny: told by direct message; asking again is refused until a chair adds them
    deny = bot.ask("carol", None, "tg deny finance @dave")
    assert [list(p.channels) for p in deny.posts] == [[ChannelRef("shell", "dm:dave")]]
    out = bot.say("dave", None, "tg join finance")
    assert "was declined" in out and "dave" not in members(bot, "finance")
    # withdraw by leaving; then asking again is a fresh request
    assert "You withdrew your request to join finance." in bot.say(
        "erin", None, "tg leave finance")
    assert "Asked to join finance" in bot.say("erin", None, "tg join finance")
    # being added settles a pending request
    bot.say("carol", None, "tg add finance @erin")
    assert requests(bot, "finance") == {"bob": "pending", "dave": "denied",
                                        "erin": "approved"}
    assert "bob" in bot.say("carol", None, "tg requests finance")
    assert "@erin" not in bot.say("carol", None, "tg requests finance")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("tg approve finance @zed", "Unknown user @zed"),
        ("tg approve finance @alice", "alice has no pending request to join finance"),
        ("tg approve finance", "Missing <@user>."),
        ("tg approve nowhere @bob", "Unknown group 'nowhere'."),
        ("tg deny finance @bob extra", "Unexpected 'extra'."),
        ("tg requests finance extra", "Unexpected 'extra'."),
        ("tg settings finance join maybe", "join is open|request|closed, not 'maybe'."),
        ("tg settings finance join", "Missing <value>."),
        ("tg settings finance jion open", "No setting 'jion'."),
    ],
)
def test_bad_input_writes_nothing(finance: Bot, line: str, expected: str) -> None:
    bot = finance
    bot.say("bob", None, "tg join finance")
    before = bot.counts()
    reply = bot.ask("carol", None, line)
    out = render_reply(reply)
    assert reply.error and expected in out, out
    assert "Usage:" in out or "no pending request" in out
    assert bot.counts() == before


def test_the_file_sets_join_and_leaving_it_out_changes_nothing(bot: Bot) -> None:
    bot.admin("tg settings finance join open")
    assert apply(bot, {"group": [{"slug": "finance", "name": "Business Models and "
                                  "Financing"}]}) == []
    assert stored_policy(bot, "finance") == ("open", False)
    assert apply(bot, {"group": [{"slug": "finance", "join": "closed"}]}) == [
        "updated group finance: join"]
    assert stored_policy(bot, "finance") == ("closed", True)
    assert apply(bot, {"group": [{"slug": "finance", "join": "closed"}]}) == []
    # the older spelling: restricted = false opens a closed group to requests
    assert apply(bot, {"group": [{"slug": "finance", "restricted": False}]}) == [
        "updated group finance: restricted"]
    assert stored_policy(bot, "finance") == ("request", False)
    apply(bot, {"group": [{"slug": "new-one", "name": "New One"},
                          {"slug": "new-two", "name": "New Two", "join": "open"},
                          {"slug": "new-three", "name": "New Three", "restricted": True}]})
    assert stored_policy(bot, "new-one") == ("request", False)
    assert stored_policy(bot, "new-two") == ("open", False)
    assert stored_policy(bot, "new-three") == ("closed", True)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"slug": "finance", "join": "maybe"}, "join must be open, request, closed"),
        ({"slug": "finance", "join": True}, "join must be open, request, closed"),
        ({"slug": "boc", "join": "open"}, "boc is always closed"),
        ({"slug": "secretariat", "join": "request"}, "secretariat is always closed"),
        ({"slug": "finance", "join": "open", "restricted": True}, "contradicts"),
        ({"slug": "finance", "join": "closed", "restricted": False}, "contradicts"),
    ],
)
def test_an_invalid_join_in_a_file_writes_nothing(bot: Bot, entry: dict[str, Any],
                                                  problem: str) -> None:
    before = bot.counts()
    with pytest.raises(UserError) as err:
        apply(bot, {"group": [entry]})
    assert problem in err.value.message
    assert bot.counts() == before


@given(policy=st.sampled_from(["open", "request", "closed"]),
       file_join=st.one_of(st.none(), st.sampled_from(["open", "request", "closed"])))
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_what_chat_set_survives_a_file_without_join(bot: Bot, policy: str,
                                                    file_join: str | None) -> None:
    bot.admin(f"tg settings comms join {policy}")
    entry: dict[str, Any] = {"slug": "comms", "mandate": "Tell people."}
    if file_join is not None:
        entry["join"] = file_join
    apply(bot, {"group": [entry]})
    want = file_join or policy
    assert stored_policy(bot, "comms") == (want, want == "closed")


_people = iter(range(10**6))


@given(minutes=st.integers(-600, 600), role=st.sampled_from(["member", "chair"]),
       staff_names_it=st.booleans())
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_ack_counts_iff_a_member_at_posting_or_a_chair(
        finance: Bot, minutes: int, role: str, staff_names_it: bool) -> None:
    """Whenever someone became a member (before, at or after the posting), as member or
    chair: their acknowledgement counts exactly when they were a member when it was posted,
    or are a chair; the secretariat may still record one for the group by naming it."""
    bot = finance
    posted = bot.now
    who = f"p{next(_people)}"
    if minutes <= 0:  # a member from before (or the very moment of) the posting
        bot.now = posted + dt.timedelta(minutes=minutes)
        bot.admin(f"tg add comms @{who} as {role}")
        bot.now = posted
        bot.say("bea", "#boc", "decision post comms Adopt it.")
    else:
        bot.say("bea", "#boc", "decision post comms Adopt it.")
        bot.now = posted + dt.timedelta(minutes=minutes)
        bot.admin(f"tg add comms @{who} as {role}")
    with Session(bot.engine) as s:
        label = f"D-{s.scalar(select(Decision.id).order_by(Decision.id.desc()))}"
    before = bot.counts()
    reply = bot.ask(who, None, f"decision ack {label}")
    counts = minutes <= 0 or role == "chair"
    assert reply.error is not counts, render_reply(reply)
    if not counts:
        assert "after" in render_reply(reply) and bot.counts() == before
        if staff_names_it:
            assert "acknowledged" in bot.admin(f"decision ack {label} comms")
    bot.now = posted
