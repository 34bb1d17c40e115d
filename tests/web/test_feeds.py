"""Calendar feeds over real HTTP: signed per feed, read-only, and the .ics parsed back with
icalendar and recurring-ical-events gives exactly the bot's own occurrences over two years,
skips and moves included."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import icalendar
import recurring_ical_events
from sqlalchemy import select

from handlers.meetings._commands import occurrences
from handlers.reports import feed_path
from storage.models import Group
from tests.support.dialog import Bot
from tests.web.conftest import fetch

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(days=2 * 365)


def setup_groups(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg create comms Communication and Dissemination")
    bot.admin("tg create data Data Management")
    bot.admin("tg add repl @alice as chair")
    bot.admin("meeting schedule repl first tuesday 10:00 link https://meet.example/repl")
    bot.admin("meeting schedule comms last thursday 16:30 America/New_York")
    # 02:30 on the last Sunday of March falls in Brussels' DST gap: shifted, not dropped
    bot.admin("meeting schedule data RRULE:FREQ=MONTHLY;BYDAY=-1SU 02:30")
    bot.admin("meeting skip repl 2027-01-05")
    bot.admin("meeting skip comms 2027-11-25")
    bot.admin("meeting move repl 2027-03-02 to 2027-03-04 15:00")
    bot.admin("meeting move comms 2028-06-29 to 2028-07-03 09:00")
    bot.admin("meeting skip data 2027-10-31")


def link(bot: Bot, base: str, line: str, who: str = "root") -> str:
    bot.router.settings = dataclasses.replace(bot.settings, public_url=base)
    out = bot.say(who, None, line)
    found = re.search(r"(http://\S+/calendar/\S+\.ics\?token=[0-9a-f]{32})", out)
    assert found, out
    return found.group(1)


def bot_occurrences(bot: Bot, slugs: list[str]) -> set[tuple[str, dt.datetime]]:
    out: set[tuple[str, dt.datetime]] = set()
    with bot.sessions() as session:
        for g in session.scalars(select(Group).where(Group.slug.in_(slugs))):
            assert g.series is not None
            for occ in occurrences(g.series, START, END):
                out.add((f"{g.name} meeting", occ.start.astimezone(dt.UTC)))
    return out


def feed_occurrences(body: str) -> set[tuple[str, dt.datetime]]:
    cal = icalendar.Calendar.from_ical(body)
    events = recurring_ical_events.of(cal).between(START, END)
    return {(str(e["SUMMARY"]), e["DTSTART"].dt.astimezone(dt.UTC)) for e in events}


def test_feed_gives_the_bots_occurrences_over_two_years(bare_bot: Bot, served: str) -> None:
    setup_groups(bare_bot)
    resp = fetch(link(bare_bot, served, "meeting feed all"))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
    expected = bot_occurrences(bare_bot, ["repl", "comms", "data"])
    assert len(expected) == 24 * 3 - 3  # three skipped; moves stay one meeting each
    assert feed_occurrences(resp.body) == expected
    moved = dt.datetime(2027, 3, 4, 14, 0, tzinfo=dt.UTC)  # 15:00 Brussels (CET)
    assert ("Replication meeting", moved) in expected
    # the group's own feed has only its series, with its link
    repl = fetch(link(bare_bot, served, "meeting feed repl", who="alice"))
    assert repl.status == 200 and "URL:https://meet.example/repl" in repl.body
    assert feed_occurrences(repl.body) == bot_occurrences(bare_bot, ["repl"])


def test_subscribers_see_changes_at_the_same_address(bare_bot: Bot, served: str) -> None:
    setup_groups(bare_bot)
    url = link(bare_bot, served, "meeting feed repl")
    before = feed_occurrences(fetch(url).body)
    bare_bot.admin("meeting skip repl 2027-02-02")
    after = feed_occurrences(fetch(url).body)
    gone = before - after
    assert gone == {("Replication meeting", dt.datetime(2027, 2, 2, 9, 0, tzinfo=dt.UTC))}
    assert after == bot_occurrences(bare_bot, ["repl"])


def test_wrong_or_missing_tokens_are_refused(bare_bot: Bot, served: str) -> None:
    setup_groups(bare_bot)
    # no secret yet: nothing can be valid
    assert fetch(f"{served}/calendar/repl.ics?token={'0' * 32}").status == 403
    good = link(bare_bot, served, "meeting feed repl", who="alice")
    token = good.rsplit("=", 1)[1]
    assert fetch(good).status == 200
    # the token is alice's: every feed she may read, and no other
    assert fetch(f"{served}/calendar/comms.ics?token={token}").status == 403
    assert fetch(f"{served}/calendar/all.ics?token={token}").status == 200
    assert fetch(f"{served}/calendar/repl.ics").status == 403
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    refused = fetch(f"{served}/calendar/repl.ics?token={forged}")
    assert refused.status == 403 and "BEGIN:VCALENDAR" not in refused.body
    # a valid token for a group that is gone
    assert fetch(served + feed_path(token, "ghost")).status == 404
    # read-only: no other method
    import urllib.request

    req = urllib.request.Request(good, data=b"x", method="POST")
    try:
        urllib.request.urlopen(req, timeout=30)
        raise AssertionError("POST was accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 405


def test_all_feed_has_only_the_groups_the_holder_may_see(bare_bot: Bot, served: str) -> None:
    setup_groups(bare_bot)
    # alice chairs repl only: her "all" feed is repl's meetings, not comms' or data's
    url = link(bare_bot, served, "meeting feed all", who="alice")
    assert feed_occurrences(fetch(url).body) == bot_occurrences(bare_bot, ["repl"])
    # checked on every fetch, against her memberships as they are now
    bare_bot.admin("tg add comms @alice")
    bare_bot.admin("tg remove repl @alice")
    assert feed_occurrences(fetch(url).body) == bot_occurrences(bare_bot, ["comms"])
    # the secretariat's "all" is every group
    bare_bot.admin("tg create secretariat Secretariat")
    bare_bot.admin("tg add secretariat @sam")
    staff = link(bare_bot, served, "meeting feed all", who="sam")
    assert feed_occurrences(fetch(staff).body) == bot_occurrences(
        bare_bot, ["repl", "comms", "data"])
