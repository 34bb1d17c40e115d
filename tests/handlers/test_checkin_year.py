"""A year of check-in rounds (the Board meets each second Thursday at 10:00 in Brussels),
across the DST changes of four zones: every askee prompted once a round, at 09:00 where they
are; nobody away prompted; edits kept; a group that never answers escalated once a round;
each round's compilation posted once. The clock is injected and ticks hourly around each
round's opening, reminder and close (SQLite: a year of ticks is the test's cost)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.models import CheckinAnswer, CheckinRound
from tests.handlers.test_checkins import said
from tests.handlers.test_delivery import RecordingSender, engine_for
from tests.support.dialog import Bot

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
ZONES = {"alice": "America/New_York", "carl": "Asia/Tokyo", "fay": "Australia/Sydney",
         "dora": None}  # dora reads the group's zone: the bot's, Brussels
BOT_ZONE = "Europe/Brussels"


@pytest.fixture
def year_bot(bot: Bot) -> Bot:
    if bot.engine.dialect.name != "sqlite":
        pytest.skip("a year of ticks runs on SQLite; the race test covers PostgreSQL")
    return bot


def test_a_year_of_rounds_in_four_zones(year_bot: Bot) -> None:
    bot = year_bot
    bot.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for line in ("tg add boc @bea", "tg add secretariat @sam",
                 "tg add replication @alice as chair", "tg add comms @carl as chair",
                 "tg add finance @fay as chair", "tg add data @dora as chair",
                 "meeting schedule boc second thursday 10:00 Europe/Brussels"):
        bot.admin(line)
    for who, zone in ZONES.items():
        if zone:
            said(bot, who, f"me zone {zone}")
    # dora is away through March 2027: that round does not ask her, nor count Data missing
    said(bot, "dora", "me away 2027-03-01 to 2027-03-31")
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    sent: list[tuple[dt.datetime, str, str]] = []

    def tick_through(start: dt.datetime, end: dt.datetime) -> None:
        t = start
        while t <= end:
            bot.now = t
            engine.tick(t)
            sent.extend((t, key, ch.channel_id) for ch, _text, key in sender.sent)
            sender.sent.clear()
            t += HOUR

    meetings = []
    day = dt.date(2026, 12, 1)
    while day < dt.date(2027, 12, 1):
        first = day.replace(day=1)
        thursdays = [first + dt.timedelta(days=d) for d in range(14)
                     if (first + dt.timedelta(days=d)).weekday() == 3]
        meetings.append(thursdays[1])
        day = (first + dt.timedelta(days=32)).replace(day=1)
    for n, meeting in enumerate(meetings):
        opens = meeting - dt.timedelta(days=5)
        start = dt.datetime.combine(opens - dt.timedelta(days=1), dt.time(0), UTC)
        tick_through(start, start + dt.timedelta(hours=60))
        # everyone but carl answers; alice changes her answer; fay answers only in even months
        said(bot, "alice", f"checkin Round {n} progress")
        said(bot, "alice", f"checkin edit 1 Round {n} progress, corrected")
        if n % 2 == 0:
            said(bot, "fay", "checkin Nothing blocks us")
        if not dt.date(2027, 3, 1) <= opens <= dt.date(2027, 3, 31):
            said(bot, "dora", "checkin Data moved")
        close = dt.datetime.combine(meeting - dt.timedelta(days=1), dt.time(0), UTC)
        tick_through(close - dt.timedelta(hours=40), close + dt.timedelta(hours=12))
    with bot.sessions() as s:
        rounds = list(s.scalars(select(CheckinRound).order_by(CheckinRound.meeting_date)))
        assert [r.meeting_date for r in rounds] == meetings
        assert {r.status for r in rounds} == {"closed"}
        corrected = list(s.scalars(select(CheckinAnswer.text).where(
            CheckinAnswer.number == 1, CheckinAnswer.text.like("%corrected"))))
        assert len(corrected) == 12
    keys = Counter(key for _t, key, _ch in sent)
    assert {k: n for k, n in keys.items() if n > 1} == {}  # every row sent once
    by_round = {r.id: r for r in rounds}
    prompted: dict[int, set[str]] = {r.id: set() for r in rounds}
    for at, key, channel in sent:
        if not key.startswith("checkin_prompt:"):
            continue
        _kind, round_id, _group, _person = key.split(":")[:4]
        who = channel.removeprefix("dm:")
        r = by_round[int(round_id)]
        local = at.astimezone(ZoneInfo(ZONES[who] or BOT_ZONE))
        # at 09:00 on the opening day where each one is, whatever DST did that week
        assert (local.date(), local.time()) == (r.opens_on, dt.time(9, 0)), (who, at)
        prompted[r.id].add(who)
    for at, key, channel in sent:
        if key.startswith("checkin_reminder:"):
            who = channel.removeprefix("dm:")
            r = by_round[int(key.split(":")[1])]
            zone = ZoneInfo(ZONES[who] or BOT_ZONE)
            local = at.astimezone(zone)
            # 09:00 the day before the close, there (Nov 2027: after New York's DST ended
            # between alice's prompt and her reminder)
            assert local.time() == dt.time(9, 0), (who, at)
            assert local.date() == r.closes_at.astimezone(zone).date() - dt.timedelta(days=1)
    for r in rounds:
        expected = {"alice", "carl", "fay", "dora"}
        if r.opens_on.month == 3 and r.opens_on.year == 2027:
            expected.discard("dora")
        assert prompted[r.id] == expected, r.meeting_date
    # the Board's compilation, once a round; carl's Communication escalated once a round
    closes = [key for _t, key, ch in sent if "checkin-close" in key and ch == "#boc"]
    assert len(closes) == 12
    escalated = [key for _t, key, ch in sent if "checkin-close" in key and ch == "dm:carl"]
    assert len(escalated) == 12
    # fay answered in even rounds: reminded in the odd ones only; alice never (she answered
    # one of three questions, so she is reminded each round), dora not in her away month
    reminded = Counter(ch.removeprefix("dm:") for _t, key, ch in sent
                       if key.startswith("checkin_reminder:"))
    assert reminded["alice"] == 12 and reminded["carl"] == 12
    assert reminded["fay"] == 12  # one answer of three is not all: reminded each round
    assert reminded["dora"] == 11
