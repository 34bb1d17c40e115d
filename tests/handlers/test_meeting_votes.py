"""Roll call and votes in a meeting (issue 17, "In meetings"): #here by oneself and by a chair
for others, attendance with projects and the quorum in the minutes, #motion / #vote / #close
(a motion is a proposal of the meeting, its electorate the members present), a motion left
open closed with the meeting, a BoC motion ``for`` groups becoming a decision, an anonymous
motion naming no one; and the quorum expected in the reminder of the day before. On both
stores.

The repl series meets on the last Thursday at 10:00 Brussels; the meeting held here is
Thursday 31 Dec 2026, 09:00 UTC. repl has four members: alice (chair), bob, carol, dave.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_blocks, render_reply
from handlers.core.messages import Block, ChannelRef, File, Reply
from handlers.core.router import Incoming
from handlers.delivery._engine import DeliveryEngine
from storage.models import (
    Decision,
    Group,
    MeetingAttendee,
    Outbox,
    Person,
    Proposal,
    ProposalVoter,
    Vote,
)
from tests.support.dialog import Bot
from tests.support.i18n import install_pseudo, unmarked

UTC = dt.UTC
MEETING = dt.datetime(2026, 12, 31, 9, 0, tzinfo=UTC)


def cap(bot: Bot, who: str, channel: str, line: str) -> Reply | None:
    return bot.router.hear(Incoming(platform="shell", user_id=who, text=line,
                                    channel_id=channel))


def cap_text(bot: Bot, who: str, channel: str, line: str) -> str:
    reply = cap(bot, who, channel, line)
    assert reply is not None, line
    assert not reply.error, render_reply(reply)
    return render_reply(reply)


def refused(bot: Bot, who: str, channel: str, line: str) -> str:
    """The line is refused, as one clear line, and nothing is written."""
    before = bot.counts()
    reply = cap(bot, who, channel, line)
    assert reply is not None and reply.error, line
    assert bot.counts() == before
    return render_reply(reply)


def section(minutes: str, heading: str) -> str:
    """One section of the minutes as text, up to the next heading."""
    return minutes.split(f"== {heading} ==\n", 1)[1].split("\n==", 1)[0]


@pytest.fixture
def tg(bare_bot: Bot) -> Bot:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice project Lighthouse as chair")
    bot.admin("tg add repl @bob project Harbour")
    bot.admin("tg add repl @carol project Riverside")
    bot.admin("tg add repl @dave project Outpost")
    bot.admin("meeting schedule repl last thursday 10:00")
    bot.now = MEETING
    return bot


@pytest.fixture
def meeting(tg: Bot) -> Bot:
    """A repl meeting started by alice, with bob and carol present."""
    assert "started" in tg.say("alice", "#repl", "meeting start")
    cap_text(tg, "bob", "#repl", "#here")
    assert cap(tg, "carol", "#repl", "Morning all") is None  # speaking is being present
    return tg


# --- roll call --------------------------------------------------------------------------------


def test_roll_call_by_oneself_and_by_the_chair(tg: Bot) -> None:
    tg.admin("tg settings repl quorum 75%")
    tg.say("erin", None, "me")  # known to the bot, in no group
    out = tg.say("alice", "#repl", "meeting start")
    assert "#here [<@user> ...], #motion <text>, #vote agree|abstain|disagree|block, #close" in out
    mine = cap(tg, "bob", "#repl", "#here")
    # oneself: a quiet acknowledgement (a reaction where the platform has them)
    assert mine is not None and mine.private and not mine.error
    assert render_reply(mine) == ("@bob is present.\n"
                                  "Quorum not met (2 of 4 members present, quorum 75%).")
    # a chair records others, among them a guest who is no member: said in the channel
    theirs = cap(tg, "alice", "#repl", "#here @carol @erin")
    assert theirs is not None and not theirs.private
    assert render_reply(theirs) == ("Recorded present: @carol, @erin.\n"
                                    "Quorum met (3 of 4 members present, quorum 75%).")
    # again: nothing doubles
    cap_text(tg, "alice", "#repl", "#here @carol")
    with Session(tg.engine) as s:
        rows = {a.person.display_name: a.lines for a in s.scalars(select(MeetingAttendee))}
    assert rows == {"alice": 3, "bob": 1, "carol": 0, "erin": 0}  # recorded, never spoke
    # carol speaks later: her line counts on the same row
    assert cap(tg, "carol", "#repl", "Sorry, mic trouble") is None
    with Session(tg.engine) as s:
        carol = s.scalars(select(MeetingAttendee).join(Person).where(
            Person.display_name == "carol")).one()
        assert carol.lines == 1
    end = tg.say("alice", "#repl", "meeting end")
    attendance = section(end, "Attendance")
    assert attendance.startswith("- @alice (Lighthouse)\n- @bob (Harbour)\n- @carol (Riverside)\n"
                                 "- @erin\n"
                                 "Quorum met (3 of 4 members present, quorum 75%).\n")
    assert "dave" not in attendance


def test_only_a_chair_records_others(meeting: Bot) -> None:
    out = refused(meeting, "bob", "#repl", "#here @dave")
    assert out.startswith("Only a chair of this meeting (or of repl) can do #here for others.")
    # naming oneself is the roll call of oneself
    assert cap_text(meeting, "dave", "#repl", "#here @dave").startswith("@dave is present.")
    out = refused(meeting, "alice", "#repl", "#here @bob is on the phone")
    assert "#here takes people only" in out and "Usage: #here [<@user> ...]" in out
    # a note after a plain #here is fine: it is one's own roll call
    assert cap_text(meeting, "carol", "#repl", "#here (on the train)").startswith(
        "@carol is present.")


@pytest.mark.parametrize(("quorum", "present", "line"), [
    ("50%", [], "Quorum not met (1 of 4 members present, quorum 50%)."),
    ("50%", ["bob"], "Quorum met (2 of 4 members present, quorum 50%)."),
    ("75%", ["bob"], "Quorum not met (2 of 4 members present, quorum 75%)."),
    ("75%", ["bob", "carol"], "Quorum met (3 of 4 members present, quorum 75%)."),
    ("0%", [], "Quorum met (1 of 4 members present, quorum 0%)."),
    # a guest is listed, not counted
    ("50%", ["zed"], "Quorum not met (1 of 4 members present, quorum 50%)."),
])
def test_quorum_in_the_minutes(tg: Bot, quorum: str, present: list[str], line: str) -> None:
    tg.admin(f"tg settings repl quorum {quorum}")
    tg.say("alice", "#repl", "meeting start")
    for who in present:
        cap_text(tg, who, "#repl", "#here")
    end = tg.say("alice", "#repl", "meeting end")
    assert f"\n{line}\nStored as M-1" in section(end, "Attendance")


def test_who_joined_after_the_meeting_is_not_counted(meeting: Bot) -> None:
    meeting.say("alice", "#repl", "meeting end")
    meeting.now += dt.timedelta(hours=1)
    meeting.admin("tg add repl @gus project Later")
    reply = meeting.ask("bob", "#repl", "meeting minutes")
    assert "Quorum met (3 of 4 members present, quorum 50%)." in render_reply(reply)


def test_attendance_and_motions_in_markdown_and_html(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    cap_text(meeting, "alice", "#repl", "#vote agree")
    cap_text(meeting, "bob", "#repl", "#vote agree")
    cap_text(meeting, "alice", "#repl", "#close")
    meeting.say("alice", "#repl", "meeting end")
    reply = meeting.ask("carol", "#repl", "meeting minutes")
    files = {b.name: b.content.decode() for b in reply.blocks if isinstance(b, File)}
    md = files["minutes-repl-2026-12-31.md"]
    assert "## Motions\n\n- Motion P-1: Adopt the guide\n  - Passed (2 agree, 0 abstain, " in md
    assert "  - agree: @alice, @bob\n  - Did not vote: @carol." in md
    assert ("## Attendance\n\n- @alice (Lighthouse)\n- @bob (Harbour)\n- @carol (Riverside)\n\n"
            "Quorum met (3 of 4 members present, quorum 50%).") in md
    page = files["minutes-repl-2026-12-31.html"]
    assert "<h2>Motions</h2>" in page and "<p>- Motion P-1: Adopt the guide</p>" in page
    assert "<p>Quorum met (3 of 4 members present, quorum 50%).</p>" in page
    text = files["minutes-repl-2026-12-31.txt"]
    assert "== Motions ==\n- Motion P-1: Adopt the guide\n" in text


# --- motions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("motion", "votes", "outcome"), [
    ("#motion Adopt the budget",
     [("alice", "agree"), ("bob", "agree"), ("carol", "abstain")],
     "Passed (2 agree, 1 abstain, 0 disagree, 0 block; 3 of 4 voted)."),
    ("#motion Adopt the budget",
     [("alice", "agree"), ("bob", "agree"), ("carol", "block Too costly")],
     "Not passed (2 agree, 0 abstain, 0 disagree, 1 block; 3 of 4 voted)."),
    ("#motion Adopt the budget kind majority",
     [("alice", "agree"), ("bob", "disagree"), ("carol", "disagree")],
     "Not passed (1 agree, 0 abstain, 2 disagree, 0 block; 3 of 4 voted)."),
    ("#motion Adopt the budget kind majority",
     [("alice", "agree"), ("bob", "agree"), ("carol", "block")],
     "Passed (2 agree, 0 abstain, 0 disagree, 1 block; 3 of 4 voted)."),
    ("#motion Adopt the budget",
     [("alice", "agree")],
     "Not decided: the quorum of 50% was not met (1 agree, 0 abstain, 0 disagree, 0 block; "
     "1 of 4 voted)."),
    ("#motion Where next kind poll options Lisbon | Oslo",
     [("alice", "Oslo"), ("bob", "oslo"), ("carol", "Lisbon")],
     "Oslo wins (1 Lisbon, 2 Oslo; 3 of 4 voted)."),
])
def test_a_motion_passed_or_not(meeting: Bot, motion: str, votes: list[tuple[str, str]],
                                outcome: str) -> None:
    out = cap(meeting, "alice", "#repl", motion)
    assert out is not None and not out.error and not out.private
    said = render_reply(out)
    assert said.startswith("== Motion P-1: ")
    assert "Quorum: 50% of the 3 members present." in said
    assert "Vote with #vote " in said
    first = "Lisbon" if "poll" in motion else "agree"  # a button per choice
    assert f"[{first}: vote P-1 {first}]" in said
    for who, choice in votes:
        assert cap_text(meeting, who, "#repl", f"#vote {choice}").startswith("Your vote on P-1")
    closed = cap(meeting, "alice", "#repl", "#close")
    assert closed is not None and not closed.private and not closed.error
    text = render_reply(closed)
    assert text.startswith("== Motion P-1 is closed: ")
    assert outcome in text
    with Session(meeting.engine) as s:
        proposal = s.get(Proposal, 1)
        assert proposal is not None and proposal.status == "closed"
        assert proposal.meeting_id == 1 and proposal.decision_id is None
        assert sorted(v.person.display_name for v in proposal.electorate) == [
            "alice", "bob", "carol"]
    end = meeting.say("alice", "#repl", "meeting end")
    motions = section(end, "Motions")
    assert motions.startswith("- Motion P-1: ")
    assert f"  - {outcome}" in motions
    if "block Too costly" in [c for _w, c in votes]:
        assert "  - agree: @alice, @bob\n  - block: @carol (Too costly)" in motions


def test_a_vote_changed(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    assert cap_text(meeting, "bob", "#repl", "#vote agree").startswith(
        "Your vote on P-1: agree.")
    out = cap_text(meeting, "bob", "#repl", "#vote disagree not ready yet")
    assert out.startswith("Your vote on P-1: disagree (was agree).")
    assert "0 agree, 0 abstain, 1 disagree, 0 block; 1 of 4 voted" in out
    with Session(meeting.engine) as s:
        rows = s.scalars(select(Vote).order_by(Vote.id)).all()
        assert [(v.choice, v.replaced_at is not None) for v in rows] == [
            ("agree", True), ("disagree", False)]
        assert rows[1].reason == "not ready yet"
    closed = cap_text(meeting, "alice", "#repl", "#close")
    assert "disagree: @bob (not ready yet)" in closed
    assert "agree: @bob" not in closed.replace("disagree: @bob", "")


def test_votes_only_from_those_present_when_it_was_put(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    # dave is a member, but was not there when the motion was put
    out = refused(meeting, "dave", "#repl", "#vote agree")
    assert out.startswith("Only the members of repl who were present when motion P-1 was put "
                          "may vote on it.\n")
    # zed is no member at all
    out = refused(meeting, "zed", "#repl", "#vote agree")
    assert out.startswith("Only the members of repl who were present when motion P-1 was put "
                          "may vote on it.\n")
    # and the command refuses them as well
    assert "Only those who were members of repl" in meeting.say("dave", None, "vote P-1 agree")
    out = refused(meeting, "bob", "#repl", "#vote maybe")
    assert "P-1 takes agree or abstain or disagree or block, not 'maybe'." in out
    assert "Usage: #vote agree|abstain|disagree|block [<reason...>]" in out
    # the button (the command) works for one who was there
    assert "Your vote on P-1: agree." in meeting.say("bob", None, "vote P-1 agree")


def test_one_motion_at_a_time(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    out = refused(meeting, "alice", "#repl", "#motion Adopt the budget")
    assert out.startswith(
        "Motion P-1 is still open: one motion at a time, so #close it before the next.\n")
    cap_text(meeting, "alice", "#repl", "#close")
    assert cap_text(meeting, "alice", "#repl", "#motion Adopt the budget").startswith(
        "== Motion P-2: Adopt the budget")


@pytest.mark.parametrize(("who", "line", "said"), [
    ("bob", "#close", "Only a chair of this meeting (or of repl) can do #close."),
    ("bob", "#motion Adopt it", "Only a chair of this meeting (or of repl) can do #motion."),
    ("alice", "#close", "No motion is open in this meeting: a chair puts one with #motion "
                        "<text>."),
    ("bob", "#vote agree", "No motion is open in this meeting"),
    ("alice", "#motion", "#motion needs the text of the motion."),
    ("alice", "#motion kind majority", "Missing the title."),
    ("alice", "#motion Adopt for comms", "for is for the BoC's proposals"),
    ("alice", "#motion Adopt kind unanimous", "kind is one of consent, majority, consensus, "
                                              "poll."),
    ("alice", "#motion Adopt quorum 120%", "quorum is a percentage from 0 to 100"),
    ("alice", "#motion Adopt anonymous yes", "anonymous takes no value."),
    ("alice", "#motion Adopt kind kind", "kind is written twice."),
    ("alice", "#motion Pick kind poll", "A poll needs its options"),
])
def test_refusals_write_nothing(meeting: Bot, who: str, line: str, said: str) -> None:
    assert said in refused(meeting, who, "#repl", line)


def test_close_by_a_chair_not_another(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    out = refused(meeting, "bob", "#repl", "#close")
    assert out == "Only a chair of this meeting (or of repl) can do #close."
    # a chair handed over may
    cap_text(meeting, "alice", "#repl", "#chair @carol")
    assert "Motion P-1 is closed" in cap_text(meeting, "carol", "#repl", "#close")


def test_a_motion_left_open_closes_with_the_meeting(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    cap_text(meeting, "alice", "#repl", "#vote agree")
    cap_text(meeting, "bob", "#repl", "#vote agree")
    end = meeting.say("alice", "#repl", "meeting end")
    # the outcome first, then the minutes with it
    assert end.startswith("== Motion P-1 is closed: Adopt the guide ==\n"
                          "Passed (2 agree, 0 abstain, 0 disagree, 0 block; 2 of 4 voted).")
    motions = section(end, "Motions")
    assert motions == ("- Motion P-1: Adopt the guide\n"
                       "  - Passed (2 agree, 0 abstain, 0 disagree, 0 block; 2 of 4 voted).\n"
                       "  - Rule: consent: passes with quorum and no block; quorum 50%.\n"
                       "  - agree: @alice, @bob\n"
                       "  - Did not vote: @carol.")
    with Session(meeting.engine) as s:
        proposal = s.get(Proposal, 1)
        assert proposal is not None and proposal.status == "closed"
        assert proposal.closed_by_id is not None
        assert s.get(Person, proposal.closed_by_id).display_name == "alice"  # type: ignore[union-attr]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[ChannelRef, str, str]] = []

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.sent.append((channel, render_blocks(blocks), key))
        return f"m{len(self.sent)}"


def test_a_motion_left_open_closes_at_the_meetings_auto_close(tg: Bot) -> None:
    for what in ("digest", "reminders", "nudges"):
        tg.admin(f"tg settings repl {what} off")
    tg.say("alice", "#repl", "meeting start for 2h")
    cap_text(tg, "bob", "#repl", "#here")
    cap_text(tg, "alice", "#repl", "#motion Adopt the guide")
    cap_text(tg, "alice", "#repl", "#vote agree")
    cap_text(tg, "bob", "#repl", "#vote block")
    sender = Recorder()
    engine = DeliveryEngine(tg.sessions, tg.settings, {"shell": sender},
                            kinds=tg.router.registry.kinds)
    tg.now = MEETING + dt.timedelta(hours=1)
    engine.tick()
    assert sender.sent == []  # no "you have not voted" reminder: it is voted on here
    tg.now = MEETING + dt.timedelta(hours=2, minutes=1)
    engine.tick()
    engine.tick()
    bodies = [body for channel, body, _key in sender.sent if channel.channel_id == "#repl"]
    closing = [b for b in bodies if "is closed: Adopt the guide" in b]
    assert len(closing) == 1  # once
    assert "Not passed (1 agree, 0 abstain, 0 disagree, 1 block; 2 of 4 voted)." in closing[0]
    minutes = [b for b in bodies if "Minutes" in b]
    assert len(minutes) == 1
    assert "- Motion P-1: Adopt the guide\n  - Not passed (" in minutes[0]
    assert "  - agree: @alice\n  - block: @bob" in minutes[0]
    with Session(tg.engine) as s:
        proposal = s.get(Proposal, 1)
        assert proposal is not None and proposal.status == "closed"
        assert proposal.closed_by_id is None  # the bot's, at the deadline
        kinds = set(s.scalars(select(Outbox.kind)))
        assert "proposal_reminder" not in kinds


def test_a_passed_boc_motion_for_two_groups_becomes_a_decision(tg: Bot) -> None:
    tg.admin("tg create boc Board of Coordinators")
    tg.admin("tg create comms Communication")
    tg.admin("tg link boc", channel="#boc")
    tg.admin("tg link comms", channel="#comms")
    tg.admin("tg add boc @erin project Porto as chair")
    tg.admin("tg add boc @frank project Gdansk")
    tg.admin("tg add boc @gina project Tartu")
    tg.say("erin", "#boc", "meeting start")
    cap_text(tg, "erin", "#boc", "#here @frank")
    out = cap_text(tg, "erin", "#boc",
                   "#motion Publish the manifesto in March for repl, comms")
    assert "If it passes it becomes a decision for repl, comms." in out
    assert "Quorum: 50% of the 2 members present." in out
    # gina came late: not of the motion's electorate
    assert "present when motion P-1 was put may vote" in refused(tg, "gina", "#boc", "#vote block")
    cap_text(tg, "erin", "#boc", "#vote agree")
    cap_text(tg, "frank", "#boc", "#vote agree")
    closed = cap(tg, "erin", "#boc", "#close")
    assert closed is not None and not closed.error
    text = render_reply(closed)
    assert "Passed (2 agree, 0 abstain, 0 disagree, 0 block; 2 of 3 voted)." in text
    assert "It became decision D-1 for repl, comms." in text
    # posted as decision post posts it, to both groups (the BoC's channel is this one)
    targets = {(p.group_slug, tuple(c.channel_id for c in p.channels)) for p in closed.posts}
    assert targets == {("repl", ("#repl",)), ("comms", ("#comms",))}
    for post in closed.posts:
        assert "decision ack D-1" in render_blocks(post.blocks)
    with Session(tg.engine) as s:
        decision = s.get(Decision, 1)
        assert decision is not None
        assert [t.group.slug for t in decision.targets] == ["repl", "comms"]
        assert decision.text == "Publish the manifesto in March"
        assert s.get(Proposal, 1).decision_id == 1  # type: ignore[union-attr]
    assert "acknowledged D-1 for repl" in tg.say("bob", "#repl", "decision ack D-1")
    end = tg.say("erin", "#boc", "meeting end")
    assert "  - It became decision D-1 for repl, comms." in section(end, "Motions")


def test_a_motion_for_groups_needs_the_board(tg: Bot) -> None:
    """In the BoC's meeting a motion for groups is a decision in the making: a chair handed
    the meeting who is no BoC member (nor the secretariat) may not put one."""
    tg.admin("tg create boc Board of Coordinators")
    tg.admin("tg link boc", channel="#boc")
    tg.admin("tg add boc @erin as chair")
    tg.say("erin", "#boc", "meeting start")
    cap_text(tg, "erin", "#boc", "#chair @bob")
    out = refused(tg, "bob", "#boc", "#motion Do it for repl")
    assert out == "Only a BoC member, the secretariat or an admin can do #motion for groups."
    # without for, the chair's motion is the meeting's own vote
    assert "Motion P-1" in cap_text(tg, "bob", "#boc", "#motion Take a break")


def test_an_anonymous_motion_names_no_one(meeting: Bot) -> None:
    meeting.admin("tg link repl", channel="#repl-2")
    out = cap_text(meeting, "alice", "#repl", "#motion Secret ballot anonymous")
    assert "Votes are anonymous: vote with a button or by vote P-1 <choice> to the bot" in out
    cap_text(meeting, "alice", "#repl", "#vote agree")
    cap_text(meeting, "bob", "#repl", "#vote block")
    closed = cap(meeting, "alice", "#repl", "#close")
    assert closed is not None
    text = render_reply(closed)
    assert "Not passed (1 agree, 0 abstain, 0 disagree, 1 block; 2 of 4 voted)." in text
    assert "@" not in text
    assert closed.posts and all("@" not in render_blocks(p.blocks) for p in closed.posts)
    assert [[c.channel_id for c in p.channels] for p in closed.posts] == [["#repl-2"]]
    assert "@" not in meeting.say("carol", None, "proposal show P-1")
    end = meeting.say("alice", "#repl", "meeting end")
    motions = section(end, "Motions")
    assert "Not passed (1 agree" in motions and "@" not in motions
    reply = meeting.ask("carol", "#repl", "meeting minutes")
    for f in (b for b in reply.blocks if isinstance(b, File)):
        body = f.content.decode()
        motions_part = body.split("Motions", 1)[1].split("Attendance", 1)[0]
        assert "@" not in motions_part and "Secret ballot" in motions_part


def test_a_hidden_motion_shows_no_tally_until_the_close(meeting: Bot) -> None:
    cap_text(meeting, "alice", "#repl", "#motion Budget hidden")
    out = cap_text(meeting, "bob", "#repl", "#vote agree")
    assert out == "Your vote on P-1: agree."
    assert "Passed (1 agree" not in out
    assert "1 agree" in cap_text(meeting, "alice", "#repl", "#close")


def test_the_electorate_is_the_members_present(meeting: Bot) -> None:
    meeting.say("zed", None, "me")
    cap_text(meeting, "alice", "#repl", "#here @zed")  # a guest: present, no vote
    cap_text(meeting, "alice", "#repl", "#motion Adopt the guide")
    with Session(meeting.engine) as s:
        voters = {(v.person.display_name, v.project)
                  for v in s.scalars(select(ProposalVoter))}
    assert voters == {("alice", "Lighthouse"), ("bob", "Harbour"), ("carol", "Riverside")}


# --- the reminder of the day before ------------------------------------------------------------


def test_the_day_before_reminder_says_whether_quorum_is_expected(tg: Bot) -> None:
    tg.now = dt.datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
    for what in ("digest", "nudges"):
        tg.admin(f"tg settings repl {what} off")
    assert not tg.ask("alice", None, "meeting rsvp repl yes").error
    assert not tg.ask("bob", None, "meeting rsvp repl yes").error
    assert not tg.ask("carol", None, "meeting rsvp repl no").error
    sender = Recorder()
    engine = DeliveryEngine(tg.sessions, tg.settings, {"shell": sender},
                            kinds=tg.router.registry.kinds)

    def reminder_at(when: dt.datetime) -> str:
        tg.now = when
        engine.tick()
        found = [body for _c, body, key in sender.sent if key.startswith("meeting_reminder:")]
        sender.sent.clear()
        assert len(found) == 1, found
        return found[0]

    week = reminder_at(dt.datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    assert "not answered" not in week and "Quorum" not in week  # a week before: not yet
    assert "[Coming: meeting rsvp repl yes 2026-12-31]" in week  # a button, every time
    day = reminder_at(dt.datetime(2026, 12, 30, 9, 0, tzinfo=UTC))
    assert "Coming: 2 yes, 0 maybe, 1 no, 1 not answered." in day
    assert "Quorum expected: 2 of 4 members said yes (quorum 50%, 2 needed)." in day
    tg.admin("tg settings repl quorum 75%")
    hour = reminder_at(dt.datetime(2026, 12, 31, 8, 0, tzinfo=UTC))
    assert ("Quorum not expected yet: 2 of 4 members said yes (quorum 75%, 3 needed)."
            in hour)


def test_no_answers_no_count_in_the_reminder(tg: Bot) -> None:
    sender = Recorder()
    engine = DeliveryEngine(tg.sessions, tg.settings, {"shell": sender},
                            kinds=tg.router.registry.kinds)
    tg.now = dt.datetime(2026, 12, 30, 9, 0, tzinfo=UTC)
    engine.tick()
    day = [body for _c, body, key in sender.sent if key.startswith("meeting_reminder:")]
    assert len(day) == 1 and "Coming: " not in day[0].replace("[Coming: ", "")
    assert "Quorum" not in day[0]


# --- any line: no crash, nothing written on a refusal ----------------------------------------

_WORDS = st.one_of(
    st.sampled_from(["@bob", "@alice", "@nobody", "agree", "block", "Agree", "maybe",
                     "for", "repl", "comms,", "kind", "majority", "poll", "options", "|",
                     "quorum", "120%", "50%", "anonymous", "hidden", '"for', "x" * 400,
                     "\u00b2", "P-1"]),
    st.text(max_size=10),
)


@given(lines=st.lists(st.tuples(
    st.sampled_from(["alice", "bob", "dave", "zed"]),
    st.sampled_from(["#here", "#motion", "#vote", "#close"]),
    st.lists(_WORDS, max_size=6)), min_size=1, max_size=4))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_vote_lines_never_crash_and_refusals_write_nothing(
    meeting: Bot, lines: list[tuple[str, str, list[str]]]
) -> None:
    for who, tag, words in lines:
        before = meeting.counts()
        reply = cap(meeting, who, "#repl", " ".join([tag, *words]))
        if reply is None:
            continue
        out = render_reply(reply)
        assert "error id" not in out, out
        if reply.error:
            assert meeting.counts() == before, out


# --- every sentence is marked for translation ---------------------------------------------------

ENGLISH = re.compile(  # as tests/handlers/test_i18n_dialogs.py reads a leak
    r"\b(the|is|are|was|were|not|your|you|has|have|been|this|that|with|will|can|there|"
    r"no one|nobody|none|yet|already|must|only|please|now|than|because|which|when|"
    r"quorum|present|motion|vote|voted|passed|decision)\b", re.IGNORECASE)


def test_every_vote_line_is_in_the_readers_language(tg: Bot) -> None:
    """In a pseudo-language that wraps every message, what the roll call, a motion, its
    votes, its close and the minutes say shows no English outside a message."""
    tg.admin("tg create boc Board of Coordinators")
    tg.admin("tg link boc", channel="#boc")
    tg.admin("tg create comms Communication")
    tg.admin("tg link comms", channel="#comms")
    tg.admin("tg add boc @erin project Porto as chair")
    tg.admin("tg add boc @frank project Gdansk")
    lang = install_pseudo()
    for who in ("alice", "bob", "carol", "dave", "erin", "frank", "root"):
        assert not tg.ask(who, None, f"me language {lang}").error
    with tg.sessions.begin() as s:
        for group in s.scalars(select(Group)):
            group.settings = {**(group.settings or {}), "language": lang}
    script = [
        ("alice", "#repl", "meeting start"),
        ("bob", "#repl", "#here"),
        ("alice", "#repl", "#here @carol"),
        ("bob", "#repl", "#here @dave"),
        ("bob", "#repl", "#vote agree"),
        ("alice", "#repl", "#motion Adopt guide kind majority"),
        ("alice", "#repl", "#motion Another"),
        ("alice", "#repl", "#motion Oops for comms"),
        ("dave", "#repl", "#vote agree"),
        ("bob", "#repl", "#vote agree"),
        ("bob", "#repl", "#vote block Too costly"),
        ("carol", "#repl", "#vote maybe"),
        ("bob", "#repl", "#close"),
        ("alice", "#repl", "#close"),
        ("alice", "#repl", "#motion Secret ballot anonymous hidden"),
        ("alice", "#repl", "#vote agree"),
        ("alice", "#repl", "meeting end"),
        ("carol", "#repl", "meeting minutes"),
        ("erin", "#boc", "meeting start"),
        ("erin", "#boc", "#here @frank"),
        ("erin", "#boc", "#motion Publish manifesto for repl, comms"),
        ("erin", "#boc", "#vote agree"),
        ("frank", "#boc", "#vote agree"),
        ("erin", "#boc", "#close"),
        ("erin", "#boc", "meeting end"),
    ]
    leaks: list[str] = []
    tg.posted.clear()
    for who, channel, line in script:
        reply = (tg.ask(who, channel, line) if not line.startswith("#")
                 else cap(tg, who, channel, line))
        assert reply is not None, line
        tg.deliver(reply)
        shown = render_reply(reply)
        assert "⟦" in shown, f"{line!r} answered nothing translated: {shown!r}"
        leaks += [f"{line!r}: {leak}" for leak in unmarked(shown).splitlines()
                  # a button's label is a choice to type, its command syntax
                  if ENGLISH.search(leak) and not leak.startswith(("[shell:", "[agree:"))]
    assert tg.posted, "nothing was posted"
    leaks += [f"{ch.channel_id}: {leak}" for ch, blocks in tg.posted
              for leak in unmarked(render_blocks(blocks)).splitlines()
              if ENGLISH.search(leak) and not leak.startswith("[")]
    assert not leaks, "\n".join(leaks)
