"""``meeting held``: a meeting run outside the bot, marked by a chair, counts as held in the
Board's monthly report; only real, past, unskipped meetings of the series can be marked, once.

comms meets on the last Thursday at 14:00 Brussels: 29 Oct and 26 Nov 2026 (13:00 UTC).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers import reports
from storage.models import Meeting
from tests.support.dialog import Bot

UTC = dt.UTC


@pytest.fixture
def comms(bare_bot: Bot) -> Bot:
    bot = bare_bot
    bot.now = dt.datetime(2026, 10, 1, 8, tzinfo=UTC)
    bot.admin("tg create comms Communication")
    bot.admin("tg link comms", channel="#comms")
    bot.admin("tg add comms @carl as chair")
    bot.admin("tg add comms @dora")
    bot.admin("meeting schedule comms last thursday 14:00")
    bot.admin("meeting skip comms 2026-10-29")
    return bot


def held_in(bot: Bot, month: dt.date) -> int:
    with bot.sessions() as session:
        report = reports.build_report(reports.reader_ctx(session, bot.settings, bot.now), month)
    return next(g.held for g in report.groups if g.slug == "comms")


def test_a_chair_marks_the_last_meeting_held_and_the_report_counts_it(comms: Bot) -> None:
    comms.now = dt.datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert held_in(comms, dt.date(2026, 11, 1)) == 0  # the date passed, nothing was run
    out = comms.say("carl", "#comms", "meeting held comms")
    assert out == ("Marked the Communication meeting of Thu 26 Nov 2026 as held; the monthly "
                   "report counts it.")
    assert held_in(comms, dt.date(2026, 11, 1)) == 1
    with Session(comms.engine) as s:
        m = s.scalars(select(Meeting)).one()
        assert (m.occurrence_date, m.started_at, m.ended_at) == (
            dt.date(2026, 11, 26), dt.datetime(2026, 11, 26, 13, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 26, 13, tzinfo=dt.UTC))
        assert m.minutes_text is not None and "marked held by @carl" in m.minutes_text
    # again, by date: already held, nothing more written
    before = comms.counts()
    assert "already held" in comms.say("carl", "#comms", "meeting held comms 2026-11-26")
    assert comms.counts() == before
    assert held_in(comms, dt.date(2026, 11, 1)) == 1


def test_a_moved_meeting_is_marked_on_the_day_it_moved_to(comms: Bot) -> None:
    comms.admin("meeting move comms 2026-11-26 to 2026-11-24 09:30")
    comms.now = dt.datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert comms.ask("carl", "#comms", "meeting held comms 2026-11-26").error
    assert "meeting of Tue 24 Nov 2026 as held" in comms.say("carl", "#comms",
                                                               "meeting held comms")
    with Session(comms.engine) as s:
        m = s.scalars(select(Meeting)).one()
        # keyed by the series date, as agenda items and exceptions are; at the moved time
        assert (m.occurrence_date, m.started_at) == (
            dt.date(2026, 11, 26), dt.datetime(2026, 11, 24, 8, 30, tzinfo=dt.UTC))


@pytest.mark.parametrize(("when", "line", "expected"), [
    # a date that has not come yet (today's meeting later today included)
    ("2026-11-27 09:00", "meeting held comms 2026-12-31", "is in the future"),
    ("2026-11-26 10:00", "meeting held comms 2026-11-26", "had no meeting on Thu 26 Nov"),
    # not a date of the series, and a skipped one
    ("2026-11-27 09:00", "meeting held comms 2026-11-25", "had no meeting on Wed 25 Nov"),
    ("2026-11-27 09:00", "meeting held comms 2026-10-29", "had no meeting on Thu 29 Oct"),
    ("2026-11-27 09:00", "meeting held comms someday", "Can't read 'someday' as a date"),
    # nothing in the last 45 days to default to
    ("2026-11-20 09:00", "meeting held comms", "no meeting in the last 45 days"),
    # only a chair and up
    ("2026-11-27 09:00", "meeting held comms", "Only a chair of comms"),
])
def test_what_cannot_be_marked_writes_nothing(comms: Bot, when: str, line: str,
                                              expected: str) -> None:
    comms.now = dt.datetime.fromisoformat(when).replace(tzinfo=UTC)
    who = "dora" if expected.startswith("Only") else "carl"
    before = comms.counts()
    reply = comms.ask(who, "#comms", line)
    from bot.textrender import render_reply

    out = render_reply(reply)
    assert reply.error and expected in out, out
    assert comms.counts() == before
