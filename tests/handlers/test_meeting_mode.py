"""Meeting mode dialogs: start, captures, undo, chair hand-over, BoC decisions fanned out,
minutes (content, storage, retrieval as files), carried-over agenda, auto-close.

The repl series meets on the last Thursday at 10:00 Brussels; the meeting held here is
Thursday 31 Dec 2026, 09:00 UTC; the next one is Thursday 28 Jan 2027.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.shell import Shell
from bot.textrender import render_blocks, render_reply
from handlers.core.messages import Block, ChannelRef, File, Reply
from handlers.core.router import Incoming
from handlers.delivery._engine import DeliveryEngine
from storage.models import Action, AgendaItem, Decision, Meeting, MeetingAttendee, MeetingItem
from tests.support.dialog import Bot

UTC = dt.UTC
MEETING = dt.datetime(2026, 12, 31, 9, 0, tzinfo=UTC)


def cap(bot: Bot, who: str, channel: str, line: str) -> Reply | None:
    return bot.router.hear(Incoming(platform="shell", user_id=who, text=line,
                                             channel_id=channel))


def cap_text(bot: Bot, who: str, channel: str, line: str) -> str:
    reply = cap(bot, who, channel, line)
    assert reply is not None, line
    return render_reply(reply)


@pytest.fixture
def tg(bare_bot: Bot) -> Bot:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice project Lighthouse as chair")
    bot.admin("tg add repl @bob project Harbour")
    bot.admin("tg add repl @carol project Riverside")
    bot.admin("meeting schedule repl last thursday 10:00")
    assert not bot.ask("bob", "#repl", "meeting agenda Budget review").error
    assert not bot.ask("bob", "#repl", "meeting agenda The guide, chapter 2").error
    assert not bot.ask("carol", "#repl", "meeting agenda Site visits").error
    bot.now = MEETING
    return bot


def test_no_meeting_nothing_captured_nothing_written(tg: Bot) -> None:
    before = tg.counts()
    assert cap(tg, "bob", "#repl", "#info hello") is None
    assert cap(tg, "bob", "#repl", "just chatting") is None
    assert tg.counts() == before


def test_start_needs_a_chair_and_shows_the_agenda(tg: Bot) -> None:
    before = tg.counts()
    out = tg.say("bob", "#repl", "meeting start")
    assert "chair of repl" in out
    assert tg.counts() == before
    out = tg.say("alice", "#repl", "meeting start")
    assert "Meeting of Replication started, chaired by @alice" in out
    assert "1. Budget review" in out and "3. Site visits" in out
    again = tg.say("alice", "#repl", "meeting start")
    # the time it opened, in the group's zone as everything else is (10:00 Brussels)
    assert "already has a meeting open (in #repl, since 10:00 CET)" in again
    tg.now = MEETING + dt.timedelta(hours=15)  # 01:00 the next day in Brussels
    again = tg.say("alice", "#repl", "meeting start for 20h")
    assert "since Thu 31 Dec 10:00 CET" in again
    tg.now = MEETING
    with Session(tg.engine) as s:
        m = s.scalars(select(Meeting)).one()
        assert m.occurrence_date == dt.date(2026, 12, 31)
        assert m.closes_at == MEETING + dt.timedelta(hours=4)


def test_full_meeting(tg: Bot) -> None:
    tg.admin("tg add repl @dave project Outsider")
    tg.say("alice", "#repl", "meeting start")
    assert "Topic noted" in cap_text(tg, "alice", "#repl", "#topic 1")
    assert "Info noted" in cap_text(tg, "bob", "#repl", "#info Spend is at 40%")
    assert cap(tg, "carol", "#repl", "I agree with that") is None  # attendance only
    out = cap_text(tg, "alice", "#repl", "#action @bob @carol Draft the budget due 15 Jan 2027")
    assert "Action A-1 for @bob, @carol: Draft the budget, due Fri 15 Jan 2027" in out
    assert "Agreed noted" in cap_text(tg, "alice", "#repl", "#agreed Keep the 2027 budget flat")
    # non-chairs may not tag chair items; nothing is written
    before = tg.counts()
    refused = cap(tg, "bob", "#repl", "#agreed something")
    assert refused is not None and refused.error and "chair of this meeting" in render_reply(
        refused)
    assert tg.counts() == before
    cap_text(tg, "alice", "#repl", "#topic the guide, chapter 2")
    cap_text(tg, "bob", "#repl", "#link https://example.org/guide")
    cap_text(tg, "bob", "#repl", "#idea A video walkthrough")
    # a bad date is one clear line, and nothing is captured
    before = tg.counts()
    bad = cap(tg, "alice", "#repl", "#action @bob Past thing due 1 Jan 2020")
    assert bad is not None and bad.error and "past" in render_reply(bad)
    assert tg.counts() == before
    # the action is a tracked action at once, linked to the meeting
    with Session(tg.engine) as s:
        act = s.get(Action, 1)
        assert act is not None and act.status == "open" and act.due == dt.date(2027, 1, 15)
        assert act.meeting_date == dt.date(2026, 12, 31) and act.meeting_series_id is not None
        assert sorted(a.person.display_name for a in act.assignees) == ["bob", "carol"]
    assert "A-1" in tg.say("bob", "#repl", "action list mine")

    tg.now = MEETING + dt.timedelta(minutes=55)
    assert "chair of this meeting" in tg.say("bob", "#repl", "meeting end")
    out = tg.say("alice", "#repl", "meeting end")
    assert "== Minutes: Replication meeting, Thu 31 Dec 2026 (M-1) ==" in out
    assert "Started 10:00, ended 10:55 CET; chaired by @alice." in out
    assert "1. Budget review" in out and "  - INFO: Spend is at 40% (@bob)" in out
    # an action is credited to the people it is for as well as to who noted it
    assert "  - ACTION A-1: Draft the budget (for @bob, @carol; by @alice)" in out
    assert "2. The guide, chapter 2" in out and "  - LINK: https://example.org/guide (@bob)" in out
    assert "  - IDEA: A video walkthrough (@bob)" in out
    assert "A-1  Draft the budget  @bob, @carol  Fri 15 Jan 2027" in out
    assert "- Agreed: Keep the 2027 budget flat" in out
    attendance = out.split("== Attendance ==")[1]
    assert "- @alice (Lighthouse)\n- @bob (Harbour)\n- @carol (Riverside)" in attendance
    assert "dave" not in attendance
    assert "== Carried over to the next meeting's agenda ==\n- Site visits" in out
    # the unreached item is on the next meeting's agenda
    with Session(tg.engine) as s:
        nxt = [a.text for a in s.scalars(select(AgendaItem).where(
            AgendaItem.occurrence_date == dt.date(2027, 1, 28)))]
        assert nxt == ["Site visits"]
    # the meeting is over: lines are chat again
    assert cap(tg, "alice", "#repl", "#info late") is None
    # retrieval: text plus .md/.html/.txt files
    tg.now = MEETING + dt.timedelta(days=3)
    reply = tg.ask("carol", "#repl", "meeting minutes")
    files = {b.name: b for b in reply.blocks if isinstance(b, File)}
    assert set(files) == {"minutes-repl-2026-12-31.md", "minutes-repl-2026-12-31.html",
                          "minutes-repl-2026-12-31.txt"}
    md = files["minutes-repl-2026-12-31.md"].content.decode()
    assert md.startswith("# Minutes: Replication meeting, Thu 31 Dec 2026")
    assert "| A-1 | Draft the budget | @bob, @carol | Fri 15 Jan 2027 |" in md
    page = files["minutes-repl-2026-12-31.html"].content.decode()
    assert "<h1>Minutes: Replication meeting" in page and "<td>A-1</td>" in page
    assert "Spend is at 40%" in render_reply(reply)
    assert tg.ask("carol", None, "meeting minutes repl 31 Dec").blocks == reply.blocks
    assert "No minutes of a repl meeting on" in tg.say("carol", None,
                                                       "meeting minutes repl 30 Dec")


def test_undo_removes_the_last_item_and_cancels_its_action(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    cap_text(tg, "alice", "#repl", "#topic Budget review")
    cap_text(tg, "alice", "#repl", "#action @bob Check the numbers")
    assert "Removed: #action Check the numbers" in cap_text(tg, "alice", "#repl", "#undo")
    with Session(tg.engine) as s:
        assert s.get(Action, 1).status == "cancelled"  # type: ignore[union-attr]
        assert [i.kind for i in s.scalars(select(MeetingItem))] == ["topic"]
    assert "Removed: #topic Budget review" in cap_text(tg, "alice", "#repl", "#undo")
    bad = cap(tg, "alice", "#repl", "#undo")
    assert bad is not None and bad.error and "Nothing to undo" in render_reply(bad)
    out = tg.say("alice", "#repl", "meeting end")
    assert "ACTION" not in out and "1. Budget review" not in out
    # all three agenda items were left: all carried over
    assert "- Budget review\n- The guide, chapter 2\n- Site visits" in out


def test_chair_hand_over(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    refused = cap(tg, "bob", "#repl", "#chair @bob")
    assert refused is not None and refused.error
    out = cap(tg, "alice", "#repl", "#chair @carol")
    assert out is not None and not out.private
    assert "Chairing this meeting now: @alice, @carol." in render_reply(out)
    assert "Agreed noted" in cap_text(tg, "carol", "#repl", "#agreed Carol can chair")
    assert "Minutes" in tg.say("carol", "#repl", "meeting end")


def test_decision_only_in_the_boc_meeting(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    bad = cap(tg, "alice", "#repl", "#decision repl Do it")
    assert bad is not None and bad.error and "BoC's meeting" in render_reply(bad)


def test_boc_decision_fans_out_to_two_groups(tg: Bot) -> None:
    tg.admin("tg create boc Board of Coordinators")
    tg.admin("tg create comms Communication")
    tg.admin("tg link boc", channel="#boc")
    tg.admin("tg link comms", channel="#comms")
    tg.admin("tg add boc @erin as chair")
    tg.admin("tg add boc @frank")
    tg.say("erin", "#boc", "meeting start")
    cap_text(tg, "erin", "#boc", "#topic Manifesto")
    out = cap(tg, "erin", "#boc", "#decision repl, comms Publish the manifesto in March")
    assert out is not None and not out.error and not out.private
    assert "Decision D-1 recorded for repl, comms" in render_reply(out)
    targets = {(p.group_slug, tuple(c.channel_id for c in p.channels)) for p in out.posts}
    assert targets == {("repl", ("#repl",)), ("comms", ("#comms",))}  # not back to #boc
    assert "decision ack D-1" in render_blocks(out.posts[0].blocks)
    with Session(tg.engine) as s:
        d = s.get(Decision, 1)
        assert d is not None and [t.group.slug for t in d.targets] == ["repl", "comms"]
    assert "acknowledged D-1 for repl (1/2 acknowledged)" in tg.say("bob", "#repl",
                                                                    "decision ack D-1")
    assert "cannot take it back" in cap_text(tg, "erin", "#boc", "#undo")
    end = tg.say("erin", "#boc", "meeting end")
    assert "- Decision D-1 for repl, comms: Publish the manifesto in March" in end
    assert "DECISION D-1: Publish the manifesto in March (@erin)" in end


def test_minutes_posted_to_the_groups_other_channels(tg: Bot) -> None:
    tg.admin("tg link repl", channel="#repl-2")
    tg.say("alice", "#repl", "meeting start")
    reply = tg.ask("alice", "#repl", "meeting end")
    assert [[c.channel_id for c in p.channels] for p in reply.posts] == [["#repl-2"]]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[ChannelRef, str, str]] = []

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.sent.append((channel, render_blocks(blocks), key))
        return f"m{len(self.sent)}"


def test_auto_close_by_the_delivery_engine(tg: Bot) -> None:
    tg.admin("tg settings repl digest off")
    tg.admin("tg settings repl reminders off")
    tg.admin("tg settings repl nudges off")
    tg.say("alice", "#repl", "meeting start for 2h")
    cap_text(tg, "alice", "#repl", "#topic Budget review")
    cap_text(tg, "alice", "#repl", "#action @bob Send the slides")
    sender = Recorder()
    engine = DeliveryEngine(tg.sessions, tg.settings, {"shell": sender}, kinds=tg.router.registry.kinds)
    tg.now = MEETING + dt.timedelta(hours=1, minutes=59)
    engine.tick()
    assert not [s for s in sender.sent if "Minutes" in s[1]]
    tg.now = MEETING + dt.timedelta(hours=2, minutes=1)
    assert cap(tg, "alice", "#repl", "#info too late") is None  # past its time: closed
    engine.tick()
    minutes = [s for s in sender.sent if "Minutes" in s[1]]
    assert len(minutes) == 1
    channel, body, key = minutes[0]
    assert channel == ChannelRef("shell", "#repl") and key.startswith("minutes:")
    assert "closed automatically after 2 h" in body
    assert "A-1  Send the slides  @bob  -" in body
    assert "- The guide, chapter 2\n- Site visits" in body
    engine.tick()  # once only
    assert len([s for s in sender.sent if "Minutes" in s[1]]) == 1
    with Session(tg.engine) as s:
        m = s.scalars(select(Meeting)).one()
        assert m.auto_closed and m.ended_at == MEETING + dt.timedelta(hours=2)
    assert "closed automatically" in tg.say("bob", "#repl", "meeting minutes")
    # and a new meeting can start
    assert "started" in tg.say("alice", "#repl", "meeting start")


def test_default_auto_close_is_four_hours(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    tg.now = MEETING + dt.timedelta(hours=3, minutes=59)
    assert cap(tg, "bob", "#repl", "#info still here") is not None
    tg.now = MEETING + dt.timedelta(hours=4)
    assert cap(tg, "bob", "#repl", "#info gone") is None


def test_shell_script_runs_a_meeting(tg: Bot, tmp_path: Path) -> None:
    """In the shell, #tag lines are captures while a meeting is open in the channel and
    comments otherwise."""
    out = io.StringIO()
    shell = Shell(router=tg.router, user="alice", channel="#repl", out=out,
                  export_dir=tmp_path / "out")
    before = tg.counts()
    assert shell.run_script(["# a comment", "#info not a meeting yet"]) == 0
    assert out.getvalue() == "" and tg.counts() == before
    script = [
        "meeting start",
        "#topic 2",
        "# still a comment during the meeting",
        ":as bob",
        "#info Chapter 2 is drafted",
        ":as alice",
        "#action @bob Review chapter 2 due 8 Jan 2027",
        "#agreed Publish in January",
        "meeting end",
        "#info after the end",
        "meeting minutes",
    ]
    assert shell.run_script(script) == 0
    text = out.getvalue()
    assert "Topic noted (#1): The guide, chapter 2" in text
    assert "Info noted (#2): Chapter 2 is drafted" in text
    assert "Action A-1 for @bob: Review chapter 2, due Fri 08 Jan 2027" in text
    assert "still a comment" not in text and "after the end" not in text
    assert "1. The guide, chapter 2\n  - INFO: Chapter 2 is drafted (@bob)" in text
    assert "- @alice (Lighthouse)\n- @bob (Harbour)" in text
    saved = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert saved == ["minutes-repl-2026-12-31.html", "minutes-repl-2026-12-31.md",
                     "minutes-repl-2026-12-31.txt"]
    with Session(tg.engine) as s:
        assert len(s.scalars(select(MeetingItem)).all()) == 4


def test_shell_talk_in_a_meeting_is_discussion(tg: Bot, tmp_path: Path) -> None:
    """In the shell every line is read as a command; while a meeting runs in the channel a
    line that names no command is talk, as in a chat channel: no reply, the speaker counts
    as present. Commands (with or without / or !) still run, and outside a meeting the same
    line is an unknown command."""
    out = io.StringIO()
    shell = Shell(router=tg.router, user="carol", channel="#repl", out=out,
                  export_dir=tmp_path / "out")
    assert shell.run_script(["Hello everyone"]) == 1
    assert "Unknown command 'Hello'" in out.getvalue()
    tg.say("alice", "#repl", "meeting start")
    for line in ("Hello everyone", "Sorry I'm late", "Meeting notes later?"):
        out.seek(0)
        out.truncate()
        shell.failed = False
        assert shell.run_script([line]) == 0, out.getvalue()
        assert out.getvalue() == ""
    out.seek(0)
    out.truncate()
    assert shell.run_script(["action list mine", "/meeting frobnicate"]) == 1
    assert "Unknown command" not in out.getvalue()
    assert "Unknown meeting subcommand 'frobnicate'" in out.getvalue()
    with Session(tg.engine) as s:
        attendees = s.scalars(select(MeetingAttendee)).all()
        lines = {a.person.display_name: a.lines for a in attendees}
        assert lines == {"alice": 1, "carol": 3}  # alice's `meeting start`


def test_members_record_actions_as_outside_a_meeting(tg: Bot) -> None:
    """#action follows `action add`: any member of the group may record one, as MeetBot lets
    anyone; a non-member is refused as `action add` refuses, and nothing is written."""
    tg.say("alice", "#repl", "meeting start")
    out = cap_text(tg, "carol", "#repl", "#action @carol Write the introduction")
    assert "Action A-1 for @carol: Write the introduction" in out
    assert "Added A-2" in tg.say("carol", "#repl", "action add @carol Write the summary")
    before = tg.counts()
    refused = cap(tg, "zed", "#repl", "#action @carol Sneak one in")
    assert refused is not None and refused.error
    assert "Only a member of repl (or the secretariat) can do #action." in render_reply(refused)
    after = tg.counts()
    # zed's line still counts for attendance; no action or item is written
    assert after["actions"] == before["actions"]
    assert after["meeting_items"] == before["meeting_items"]


@pytest.mark.parametrize("tag", ["#topic Budget", "#agreed Flat budget", "#chair @bob",
                                 "#decision repl Adopt the guide"])
def test_members_may_not_steer_the_meeting(tg: Bot, tag: str) -> None:
    tg.say("alice", "#repl", "meeting start")
    before = tg.counts()
    refused = cap(tg, "carol", "#repl", tag)
    assert refused is not None and refused.error
    assert "Only a chair of this meeting (or of repl) can do #" in render_reply(refused)
    assert tg.counts() == before


def test_a_member_undoes_only_their_own_last_line(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    cap_text(tg, "alice", "#repl", "#topic Budget review")
    before = tg.counts()
    refused = cap(tg, "carol", "#repl", "#undo")
    assert refused is not None and refused.error
    assert "Only a chair of this meeting (or of repl) can do #undo of another's line." in (
        render_reply(refused))
    assert tg.counts() == before
    cap_text(tg, "carol", "#repl", "#action @carol Write the introduction")
    assert "Removed: #action Write the introduction" in cap_text(tg, "carol", "#repl", "#undo")
    with Session(tg.engine) as s:
        assert s.get(Action, 1).status == "cancelled"  # type: ignore[union-attr]
        assert [i.kind for i in s.scalars(select(MeetingItem))] == ["topic"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#action @bob Review chapter 1 due yesterday",
         "The due date Wed 30 Dec 2026 is in the past (today is Thu 31 Dec 2026)."),
        ("#action @bob Review chapter 1 due blah", "Can't read 'blah' as a date"),
        ("#action @bob Review chapter 1 due Friday 4pm", "without a time of day"),
        ("#action @bob Review chapter 1 due 31/02", "is not a real date"),
    ],
)
def test_action_tail_refused_as_action_add_refuses(tg: Bot, line: str, expected: str) -> None:
    """#action reads its `due` tail by the same rule as `action add`: nothing written."""
    tg.say("alice", "#repl", "meeting start")
    before = tg.counts()
    bad = cap(tg, "alice", "#repl", line)
    assert bad is not None and bad.error
    out = render_reply(bad)
    assert expected in out, out
    assert "Usage: #action [<@user> ...] <text...> [due <date>]" in out
    after = tg.counts()
    assert after["actions"] == before["actions"]
    assert after["meeting_items"] == before["meeting_items"]


def test_action_keeps_plain_words_after_due(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    out = cap_text(tg, "alice", "#repl", "#action @bob Check the due diligence report")
    assert out == "Action A-1 for @bob: Check the due diligence report"
    with Session(tg.engine) as s:
        assert s.get(Action, 1).due is None  # type: ignore[union-attr]
