"""Dialog tables for ``decision``: post and fan-out, register, acknowledgements, links."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.messages import Buttons, ChannelRef, Reply
from storage.models import TEXT_MAX, Action, ActionAssignee, AuditLog, DecisionTarget, Identity
from tests.support.dialog import Bot


def seed(bot: Bot) -> None:
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg create repl Replication")
    bot.admin("tg create comms Communication and Dissemination")
    bot.admin("tg create data Data Management")
    bot.admin("tg link boc", channel="#boc")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg link repl", channel="#repl-2")
    bot.admin("tg link comms", channel="#comms")
    bot.admin("tg add boc @bea")
    bot.admin("tg add secretariat @sam")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")
    bot.admin("tg add comms @carl")
    bot.admin("tg add repl @dan")
    bot.admin("tg add comms @dan")
    bot.admin("tg add data @eve")


def person_id(bot: Bot, name: str) -> int:
    with Session(bot.engine) as s:
        pid = s.scalar(
            select(Identity.person_id).where(
                Identity.platform == "shell", Identity.external_id == name
            )
        )
        assert pid is not None
        return pid


def add_action(bot: Bot, group_id: int | None, title: str, *, status: str = "open",
               due: dt.date | None = None, assignees: tuple[str, ...] = ()) -> int:
    """An action row written directly: the action commands are another family's."""
    with Session(bot.engine) as s, s.begin():
        a = Action(group_id=group_id, title=title, status=status, due=due,
                   created_at=dt.datetime(2026, 11, 1, 9, 0))
        for name in assignees:
            a.assignees.append(ActionAssignee(person_id=person_id(bot, name)))
        s.add(a)
        s.flush()
        return a.id


@pytest.fixture
def board(bare_bot: Bot) -> Bot:
    seed(bare_bot)
    return bare_bot


def post_channels(reply: Reply) -> dict[str, list[ChannelRef]]:
    return {p.group_slug: list(p.channels) for p in reply.posts}


def test_post_fans_out_to_targets_and_boc(board: Bot) -> None:
    bot = board
    reply = bot.ask("bea", "#boc", "decision post repl,comms Adopt the replication playbook.")
    assert not reply.error and not reply.private
    out = bot.say("bea", "#boc", "decision list")  # rendering of a later query, for sanity
    assert "D-1" in out
    assert post_channels(reply) == {
        "repl": [ChannelRef("shell", "#repl"), ChannelRef("shell", "#repl-2")],
        "comms": [ChannelRef("shell", "#comms")],
        "boc": [ChannelRef("shell", "#boc")],
    }
    for post in reply.posts:
        buttons = [b for b in post.blocks if isinstance(b, Buttons)]
        assert len(buttons) == 1
        assert [(b.label, b.command) for b in buttons[0].buttons] == [
            ("Acknowledge", "decision ack D-1")
        ]
    from bot.textrender import render_reply

    text = render_reply(reply)
    assert "Recorded decision D-1 for repl, comms." in text
    assert "[shell:#repl, shell:#repl-2] > Adopt the replication playbook." in text
    assert "[shell:#comms] Posted by @bea" in text
    with Session(bot.engine) as s:
        targets = s.execute(
            select(DecisionTarget.decision_id, DecisionTarget.group_id, DecisionTarget.acked_at)
        ).all()
        assert len(targets) == 2 and all(t.acked_at is None for t in targets)
        audit = s.scalars(select(AuditLog).where(AuditLog.entity == "decision")).all()
        assert [(a.verb, a.entity_id, a.detail) for a in audit] == [
            ("post", 1, {"targets": ["repl", "comms"]})
        ]


def test_post_targets_spelled_by_name_with_spaces_and_boc_once(board: Bot) -> None:
    bot = board
    reply = bot.ask("sam", None, "decision post Data Management, boc, repl Publish the DMP template")
    assert not reply.error
    assert [p.group_slug for p in reply.posts] == ["boc", "repl"]  # data has no channel
    text = bot.say("sam", None, "decision show D-1")
    assert "Publish the DMP template" in text
    assert "data" in text and "boc" in text and "repl" in text
    out = bot.say("root", None, "decision post repl, repl Twice named, once targeted")
    assert "Recorded decision D-2 for repl." in out
    assert "Not posted" not in out
    first = bot.say("root", None, "decision show D-1")
    assert "Not posted" not in first


def test_post_reports_targets_without_channel(board: Bot) -> None:
    out = board.say("root", None, 'decision post data "Review the privacy assessments"')
    assert "Not posted to data: no channel linked" in out
    assert "> Review the privacy assessments\n" in out


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("bob", "decision post repl Do it", "Only a BoC member, the secretariat or an admin can do decision post."),
        ("bea", "decision post nowhere Do it", "Unknown group 'nowhere'."),
        ("bea", "decision post repl,nowhere Do it", "Unknown group 'nowhere'."),
        ("bea", "decision post repl,", "Missing a group after ','."),
        ("bea", "decision post repl", "Missing <text...>"),
        ("bea", "decision post", "Missing <group>."),
        ("bea", "decision post repl " + "x" * (TEXT_MAX + 1), "too long"),
        ("bea", "decision show D-9", "No decision D-9."),
        ("bea", "decision show A-1", "'A-1' is not a decision id"),
        ("bea", "decision show", "Missing <id>."),
        ("bea", "decision list since someday", "'someday'"),
        ("bea", "decision list nowhere", "Unknown group 'nowhere'."),
        ("eve", "decision ack D-1", "Only a member of repl or comms can do decision ack D-1."),
        ("bea", "decision ack D-1", "Only a member of repl or comms can do decision ack D-1."),
        ("eve", "decision ack D-1 repl", "Only a member of repl, the secretariat or an admin"),
        ("bob", "decision ack D-1 data", "D-1 is not addressed to data"),
        ("bob", "decision ack 77", "No decision D-77."),
        ("bob", "decision ack D-1 repl extra", "Unexpected 'extra'."),
        ("sam", "decision ack D-1", "name the group you acknowledge for"),
        ("bob", "decision link D-1 A-1", "Only a BoC member, a chair of repl, the secretariat or an admin can do decision link."),
        ("bea", "decision link D-1 A-42", "No action A-42."),
        ("bea", "decision link D-5 A-1", "No decision D-5."),
        ("bea", "decision link D-1", "Missing <action-id>."),
        ("bea", "decision frob", "Unknown decision subcommand 'frob'."),
    ],
)
def test_bad_input_and_refusals_write_nothing(board: Bot, who: str, line: str, expected: str) -> None:
    bot = board
    bot.say("bea", "#boc", "decision post repl,comms Adopt the replication playbook.")
    with Session(bot.engine) as s:
        repl_id = s.scalar(select(DecisionTarget.group_id).order_by(DecisionTarget.id))
    add_action(bot, repl_id, "Draft the playbook", assignees=("bob",))
    before = bot.counts()
    reply = bot.ask(who, "#general", line)
    from bot.textrender import render_reply

    out = render_reply(reply)
    assert reply.error and reply.private, out
    assert expected in out
    assert "Usage:" in out or "not addressed" in out
    assert bot.counts() == before


def test_ack_in_channel_by_membership_and_staff(board: Bot) -> None:
    bot = board
    bot.say("bea", "#boc", "decision post repl,comms,data Adopt the playbook")
    # dan is in repl and comms; in the repl channel he acknowledges for repl only
    reply = bot.ask("dan", "#repl", "decision ack D-1")
    assert not reply.error and not reply.private
    from bot.textrender import render_reply

    out = render_reply(reply)
    assert "@dan acknowledged D-1 for repl (1/3 acknowledged)." in out
    assert post_channels(reply) == {"boc": [ChannelRef("shell", "#boc")]}
    # bob, in repl, finds it done already, and nothing is written
    before = bot.counts()
    out = bot.say("bob", "#repl", "decision ack D-1")
    assert "D-1 was already acknowledged for repl by @dan on" in out
    assert bot.counts() == before
    # outside a group channel dan acknowledges for every target of his not yet done: comms
    out = bot.say("dan", None, "decision ack 1")
    assert "@dan acknowledged D-1 for comms (2/3 acknowledged)." in out
    # carl (comms) sees it done already
    assert "already acknowledged for comms by @dan" in bot.say("carl", "#comms", "decision ack D-1")
    # the secretariat acknowledges on behalf of a group it names
    out = bot.say("sam", None, "decision ack D-1 Data Management")
    assert "@sam acknowledged D-1 for data (3/3 acknowledged)." in out
    show = bot.say("eve", None, "decision show D-1")
    assert "Acknowledgement: 3/3 acknowledged" in show
    assert "pending" not in show
    with Session(bot.engine) as s:
        verbs = s.execute(
            select(AuditLog.verb, AuditLog.detail).where(AuditLog.verb == "ack")
            .order_by(AuditLog.id)
        ).all()
        assert [d["group"] for _, d in verbs] == ["repl", "comms", "data"]


def test_dan_outside_channel_acks_all_his_pending_targets(board: Bot) -> None:
    bot = board
    bot.say("bea", "#boc", "decision post repl,comms Adopt the playbook")
    out = bot.say("dan", "#boc", "decision ack D-1")
    assert "@dan acknowledged D-1 for repl, comms (2/2 acknowledged)." in out
    reply = bot.ask("dan", "#boc", "decision ack D-1")
    assert reply.private and not reply.posts
    # no note to the BoC channel when acknowledging from the BoC channel itself
    bot.say("bea", "#boc", "decision post repl Second")
    reply = bot.ask("bob", "#boc", "decision ack D-2")
    assert not reply.error and reply.posts == ()


def test_show_has_per_group_ack_state_and_linked_actions(board: Bot) -> None:
    bot = board
    bot.say("bea", "#boc", "decision post repl,comms Adopt the playbook")
    bot.say("bob", "#repl", "decision ack D-1")
    with Session(bot.engine) as s:
        repl_id = s.scalar(select(DecisionTarget.group_id).order_by(DecisionTarget.id))
    a1 = add_action(bot, repl_id, "Draft the playbook", due=dt.date(2026, 11, 20),
                    assignees=("bob", "alice"))
    a2 = add_action(bot, repl_id, "Translate it", status="done")
    out = bot.say("eve", None, "decision show D-1")
    assert "No linked actions. Link one with `decision link D-1 <action-id>`." in out
    # the chair of the action's group may link; so may the BoC
    assert f"Linked A-{a1} (Draft the playbook) to D-1." in bot.say(
        "alice", "#repl", f"decision link D-1 A-{a1}"
    )
    assert f"Linked A-{a2} (Translate it) to D-1." in bot.say("bea", None, f"decision link 1 {a2}")
    assert "already linked to D-1" in bot.say("bea", None, f"decision link D-1 A-{a2}")
    out = bot.say("eve", None, "decision show D-1")
    lines = out.splitlines()
    assert "== Decision D-1 ==" in lines
    assert "> Adopt the playbook" in lines
    assert any(line.startswith("Posted by @bea on Sat 28 Nov 2026 10:00") for line in lines)
    assert "Acknowledgement: 1/2 acknowledged" in lines
    repl_row = next(line for line in lines if line.startswith("repl "))
    assert "@bob" in repl_row and "Sat 28 Nov 2026 10:00 CET" in repl_row
    comms_row = next(line for line in lines if line.startswith("comms "))
    assert "pending" in comms_row
    a1_row = next(line for line in lines if line.startswith(f"A-{a1} "))
    assert "@bob, @alice" in a1_row and "overdue 8d" in a1_row and "Fri 20 Nov 2026" in a1_row
    a2_row = next(line for line in lines if line.startswith(f"A-{a2} "))
    assert a2_row.rstrip().endswith("done")
    listing = bot.say("eve", None, "decision list")
    row = next(line for line in listing.splitlines() if line.startswith("D-1 "))
    assert "1/2 acknowledged (pending: comms)" in row and "1 open / 2" in row


def test_list_filters_by_group_and_since_newest_first(board: Bot) -> None:
    bot = board
    bot.now = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)
    bot.say("bea", None, "decision post repl October decision")
    bot.now = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)
    bot.say("bea", None, "decision post comms November decision")
    bot.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    bot.say("bea", None, "decision post repl,comms Late November decision")

    def ids(out: str) -> list[str]:
        return [line.split()[0] for line in out.splitlines() if line.startswith("D-")]

    assert ids(bot.say("eve", None, "decision list")) == ["D-3", "D-2", "D-1"]
    assert ids(bot.say("eve", None, "decision list repl")) == ["D-3", "D-1"]
    # in a group's channel the group is meant; `all` lifts that; the BoC channel sees all
    assert ids(bot.say("bob", "#comms", "decision list")) == ["D-3", "D-2"]
    assert ids(bot.say("bob", "#comms", "decision list all")) == ["D-3", "D-2", "D-1"]
    assert ids(bot.say("bea", "#boc", "decision list")) == ["D-3", "D-2", "D-1"]
    assert ids(bot.say("eve", None, "decision list since 2026-11-01")) == ["D-3", "D-2"]
    assert ids(bot.say("eve", None, "decision list repl since 1 Nov")) == ["D-3"]
    assert ids(bot.say("eve", None, "decision list since today")) == ["D-3"]
    assert "No decisions in that period." in bot.say("eve", None, "decision list data since today")
    assert "No decisions yet." in bot.say("eve", None, "decision list data")


def test_list_caps_rows(board: Bot) -> None:
    from handlers.decisions._commands import LIST_CAP

    bot = board
    for i in range(LIST_CAP + 3):
        bot.admin(f"decision post repl Decision number {i}")
    out = bot.say("eve", None, "decision list")
    assert sum(1 for line in out.splitlines() if line.startswith("D-")) == LIST_CAP
    assert "and 3 more" in out


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("2026-11-01", dt.date(2026, 11, 1)),
        ("1 Nov", dt.date(2026, 11, 1)),  # parse_date alone says 2027-11-01
        ("15 Dec", dt.date(2025, 12, 15)),
        ("monday", dt.date(2026, 11, 23)),
        ("today", dt.date(2026, 11, 28)),
        ("2027-01-15", dt.date(2027, 1, 15)),  # a written year is taken as written
    ],
)
def test_since_dates_look_back(words: str, expected: dt.date) -> None:
    from handlers.decisions._commands import past_date

    assert past_date(words.split(), dt.date(2026, 11, 28)) == expected
