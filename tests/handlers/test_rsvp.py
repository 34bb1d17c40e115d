"""``meeting rsvp``: a member says whether they are coming to the next meeting, the one on
a date, or all of them; a later answer replaces an earlier one; a cancelled or unknown
meeting, and anyone not a member, are refused with nothing written; ``meeting next``
counts who is coming."""

from __future__ import annotations

import pytest

from tests.support.dialog import Bot


@pytest.fixture
def group(bot: Bot) -> Bot:
    bot.admin("tg add replication @ana as chair")
    bot.admin("tg add replication @ben")
    bot.admin("tg add replication @cleo")
    return bot


def test_answers_per_meeting_and_for_all(group: Bot) -> None:
    bot = group
    out = bot.say("ana", None, "meeting rsvp replication yes")
    assert "Noted: yes for the Replication meeting of Wed 09 Dec 2026 10:00 CET" in out
    assert "Answers so far: 1 yes, 0 maybe, 0 no, 2 not answered" in out
    out = bot.say("ben", None, "meeting rsvp replication maybe 9 Dec")
    assert "1 yes, 1 maybe, 0 no, 1 not answered" in out
    out = bot.say("ben", None, "meeting rsvp replication no 2026-12-09")  # replaces
    assert "1 yes, 0 maybe, 1 no, 1 not answered" in out
    out = bot.say("cleo", None, "meeting rsvp replication no all")
    assert "Noted: no for every Replication meeting" in out
    assert "Coming: 1 yes, 0 maybe, 2 no, 0 not answered" in bot.say(
        "cleo", None, "meeting next replication")
    # a single meeting's answer counts over "all" for that meeting
    out = bot.say("cleo", None, "meeting rsvp replication yes 9 Dec")
    assert "2 yes, 0 maybe, 1 no, 0 not answered" in out
    # a new "all" stands for every meeting again
    bot.say("cleo", None, "meeting rsvp replication no all")
    assert "Coming: 1 yes, 0 maybe, 2 no" in bot.say("ana", None, "meeting next replication")


@pytest.mark.parametrize(("who", "line", "said"), [
    ("dora", "meeting rsvp replication yes", "members"),
    ("ana", "meeting rsvp replication perhaps", "Expected yes or no or maybe"),
    ("ana", "meeting rsvp replication yes 10 Dec", "has no meeting on Thu 10 Dec 2026"),
    ("ana", "meeting rsvp replication yes 2026-11-11", "is past"),
    ("ana", "meeting rsvp replication", "Expected yes or no or maybe"),
])
def test_refused_answers_write_nothing(group: Bot, who: str, line: str, said: str) -> None:
    bot = group
    before = bot.counts()
    reply = bot.ask(who, None, line)
    assert reply.error
    from bot.textrender import render_reply

    assert said in render_reply(reply)
    assert bot.counts() == before


def test_a_cancelled_meeting_takes_no_answer(group: Bot) -> None:
    bot = group
    bot.admin("meeting skip replication 2026-12-09")
    before = bot.counts()
    reply = bot.ask("ben", None, "meeting rsvp replication yes 2026-12-09")
    assert reply.error and bot.counts() == before
    # the next meeting is then January's
    assert "Wed 13 Jan 2027" in bot.say("ben", None, "meeting rsvp replication yes")
