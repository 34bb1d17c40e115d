"""Dialog tables for ``proposal`` and ``vote`` on both stores: who may open, bad input with
nothing written, votes (changed, refused after the close or for someone who joined later),
``proposal show|list|close|extend|remind``, the close and the reminder in a delivery tick, a
vote by mail, and an anonymous tally that shows no names anywhere."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from bot.textrender import render_blocks, render_reply
from handlers.catalog import build_registry
from handlers.core.messages import Buttons, File, Reply
from handlers.delivery._engine import TickResult
from storage.models import (
    AuditLog,
    DecisionTarget,
    Group,
    Outbox,
    Person,
    Proposal,
    ProposalVoter,
    Vote,
)
from tests.email.wiring import BOT, Wired
from tests.handlers.test_delivery import RecordingSender, engine_for, run_ticks
from tests.support import dovecot
from tests.support.dialog import Bot
from tests.support.mailserver import MailServer, start, stop

UTC = dt.UTC
OPEN_USAGE = ("Usage: proposal open <group> <title...> [for <group>[,<group>...]] "
              "[kind consent|majority|consensus|poll] [options <a> | <b> | ...] "
              "[closes <date> [<HH:MM>]] [quorum <N>%] [anonymous] [hidden]")
# the BoC proposal most tests open: it closes Tue 1 Dec 2026 17:00 in Brussels
CLOSES = dt.datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
BOC_PROPOSAL = ("proposal open boc Adopt the replication guide for replication,comms "
                "closes 2026-12-01 17:00")


def seed(bot: Bot) -> None:
    """The preset's groups with people: the Board (bea, cy, dan), the secretariat (sam),
    Replication (alice its chair, bob, dan), Communication (carl its chair)."""
    for line in ("tg add boc @bea", "tg add boc @cy", "tg add boc @dan",
                 "tg add secretariat @sam", "tg add replication @alice as chair",
                 "tg add replication @bob", "tg add replication @dan",
                 "tg add comms @carl as chair"):
        bot.admin(line)


@pytest.fixture
def board(bot: Bot) -> Bot:
    seed(bot)
    return bot


def said(bot: Bot, who: str, line: str, channel: str | None = None) -> str:
    reply = bot.ask(who, channel, line)
    out = render_reply(reply)
    assert not reply.error, out
    return out


def refused(bot: Bot, who: str, line: str, expected: str, *, usage: bool = True) -> str:
    """An error answered to the person alone, with ``expected`` in it (and the usage when
    ``usage``), and not a row written anywhere."""
    before = bot.counts()
    reply = bot.ask(who, None, line)
    out = render_reply(reply)
    assert reply.error and reply.private, out
    assert expected in out, out
    assert ("Usage:" in out) == usage, out
    assert bot.counts() == before
    return out


def votes(bot: Bot, proposal_id: int = 1) -> list[tuple[str, str, str, bool]]:
    """(who, choice, reason, replaced) of every vote on the proposal, oldest first."""
    with bot.sessions() as s:
        return [(name, choice, reason, replaced is not None) for name, choice, reason, replaced
                in s.execute(select(Person.display_name, Vote.choice, Vote.reason,
                                    Vote.replaced_at)
                             .join(Person, Person.id == Vote.person_id)
                             .where(Vote.proposal_id == proposal_id).order_by(Vote.id))]


def audits(bot: Bot, verb: str) -> list[dict[str, object]]:
    with bot.sessions() as s:
        return [a.detail for a in s.scalars(select(AuditLog).where(
            AuditLog.entity == "proposal", AuditLog.verb == verb).order_by(AuditLog.id))]


def proposal(bot: Bot, pid: int = 1) -> Proposal:
    with bot.sessions() as s:
        found = s.get(Proposal, pid)
        assert found is not None
        return found


def only_proposal_keys(sender: RecordingSender) -> list[tuple[str, str]]:
    """(channel, key) of what a tick sent about proposals: their posts and reminders."""
    return [(ch.channel_id, key) for ch, _text, key in sender.sent
            if "proposal" in key]


# --- who may open ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "group", "refusal"),
    [
        ("bea", "boc", None),  # a BoC member
        ("sam", "boc", None),  # the secretariat
        ("root", "boc", None),  # an admin
        ("alice", "replication", None),  # a chair, for her own group
        ("root", "replication", None),
        ("alice", "boc", "Only a BoC member, the secretariat or an admin can do proposal open "
                         "in boc."),
        ("bob", "boc", "Only a BoC member, the secretariat or an admin"),
        ("bob", "replication", "Only a chair of replication or an admin can do proposal open "
                               "in replication."),  # a plain member
        ("dan", "replication", "Only a chair of replication"),  # a BoC member, plain here
        ("carl", "replication", "Only a chair of replication"),  # another group's chair
        ("sam", "replication", "Only a chair of replication"),
    ],
)
def test_who_may_open(board: Bot, who: str, group: str, refusal: str | None) -> None:
    line = f"proposal open {group} Adopt the replication guide"
    if refusal is not None:
        refused(board, who, line, refusal)
        return
    reply = board.ask(who, None, line)
    out = render_reply(reply)
    members = {"boc": 3, "replication": 3}[group]
    assert not reply.error and not reply.private, out
    assert f"Opened P-1 in {group} for its {members} members: Adopt the replication guide" in out
    assert [p.group_slug for p in reply.posts] == [group]
    with board.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ProposalVoter)) == members
    assert audits(board, "open") == [{"group": group, "kind": "consent", "voters": members,
                                     "targets": []}]


def test_defaults_consent_seven_days_at_the_meeting_hour_and_the_group_s_quorum(
        board: Bot) -> None:
    board.admin("tg settings replication quorum 75%")
    out = said(board, "alice", "proposal open replication Adopt the replication guide")
    assert ("Rule: consent: passes with quorum and no block. Quorum: 75% of 3 members. "
            "Closes Sat 05 Dec 2026 10:00 CET.") in out
    # Communication meets at 14:00
    out = said(board, "carl", "proposal open comms Publish the newsletter")
    assert "Quorum: 50% of 1 member. Closes Sat 05 Dec 2026 14:00 CET." in out
    p1, p2 = proposal(board, 1), proposal(board, 2)
    assert (p1.kind, p1.quorum_pct, p1.anonymous, p1.hidden) == ("consent", 75, False, False)
    assert p2.closes_at == dt.datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def test_everything_said_on_one_line(board: Bot) -> None:
    reply = board.ask("bea", None, 'proposal open boc "Adopt a venue for the next meeting" '
                      "for replication, comms kind majority "
                      "closes 2026-12-10 17:30 quorum 60% anonymous hidden")
    out = render_reply(reply)
    assert not reply.error, out
    p = proposal(board)
    assert (p.title, p.kind, p.options, p.quorum_pct, p.anonymous, p.hidden) == (
        "Adopt a venue for the next meeting", "majority", [], 60, True, True)
    assert p.closes_at == dt.datetime(2026, 12, 10, 16, 30, tzinfo=UTC)
    assert "If it passes it becomes a decision for replication, comms." in out
    assert "Votes are anonymous" in out and "The tally is hidden until the close." in out
    [buttons] = [b for b in reply.posts[0].blocks if isinstance(b, Buttons)]
    assert [b.command for b in buttons.buttons] == [
        "vote P-1 agree", "vote P-1 abstain", "vote P-1 disagree", "vote P-1 block"]
    # a poll on one line too, with an option of two words
    reply = board.ask("bea", None, 'proposal open boc "Pick a venue for the next meeting" '
                      "kind poll options Lisbon | New York | Riga closes 2026-12-10 17:30")
    assert not reply.error, render_reply(reply)
    [buttons] = [b for b in reply.posts[0].blocks if isinstance(b, Buttons)]
    assert [b.command for b in buttons.buttons] == [
        "vote P-2 Lisbon", "vote P-2 New York", "vote P-2 Riga"]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("proposal open boc Adopt kind sortition", "kind is one of consent, majority, "
                                                   "consensus, poll."),
        ("proposal open boc Adopt options Lisbon | Oslo",
         "options are for a poll: kind poll options a | b."),
        ("proposal open boc Pick kind poll options a | b for comms",
         "A poll has a winner, not a decision: for is for the other kinds."),
        ("proposal open boc Adopt kind majority options a | b",
         "options are for a poll: kind poll options a | b."),
        ("proposal open boc Venue kind poll", "A poll needs its options: options a | b | c."),
        ("proposal open boc Venue kind poll options Lisbon",
         "A poll has two options at least, separated by |."),
        ("proposal open boc Venue kind poll options Lisbon | | Oslo",
         "A poll has two options at least, separated by |."),
        ("proposal open boc Venue kind poll options Oslo | oslo", "Each option is named once."),
        ("proposal open boc Adopt quorum 900%", "quorum is a percentage from 0 to 100, like 50%."),
        ("proposal open boc Adopt quorum -5%", "quorum is a percentage from 0 to 100"),
        ("proposal open boc Adopt quorum half", "quorum is a percentage from 0 to 100"),
        ("proposal open boc Adopt closes 2026-11-01",
         "Sun 01 Nov 2026 10:00 CET is past: a proposal closes later than now."),
        ("proposal open boc Adopt closes 2026-11-28 09:00",
         "Sat 28 Nov 2026 09:00 CET is past: a proposal closes later than now."),
        ("proposal open boc Adopt closes 2028-01-01", "A proposal stays open a year at most."),
        ("proposal open boc Adopt closes", "closes takes a date"),
        ("proposal open boc Adopt for nowhere", "Unknown group 'nowhere'."),
        ("proposal open boc Adopt for replication, nowhere", "Unknown group 'nowhere'."),
        ("proposal open boc", "Missing the title."),
        ('proposal open boc ""', "Missing the title."),
        ("proposal open boc kind majority", "Missing the title."),
        ("proposal open nowhere Adopt", "Unknown group 'nowhere'."),
        ("proposal open boc Adopt anonymous please", "anonymous takes no value."),
        ("proposal open boc Adopt kind consent kind majority", "kind is written twice."),
        ("proposal open boc " + "x" * 1000, "title"),
    ],
)
def test_bad_input_gets_one_message_and_the_usage_and_writes_nothing(
        board: Bot, line: str, message: str) -> None:
    out = refused(board, "bea", line, message)
    lines = out.splitlines()
    assert len(lines) == 2 and lines[1] == OPEN_USAGE, out


def test_a_group_with_no_members_no_channel_or_archived(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create tf Task Force")
    refused(bot, "root", "proposal open tf Adopt the plan", "tf has no members to vote.",
            usage=False)
    bot.admin("tg add tf @ann")
    out = said(bot, "root", "proposal open tf Adopt the plan")
    # without a meeting series it closes at noon; nobody is told but the opener
    assert "Closes" not in out and re.search(r"Opened P-\d+ in tf for its 1 member", out)
    assert re.search(r"tf has no channel linked: tell its members to vote with "
                     r"vote P-\d+ <choice>\.", out)
    with bot.sessions() as s:
        p = s.scalars(select(Proposal)).one()
        assert p.closes_at == dt.datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    bot.admin("tg archive tf")
    refused(bot, "root", "proposal open tf Another plan", "tf is archived.", usage=False)


# --- the grammar under Hypothesis: no exception escapes, nothing is written on error -------

HEADS = ["proposal open boc", "proposal open replication", "proposal open", "vote P-1",
         "vote 1", "vote P-2", "proposal extend P-1", "proposal close", "proposal show",
         "proposal list", "proposal remind", "vote"]
GRAMMAR = ["for", "kind", "options", "closes", "quorum", "anonymous", "hidden", "consent",
           "majority", "consensus", "poll", "sortition", "|", "Lisbon", "New", "York",
           '"New York"', "agree", "abstain", "disagree", "block", "50%", "900%", "-1", "0%",
           "100", "2026-12-01", "2026-11-01", "17:00", "25:61", "tomorrow", "friday", "in",
           "2", "weeks", "boc", "replication", "comms", "nowhere", "replication,comms",
           ",", "P-1", "P-999999999999", '"quoted"', '""', "x" * 300, "\x00", "²", "٣",
           "open", "closed"]
fuzz_line = st.tuples(
    st.sampled_from(HEADS),
    st.lists(st.one_of(st.sampled_from(GRAMMAR),
                       st.text(st.characters(blacklist_categories=["Cs"]), min_size=1,
                               max_size=10)), max_size=10),
).map(lambda t: " ".join([t[0], *t[1]]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(line=fuzz_line, who=st.sampled_from(["bea", "alice", "bob", "root"]))
def test_any_proposal_line_is_answered_and_an_error_writes_nothing(
        sqlite_engine: Engine, line: str, who: str) -> None:
    now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    bot = Bot(sqlite_engine, now, preset=False)  # one store for all the examples
    if not bot.counts()["groups"]:
        bot = Bot(sqlite_engine, now, preset=True)
        seed(bot)
        said(bot, "bea", "proposal open boc Venue kind poll options Lisbon | New York")
    before = bot.counts()
    reply = bot.ask(who, None, line)
    out = render_reply(reply)
    assert "something went wrong" not in out.lower(), (line, out)
    assert out.strip(), line
    if reply.error:
        assert bot.counts() == before, (line, out)


# --- votes -------------------------------------------------------------------------------------


def test_a_vote_and_a_changed_vote_keep_their_history(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    out = said(board, "cy", "vote P-1 agree")
    assert out.splitlines() == ["Your vote on P-1: agree.",
                                "1 agree, 0 abstain, 0 disagree, 0 block; 1 of 3 voted"]
    out = said(board, "cy", "vote 1 Disagree the guide is not ready")
    assert out.splitlines()[0] == "Your vote on P-1: disagree (was agree)."
    assert votes(board) == [("cy", "agree", "", True),
                            ("cy", "disagree", "the guide is not ready", False)]
    # the same vote again changes nothing
    before = board.counts()
    assert said(board, "cy", "vote P-1 disagree the guide is not ready") == (
        "Your vote on P-1 stays disagree.")
    assert board.counts() == before
    assert audits(board, "vote") == [{"changed": False}, {"changed": True}]
    assert "disagree: @cy" in said(board, "bea", "proposal show P-1")


def test_a_button_votes_as_its_command(board: Bot) -> None:
    reply = board.ask("bea", None, BOC_PROPOSAL)
    [buttons] = [b for b in reply.posts[0].blocks if isinstance(b, Buttons)]
    assert [(b.label, b.command) for b in buttons.buttons] == [
        ("agree", "vote P-1 agree"), ("abstain", "vote P-1 abstain"),
        ("disagree", "vote P-1 disagree"), ("block", "vote P-1 block")]
    assert buttons.buttons[3].style == "danger"
    said(board, "dan", buttons.buttons[3].command, channel="#boc")
    assert votes(board) == [("dan", "block", "", False)]


@pytest.mark.parametrize(
    ("who", "line", "expected", "usage"),
    [
        ("cy", "vote P-1 maybe", "P-1 takes agree or abstain or disagree or block, not 'maybe'.",
         True),
        ("cy", "vote P-1 Lisbon", "not 'Lisbon'", True),
        ("cy", "vote P-1", "Missing <choice>.", True),
        ("cy", "vote P-9 agree", "No proposal P-9.", True),
        ("cy", "vote P-x agree", "'P-x' is not a proposal id", True),
        ("alice", "vote P-1 agree", "Only those who were members of boc when P-1 opened may vote on it.", False),
        ("sam", "vote P-1 agree", "Only those who were members of boc when P-1 opened may vote on it.", False),
        ("cy", "vote P-1 agree " + "x" * 5000, "reason", True),
    ],
)
def test_refused_votes_write_nothing(board: Bot, who: str, line: str, expected: str,
                                     usage: bool) -> None:
    said(board, "bea", BOC_PROPOSAL)
    refused(board, who, line, expected, usage=usage)


def test_no_vote_after_the_close(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    said(board, "bea", "proposal open boc Second question closes 2026-12-01 17:00")
    said(board, "bea", "proposal close P-1")
    refused(board, "cy", "vote P-1 agree", "P-1 is closed: it takes no more votes.",
            usage=False)
    # past its deadline, before any tick closed it
    board.now = CLOSES
    refused(board, "cy", "vote P-2 agree", "P-2 is closed: it takes no more votes.",
            usage=False)


def test_the_electorate_is_frozen_at_opening(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    board.admin("tg add boc @eve")
    refused(board, "eve", "vote P-1 agree", "Only those who were members of boc when P-1 opened may vote on it.",
            usage=False)
    # who left after opening still votes
    board.admin("tg remove boc @dan")
    said(board, "dan", "vote P-1 agree")
    assert votes(board) == [("dan", "agree", "", False)]
    assert "1 of 3 voted" in said(board, "bea", "proposal show P-1")


def test_a_poll_option_in_any_case_and_of_several_words(board: Bot) -> None:
    said(board, "bea", "proposal open boc Venue kind poll options Lisbon | New York | Riga")
    assert said(board, "cy", "vote P-1 lisbon").splitlines() == [
        "Your vote on P-1: Lisbon.", "1 Lisbon, 0 New York, 0 Riga; 1 of 3 voted"]
    said(board, "dan", "vote P-1 new YORK closer for most of us")  # as typed, or its button
    said(board, "bea", 'vote P-1 "New York"')
    assert votes(board) == [("cy", "Lisbon", "", False),
                            ("dan", "New York", "closer for most of us", False),
                            ("bea", "New York", "", False)]
    refused(board, "cy", "vote P-1 agree", "P-1 takes Lisbon or New York or Riga, not 'agree'.")
    refused(board, "cy", "vote P-1 New Jersey", "not 'New'")


# --- show and list -----------------------------------------------------------------------------


def test_show_says_who_has_voted_and_who_has_not(board: Bot) -> None:
    said(board, "alice", "proposal open replication Adopt the guide kind majority")
    said(board, "bob", "vote P-1 agree")
    said(board, "dan", "vote P-1 block")
    out = said(board, "carl", "proposal show P-1")
    assert out.splitlines()[:5] == [
        "== Proposal P-1 in Replication: Adopt the guide ==",
        "Rule: majority: passes with quorum and more agree than disagree; quorum 50%.",
        "Open; closes Sat 05 Dec 2026 10:00 CET.",
        "1 agree, 0 abstain, 0 disagree, 1 block; 2 of 3 voted",
        "agree: @bob",
    ]
    assert "block: @dan" in out and "Not voted yet: @alice." in out
    said(board, "alice", "proposal close P-1")
    out = said(board, "carl", "proposal show P-1")
    assert "Passed (1 agree, 0 abstain, 0 disagree, 1 block; 2 of 3 voted)." in out
    assert "agree: @bob" in out and "Not voted yet" not in out


def test_an_anonymous_show_names_no_one(board: Bot) -> None:
    said(board, "alice", "proposal open replication Adopt the guide anonymous")
    said(board, "bob", "vote P-1 agree")
    said(board, "dan", "vote P-1 block")
    for closed in (False, True):
        out = said(board, "carl", "proposal show P-1")
        assert "1 agree, 0 abstain, 0 disagree, 1 block; 2 of 3 voted" in out
        for name in ("@alice", "@bob", "@dan", "Not voted yet"):
            assert name not in out
        if not closed:
            said(board, "alice", "proposal close P-1")


def test_a_hidden_tally_is_shown_only_once_closed(board: Bot) -> None:
    said(board, "alice", "proposal open replication Adopt the guide hidden")
    assert said(board, "bob", "vote P-1 agree") == "Your vote on P-1: agree."
    said(board, "dan", "vote P-1 block")
    out = said(board, "carl", "proposal show P-1")
    assert "2 of 3 voted; the tally is hidden until the close." in out
    assert not re.search(r"\d agree,|\d block;", out), out
    assert "agree: @bob" not in out and "block: @dan" not in out
    assert "Not voted yet: @alice." in out  # who has not voted is no tally
    said(board, "alice", "proposal close P-1")
    out = said(board, "carl", "proposal show P-1")
    assert "Not passed (1 agree, 0 abstain, 0 disagree, 1 block; 2 of 3 voted)." in out
    assert "agree: @bob" in out and "block: @dan" in out


def test_list_newest_first_by_group_and_state(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    said(board, "alice", "proposal open replication Adopt the kit")
    said(board, "carl", "proposal open comms Publish the newsletter kind majority")
    said(board, "carl", "vote P-3 agree")
    said(board, "carl", "proposal close P-3")

    def ids(line: str) -> list[str]:
        return re.findall(r"^(P-\d+) ", said(board, "bob", line), re.MULTILINE)

    assert ids("proposal list") == ["P-3", "P-2", "P-1"]
    assert ids("proposal list replication") == ["P-2"]
    assert ids("proposal list open") == ["P-2", "P-1"]
    assert ids("proposal list closed") == ["P-3"]
    assert ids("proposal list comms closed") == ["P-3"]
    assert said(board, "bob", "proposal list comms open") == "No proposals."
    out = said(board, "bob", "proposal list")
    assert re.search(r"P-3 +comms +Publish the newsletter +majority +Sat 28 Nov 2026 10:00 CET"
                     r" +passed", out), out
    assert re.search(r"P-1 +boc +Adopt the replication guide +consent +Tue 01 Dec 2026 "
                     r"17:00 CET +open", out), out


# --- close, extend, remind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opener", "closer", "allowed"),
    [
        ("alice", "alice", True),  # the opener
        ("root", "alice", True),  # a chair of its group
        ("root", "sam", True),  # the secretariat
        ("root", "root", True),
        ("alice", "bob", False),  # a member
        ("alice", "carl", False),  # another group's chair
        ("alice", "bea", False),  # a BoC member
    ],
)
def test_close_by_its_opener_or_a_chair(board: Bot, opener: str, closer: str,
                                        allowed: bool) -> None:
    said(board, opener, "proposal open replication Adopt the kit kind majority")
    said(board, "bob", "vote P-1 agree")
    said(board, "dan", "vote P-1 agree")
    if not allowed:
        refused(board, closer, "proposal close P-1",
                "Only its opener, a chair of replication, the secretariat or an admin can do "
                "proposal close.")
        assert proposal(board).status == "open"
        return
    reply = board.ask(closer, "#replication", "proposal close P-1")
    out = render_reply(reply)
    assert not reply.error and not reply.private, out
    assert out.splitlines()[:2] == [
        "Closed P-1.", "Passed (2 agree, 0 abstain, 0 disagree, 0 block; 2 of 3 voted)."]
    [post] = reply.posts
    assert post.group_slug == "replication"
    assert "agree: @bob, @dan" in render_blocks(list(post.blocks))
    p = proposal(board)
    assert (p.status, p.outcome, p.closed_at) == ("closed", "passed", board.now)
    assert audits(board, "close")[0]["outcome"] == "passed"
    refused(board, closer, "proposal close P-1", "P-1 is closed already.", usage=False)


def test_extend_moves_the_deadline_and_replans_the_reminder(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    said(board, "cy", "vote P-1 agree")
    refused(board, "cy", "proposal extend P-1 2026-12-03", "Only its opener")
    refused(board, "bea", "proposal extend P-1 2026-11-27", "is past", usage=True)
    sender = RecordingSender()
    engine = engine_for(board, sender)
    # a day before the first deadline the reminders are planned, not sent yet
    board.now = CLOSES - dt.timedelta(hours=23, minutes=30)
    engine.plan(board.now, TickResult())
    with board.sessions() as s:
        planned = sorted(s.scalars(select(Outbox.channel_id).where(
            Outbox.kind == "proposal_reminder")))
    assert planned == ["dm:bea", "dm:dan"]
    reply = board.ask("bea", None, "proposal extend P-1 2026-12-03 17:00")
    out = render_reply(reply)
    assert out.startswith("P-1 now closes Thu 03 Dec 2026 17:00 CET."), out
    assert [p.group_slug for p in reply.posts] == ["boc"]
    [moved] = audits(board, "extend")
    assert (dt.datetime.fromisoformat(str(moved["old"])),
            dt.datetime.fromisoformat(str(moved["new"]))) == (
        CLOSES, CLOSES + dt.timedelta(days=2))
    # the reminders for the old deadline say nothing; the new deadline's go out a day before
    run_ticks(engine, board, board.now + dt.timedelta(minutes=1),
              dt.datetime(2026, 12, 3, 17, 0, tzinfo=UTC), dt.timedelta(minutes=30))
    with board.sessions() as s:
        rows = sorted((o.key.split(":")[2], o.channel_id, o.status) for o in s.scalars(
            select(Outbox).where(Outbox.kind == "proposal_reminder")))
    old, new = str(int(CLOSES.timestamp())), str(int(CLOSES.timestamp()) + 2 * 86400)
    assert rows == [(old, "dm:bea", "skipped"), (old, "dm:dan", "skipped"),
                    (new, "dm:bea", "sent"), (new, "dm:dan", "sent")]
    reminders = [(ch.channel_id, text) for ch, text, key in sender.sent
                 if key.startswith("proposal_reminder")]
    assert [ch for ch, _ in reminders] == ["dm:bea", "dm:dan"]
    assert all("It closes Thu 03 Dec 2026 17:00 CET." in text for _, text in reminders)
    # closed at the new deadline, not the old one
    p = proposal(board)
    assert p.status == "closed" and p.closed_at is not None
    new_close = CLOSES + dt.timedelta(days=2)
    assert new_close <= p.closed_at < new_close + dt.timedelta(minutes=30)
    refused(board, "bea", "proposal extend P-1 2026-12-20", "P-1 is closed already.",
            usage=False)


def test_remind_those_who_have_not_voted_each_personally(board: Bot) -> None:
    said(board, "alice", "proposal open replication Adopt the kit")
    said(board, "bob", "vote P-1 agree")
    refused(board, "bob", "proposal remind P-1", "Only its opener")
    reply = board.ask("alice", "#replication", "proposal remind P-1")
    out = render_reply(reply)
    assert not reply.error and reply.private, out
    assert out.splitlines()[0] == "Reminded 2 people who have not voted on P-1."
    assert sorted(ch.channel_id for post in reply.posts for ch in post.channels) == [
        "dm:alice", "dm:dan"]
    text = render_blocks(list(reply.posts[0].blocks))
    assert "You have not voted on P-1 in Replication yet: Adopt the kit" in text
    assert audits(board, "remind") == [{"people": 2}]
    said(board, "alice", "vote P-1 agree")
    said(board, "dan", "vote P-1 abstain")
    assert said(board, "alice", "proposal remind P-1") == "Everyone has voted on P-1."
    said(board, "alice", "proposal close P-1")
    refused(board, "alice", "proposal remind P-1", "P-1 is closed already.", usage=False)


# --- the close and the reminder in a delivery tick ---------------------------------------------


def test_at_the_deadline_the_outcome_is_posted_once_and_the_decision_reaches_both_groups(
        board: Bot) -> None:
    board.admin("tg link replication", channel="#repl-2")
    said(board, "bea", BOC_PROPOSAL)
    said(board, "cy", "vote P-1 agree")
    said(board, "dan", "vote P-1 agree")
    said(board, "bea", "vote P-1 abstain")
    sender = RecordingSender()
    engine = engine_for(board, sender)
    start, end = CLOSES - dt.timedelta(hours=2), CLOSES + dt.timedelta(hours=2)
    run_ticks(engine, board, start, end, dt.timedelta(minutes=15))
    sent = only_proposal_keys(sender)
    assert sent == [("#boc", "post:proposal-close:1:0:shell:#boc"),
                    ("#replication", "post:proposal-close:1:1:shell:#replication"),
                    ("#repl-2", "post:proposal-close:1:1:shell:#repl-2"),
                    ("#comms", "post:proposal-close:1:2:shell:#comms"),
                    ("#boc", "post:proposal-close:1:3:shell:#boc")]
    texts = {key: text for _ch, text, key in sender.sent}
    closing = texts["post:proposal-close:1:0:shell:#boc"]
    assert closing.splitlines() == [
        "== Proposal P-1 is closed: Adopt the replication guide ==",
        "Passed (2 agree, 1 abstain, 0 disagree, 0 block; 3 of 3 voted).",
        "Rule: consent: passes with quorum and no block; quorum 50%.",
        "agree: @cy, @dan",  # in the order the choices are offered
        "abstain: @bea",
        "It is now decision D-1, posted to replication, comms.",
    ]
    decision_post = texts["post:proposal-close:1:1:shell:#replication"]
    assert "BoC decision D-1" in decision_post and "decision ack D-1" in decision_post
    # the tick closed it at the deadline, once
    p = proposal(board)
    assert (p.status, p.outcome, p.closed_at, p.closed_by_id, p.decision_id) == (
        "closed", "passed", CLOSES, None, 1)
    assert audits(board, "close") == [{"outcome": "passed", "by": None}]
    with board.sessions() as s:
        targets = s.execute(select(Group.slug, DecisionTarget.acked_at).join(
            Group, Group.id == DecisionTarget.group_id).order_by(DecisionTarget.id)).all()
    assert [(slug, acked) for slug, acked in targets] == [("replication", None),
                                                           ("comms", None)]
    out = said(board, "alice", "decision show D-1")
    assert ("Decided by a vote, proposal P-1 (consent): 2 agree, 1 abstain, 0 disagree, "
            "0 block; 3 of 3 voted.") in out
    assert "It became decision D-1." in said(board, "alice", "proposal show P-1")
    # the targets acknowledge it as any decision
    assert "acknowledged D-1 for replication" in said(board, "alice", "decision ack D-1")
    # another pass over the same times, as another process would tick, posts nothing more
    run_ticks(engine, board, start, end, dt.timedelta(minutes=15))
    assert only_proposal_keys(sender) == sent


@pytest.mark.parametrize(
    ("opening", "ballots", "outcome", "line"),
    [
        ("", [("cy", "agree"), ("dan", "block")], "failed",
         "Not passed (1 agree, 0 abstain, 0 disagree, 1 block; 2 of 3 voted)."),
        ("", [("cy", "agree")], "no_quorum",
         "Not decided: the quorum of 50% was not met (1 agree, 0 abstain, 0 disagree, "
         "0 block; 1 of 3 voted)."),
        ("", [], "no_quorum", "Not decided: the quorum of 50% was not met"),
        ("kind majority", [("cy", "agree"), ("dan", "disagree")], "failed",
         "Not passed (1 agree, 0 abstain, 1 disagree, 0 block; 2 of 3 voted)."),
        ("kind consensus", [("cy", "agree"), ("dan", "agree"), ("bea", "disagree")], "failed",
         "Not passed (2 agree, 0 abstain, 1 disagree, 0 block; 3 of 3 voted)."),
        ("kind consent quorum 100%", [("cy", "agree"), ("dan", "agree")], "no_quorum",
         "Not decided: the quorum of 100% was not met"),
        ("kind poll options Lisbon | Oslo | Riga",
         [("cy", "Lisbon"), ("dan", "Oslo")], "tie",
         "A tie between Lisbon, Oslo (1 Lisbon, 1 Oslo, 0 Riga; 2 of 3 voted)."),
        ("kind poll options Lisbon | Oslo | Riga",
         [("cy", "Oslo"), ("dan", "Oslo"), ("bea", "Riga")], "winner",
         "Oslo wins (0 Lisbon, 2 Oslo, 1 Riga; 3 of 3 voted)."),
    ],
    ids=["block", "no quorum", "no vote", "majority tie", "consensus disagree",
         "quorum 100%", "poll tie", "poll winner"],
)
def test_the_tick_closes_by_the_rule_and_only_a_pass_becomes_a_decision(
        board: Bot, opening: str, ballots: list[tuple[str, str]], outcome: str,
        line: str) -> None:
    # a poll has a winner, never a decision: it takes no targets
    opened = BOC_PROPOSAL.replace(" for replication,comms", "") if "poll" in opening \
        else BOC_PROPOSAL
    said(board, "bea", f"{opened} {opening}")
    for who, choice in ballots:
        said(board, who, f"vote P-1 {choice}")
    sender = RecordingSender()
    board.now = CLOSES
    engine_for(board, sender).tick(CLOSES)
    [closing] = [text for _ch, text, key in sender.sent if "proposal-close" in key]
    assert line in closing
    assert "decision" not in closing
    assert proposal(board).outcome == outcome
    with board.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DecisionTarget)) == 0
    assert line.split(" (")[0] in said(board, "cy", "proposal show P-1")


def test_the_reminder_a_day_before_to_each_who_has_not_voted_once(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    said(board, "cy", "vote P-1 agree")
    sender = RecordingSender()
    engine = engine_for(board, sender)
    run_ticks(engine, board, dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
              CLOSES + dt.timedelta(hours=1), dt.timedelta(hours=1))
    reminders = [(ch.channel_id, key) for ch, _t, key in sender.sent
                 if key.startswith("proposal_reminder")]
    assert sorted(ch for ch, _ in reminders) == ["dm:bea", "dm:dan"]  # personal, not cy
    with board.sessions() as s:  # sent by the first tick a day or less before the close
        sent_at = set(s.scalars(select(Outbox.sent_at).where(
            Outbox.kind == "proposal_reminder")))
    assert sent_at == {CLOSES - dt.timedelta(hours=24)}
    text = next(t for _c, t, key in sender.sent if key.startswith("proposal_reminder"))
    assert text.splitlines()[:2] == [
        "== You have not voted on P-1 in Board of Coordinators yet: "
        "Adopt the replication guide ==",
        "It closes Tue 01 Dec 2026 17:00 CET. Rule: consent: passes with quorum and no block.",
    ]
    # a second pass over the window reminds no one again
    run_ticks(engine, board, CLOSES - dt.timedelta(hours=24), CLOSES - dt.timedelta(hours=1),
              dt.timedelta(hours=1))
    assert len([k for _c, _t, k in sender.sent if k.startswith("proposal_reminder")]) == 2


def test_whoever_votes_after_the_reminder_is_planned_is_not_reminded(board: Bot) -> None:
    said(board, "bea", BOC_PROPOSAL)
    sender = RecordingSender()
    engine = engine_for(board, sender)
    board.now = CLOSES - dt.timedelta(hours=23)
    engine.plan(board.now, TickResult())
    said(board, "dan", "vote P-1 agree")
    engine.tick(board.now)
    sent = sorted(ch.channel_id for ch, _t, key in sender.sent
                  if key.startswith("proposal_reminder"))
    assert sent == ["dm:bea", "dm:cy"]


# --- votes by mail -----------------------------------------------------------------------------


def test_a_mail_reply_word_is_a_vote_on_the_proposal_it_answers() -> None:
    reg = build_registry()
    assert reg.expand("proposal:3", "agree") == "vote 3 agree"
    assert reg.expand("proposal:3", "Block not before the audit") == (
        "vote 3 block not before the audit")
    assert reg.expand("proposal:3", "abstain") == "vote 3 abstain"
    assert reg.expand("proposal:3", "vote 4 disagree") == "vote 4 disagree"  # written out
    assert reg.expand("proposal:3", "maybe") == "maybe"


ANA = "ana@lighthouse.eu"


@pytest.fixture
def wired(bot: Bot) -> Iterator[Wired]:
    """The mail adapter as ``taskbot run`` wires it (tests/email/wiring.py), against a real
    SMTP server and a real Dovecot of the test's own."""
    if not dovecot.available():
        pytest.skip("dovecot is not installed (make test installs dovecot-imapd)")
    smtp = start(MailServer())
    imap = dovecot.start()
    w = Wired(bot, smtp, imap)
    try:
        yield w
    finally:
        w.mail.close()
        dovecot.stop(imap)
        stop(smtp)


def reply_to(original: EmailMessage, body: str) -> bytes:
    """Ana's reply as her client writes it: threading headers, the original quoted."""
    msg = EmailMessage()
    msg["From"] = f"Ana Alves <{ANA}>"
    msg["To"] = BOT
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="lighthouse.eu")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = f"{original.get('References', '')} {original['Message-ID']}".strip()
    text = original.get_body(preferencelist=("plain",))
    assert text is not None
    quoted = "\n".join("> " + line for line in str(text.get_content()).splitlines())
    msg.set_content(f"{body}\n\nOn Sat, 28 Nov 2026, Taskbot <{BOT}> wrote:\n{quoted}\n")
    return msg.as_bytes()


def body_of(mail: EmailMessage) -> str:
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    return str(text.get_content())


def test_a_vote_by_mail_reply(bot: Bot, wired: Wired) -> None:
    seed(bot)
    bot.admin(f"tg add replication {ANA} project Lighthouse One")
    said(bot, "alice", "proposal open replication Adopt the replication kit "
                       "closes 2026-11-29 17:00")
    wired.tick()
    [opening] = wired.smtp.to(ANA)
    assert "Proposal P-1 in Replication" in body_of(opening)
    wired.append(reply_to(opening, "Block not before the privacy review"))
    [handled] = wired.inbox.check()
    assert not handled.ignored
    assert votes(bot) == [("ana", "block", "not before the privacy review", False)]
    with bot.sessions() as s:
        assert s.scalar(select(Vote.via)) == "email"
    wired.tick()
    assert "Your vote on P-1: block." in body_of(wired.smtp.to(ANA)[-1])
    # the reminder a day before reaches her by mail too, and a reply to it votes as well
    said(bot, "alice", "proposal open replication Adopt the kit closes 2026-11-29 17:00")
    bot.now = dt.datetime(2026, 11, 28, 16, 30, tzinfo=UTC)
    wired.tick()
    # one reminder, for P-2: she voted on P-1, which closes at the same time
    [reminder] = [m for m in wired.smtp.to(ANA) if "You have not voted" in body_of(m)]
    assert "You have not voted on P-2 in Replication yet: Adopt the kit" in body_of(reminder)
    wired.append(reply_to(reminder, "agree"))
    wired.inbox.check()
    assert votes(bot, 2) == [("ana", "agree", "", False)]


# --- an anonymous tally shows no names anywhere ------------------------------------------------


def test_an_anonymous_tally_names_no_voter_anywhere(board: Bot) -> None:
    """Opened by the secretariat (its name is on the decision), voted by the Board: no
    voter's name in any reply, post, closing post, decision, list, report or export."""
    seen: list[str] = []

    def keep(who: str, line: str, channel: str | None = None) -> Reply:
        reply = board.ask(who, channel, line)
        assert not reply.error, render_reply(reply)
        seen.append(render_reply(reply))
        for block in reply.blocks:
            if isinstance(block, File):
                seen.append(block.content.decode("utf-8", "replace") if block.name.endswith(
                    (".md", ".html", ".csv", ".json")) else "")
        return reply

    keep("sam", f"{BOC_PROPOSAL} anonymous", channel="#boc")
    keep("cy", "vote P-1 agree", channel="#boc")
    keep("dan", "vote P-1 disagree", channel="#boc")
    keep("dan", "vote P-1 agree changed my mind", channel="#boc")
    keep("bea", "vote P-1 abstain")
    keep("sam", "proposal show P-1")
    keep("cy", "proposal show P-1", channel="#boc")
    keep("sam", "proposal list")
    sender = RecordingSender()
    board.now = CLOSES
    engine_for(board, sender).tick(CLOSES)
    closing = [text for _ch, text, key in sender.sent if "proposal-close" in key]
    assert len(closing) == 4 and "Passed (2 agree, 1 abstain" in closing[0]
    seen += closing
    seen += [render_blocks(blocks) for _ch, blocks in board.posted]
    keep("sam", "proposal show P-1")
    keep("bea", "decision show D-1")
    keep("sam", "secretariat report")
    with board.sessions() as s:
        ids = {name: pid for name, pid in s.execute(select(Person.display_name, Person.id))}
    for who in ("cy", "sam"):  # a voter's export, and the opener's
        reply = board.ask(who, None, "me export")
        [file] = [b for b in reply.blocks if isinstance(b, File)]
        data = json.loads(file.content)
        assert [v["person_id"] for v in data["tables"].get("votes", [])] == (
            [ids["cy"]] if who == "cy" else [])
        for other in ("bea", "cy", "dan"):
            if other != who:
                assert f'"{other}"' not in file.content.decode(), (who, other)
    for text in seen:
        for voter in ("@bea", "@cy", "@dan"):
            assert voter not in text, text


def test_the_longest_option_wins_over_a_shorter_one_it_starts_with(board: Bot) -> None:
    """Options ``New`` and ``New York``: the button ``vote P-1 New York`` is New York, not New
    with the reason "York"."""
    said(board, "bea", "proposal open boc Pick a city kind poll options New | New York")
    assert "Your vote on P-1: New York." in said(board, "cy", "vote P-1 New York")
    assert "Your vote on P-1: New." in said(board, "dan", "vote P-1 new")
    with board.sessions() as s:
        votes = dict(s.execute(select(Vote.choice, Vote.reason)
                               .where(Vote.replaced_at.is_(None))).all())
    assert votes == {"New York": "", "New": ""}


def test_past_its_deadline_a_proposal_is_closed_before_any_tick_posts_it(board: Bot) -> None:
    """Between the deadline and the tick that closes it, nothing reopens it: no extend (it
    would take votes again), no reminder, no vote."""
    said(board, "bea", BOC_PROPOSAL)
    board.now = CLOSES + dt.timedelta(minutes=1)
    refused(board, "bea", "proposal extend P-1 2026-12-20", "P-1 is closed already.",
            usage=False)
    refused(board, "bea", "proposal remind P-1", "P-1 is closed already.", usage=False)
    refused(board, "cy", "vote P-1 agree", "P-1 is closed: it takes no more votes.",
            usage=False)
    assert proposal(board).status == "open"  # its tick has not come yet
