"""Every past meeting can be read back: ``meeting minutes <group> list`` with ids, ``M-<id>``,
``<date> <n>``; item numbers start at 1 in each meeting; actions credit their assignees.

The repl series meets on the last Thursday at 10:00 Brussels; here it meets three times on
Thursday 31 Dec 2026, and comms meets once in between.
"""

from __future__ import annotations

import datetime as dt

import pytest

from handlers.core.messages import File, Reply
from handlers.core.router import Incoming
from tests.support.dialog import Bot

UTC = dt.UTC
DAY = dt.datetime(2026, 12, 31, 9, 0, tzinfo=UTC)  # 10:00 in Brussels


def cap(bot: Bot, who: str, channel: str, line: str) -> str:
    reply = bot.router.hear(Incoming(platform="shell", user_id=who, text=line,
                                              channel_id=channel))
    assert reply is not None and not reply.error, line
    from bot.textrender import render_reply

    return render_reply(reply)


def rows(out: str) -> list[str]:
    """Table rows with their column padding squeezed to one space."""
    return [" ".join(line.split()) for line in out.splitlines()]


def files(reply: Reply) -> dict[str, str]:
    return {b.name: b.content.decode() for b in reply.blocks if isinstance(b, File)}


@pytest.fixture
def tg(bare_bot: Bot) -> Bot:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice project Lighthouse as chair")
    bot.admin("tg add repl @bob project Harbour")
    bot.admin("tg add repl @carl project Riverside")
    bot.admin("meeting schedule repl last thursday 10:00")
    bot.admin("tg create comms Communication")
    bot.admin("tg link comms", channel="#comms")
    bot.admin("tg add comms @alice as chair")
    bot.now = DAY
    return bot


def meet(bot: Bot, start: dt.datetime, minutes: int, lines: list[tuple[str, str]],
         channel: str = "#repl") -> str:
    """Run one meeting from ``start`` for ``minutes``; returns what meeting end said."""
    bot.now = start
    assert "started" in bot.say("alice", channel, "meeting start")
    for who, line in lines:
        cap(bot, who, channel, line)
    bot.now = start + dt.timedelta(minutes=minutes)
    return bot.say("alice", channel, "meeting end")


@pytest.fixture
def three(tg: Bot) -> Bot:
    meet(tg, DAY, 30, [("alice", "#topic Budget"), ("bob", "#info First meeting")])
    # comms meets in between: its items do not push repl's numbers on
    meet(tg, DAY + dt.timedelta(minutes=40), 10, [("alice", "#info Comms item")], "#comms")
    meet(tg, DAY + dt.timedelta(hours=1), 20, [("bob", "#info Second meeting")])
    end = meet(tg, DAY + dt.timedelta(hours=4), 10,
               [("alice", "#action @carl Write the introduction"),
                ("carl", "#action Check the figures"), ("bob", "#info Third meeting")])
    assert "Stored as M-4: meeting minutes repl M-4 returns them" in end
    tg.now = DAY + dt.timedelta(days=2)
    return tg


def test_item_numbers_start_at_one_in_each_meeting(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    assert "Topic noted (#1): Budget" in cap(tg, "alice", "#repl", "#topic Budget")
    assert "Info noted (#2): One" in cap(tg, "bob", "#repl", "#info One")
    tg.say("alice", "#comms", "meeting start")
    assert "Info noted (#1): Elsewhere" in cap(tg, "alice", "#comms", "#info Elsewhere")
    assert "Info noted (#3): Two" in cap(tg, "bob", "#repl", "#info Two")
    tg.now = DAY + dt.timedelta(minutes=30)
    tg.say("alice", "#repl", "meeting end")
    tg.say("alice", "#repl", "meeting start")
    assert "Info noted (#1): Again" in cap(tg, "bob", "#repl", "#info Again")


def test_list_shows_every_meeting_with_its_id_and_number_that_day(three: Bot) -> None:
    before = three.counts()
    out = three.say("carl", None, "meeting minutes repl list")
    assert out.splitlines()[0] == "== Meetings of Replication =="
    # the most recent first, numbered within the day
    assert out.index("M-4") < out.index("M-3") < out.index("M-1")
    assert "M-4 Thu 31 Dec 2026 14:00 (3 of 3) @alice 3 items" in rows(out)
    assert "M-1 Thu 31 Dec 2026 10:00 (1 of 3) @alice 2 items" in rows(out)
    assert "M-2" not in out  # comms' meeting
    assert three.say("carl", None, "meeting minutes repl all") == out
    assert three.say("carl", "#repl", "meeting minutes list") == out
    assert three.counts() == before


@pytest.mark.parametrize(("line", "which"), [
    ("meeting minutes repl M-1", "First meeting"),
    ("meeting minutes m3", "Second meeting"),
    ("meeting minutes repl 31 Dec 2", "Second meeting"),
    ("meeting minutes repl 2026-12-31 1", "First meeting"),
    ("meeting minutes repl 31.12.2026 3", "Third meeting"),
    ("meeting minutes repl", "Third meeting"),
])
def test_each_meeting_is_retrievable(three: Bot, line: str, which: str) -> None:
    reply = three.ask("carl", None, line)
    assert not reply.error
    from bot.textrender import render_reply

    out = render_reply(reply)
    assert which in out
    others = {"First meeting", "Second meeting", "Third meeting"} - {which}
    assert not any(o in out for o in others)
    assert "repl met 3 times that day; the others:" in out
    # the day's meetings do not overwrite each other's files
    number = {"First meeting": 1, "Second meeting": 2, "Third meeting": 3}[which]
    got = files(reply)
    assert set(got) == {f"minutes-repl-2026-12-31-{number}.{ext}" for ext in ("md", "html", "txt")}
    assert which in got[f"minutes-repl-2026-12-31-{number}.md"]


def test_a_day_with_several_meetings_and_no_number_lists_them(three: Bot) -> None:
    out = three.say("carl", None, "meeting minutes repl 31 Dec")
    assert "Replication met 3 times on Thu 31 Dec 2026" in out
    assert "M-1" in out and "M-3" in out and "M-4" in out
    assert "First meeting" not in out


@pytest.mark.parametrize(("line", "answer"), [
    ("meeting minutes repl 31 Dec 4", "repl had 3 meetings (1 to 3) on Thu 31 Dec 2026, not a "
                                      "meeting 4."),
    ("meeting minutes repl 31 Dec 0", "not a meeting 0"),
    ("meeting minutes repl M-2", "M-2 is a meeting of comms, not of repl."),
    ("meeting minutes M-99", "No minutes of a meeting M-99."),
    ("meeting minutes repl 30 Dec", "No minutes of a repl meeting on Wed 30 Dec 2026."),
    ("meeting minutes comms 31 Dec 2", "comms had one meeting on Thu 31 Dec 2026"),
])
def test_a_meeting_that_is_not_there_is_one_clear_line(three: Bot, line: str,
                                                       answer: str) -> None:
    before = three.counts()
    reply = three.ask("carl", None, line)
    from bot.textrender import render_reply

    assert reply.error and answer in render_reply(reply)
    assert three.counts() == before


def test_a_running_meeting_has_no_minutes_yet(tg: Bot) -> None:
    tg.say("alice", "#repl", "meeting start")
    assert "No minutes of a meeting M-1 (it is still running)." in tg.say(
        "bob", None, "meeting minutes M-1")
    assert "No minutes of a repl meeting yet." in tg.say("bob", None, "meeting minutes repl list")


def test_minutes_credit_an_action_to_its_assignees_and_its_author(three: Bot) -> None:
    out = three.say("carl", None, "meeting minutes repl M-4")
    assert "  - ACTION A-1: Write the introduction (for @carl; by @alice)" in out
    # one's own action is credited once
    assert "  - ACTION A-2: Check the figures (@carl)" in out


def test_a_meeting_marked_held_is_listed_and_reads_as_marked(tg: Bot) -> None:
    tg.now = dt.datetime(2027, 1, 29, 12, 0, tzinfo=UTC)  # the day after 28 Jan's meeting
    assert "as held" in tg.admin("meeting held repl 28 Jan 2027")
    out = tg.say("bob", None, "meeting minutes repl list")
    assert "M-1 Thu 28 Jan 2027 10:00 @root marked held" in rows(out)
    minutes = tg.say("bob", None, "meeting minutes repl M-1")
    assert "marked held by @root; its minutes were not taken in chat" in minutes
    assert "Attendance" not in minutes


def test_two_meetings_of_one_date_carry_its_agenda_over_once(tg: Bot) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from storage.models import AgendaItem

    tg.now = DAY - dt.timedelta(days=2)
    for item in ("Budget", "Site visits", "Guide"):
        assert not tg.ask("bob", "#repl", f"meeting agenda {item}").error
    first = meet(tg, DAY, 30, [("alice", "#topic Budget")])
    assert "== Carried over to the next meeting's agenda ==\n- Site visits\n- Guide" in first
    # a second meeting for the same date, reaching nothing: Budget stays reached (by the
    # first) and what is left is not carried a second time
    second = meet(tg, DAY + dt.timedelta(hours=1), 30, [("bob", "#info Follow-up")])
    assert "Budget" not in second.split("== Attendance ==")[1]
    with Session(tg.engine) as s:
        nxt = [a.text for a in s.scalars(select(AgendaItem).where(
            AgendaItem.occurrence_date == dt.date(2027, 1, 28)).order_by(AgendaItem.id))]
    assert nxt == ["Site visits", "Guide"]
