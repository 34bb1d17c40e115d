"""Dialog tables for ``meeting``: (who, channel, input) -> reply, posts, and rows written.

The bot's clock is Saturday 28 Nov 2026, 10:00 in Brussels.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.core.messages import File, Reply, Text, When
from storage.models import Action, AgendaItem, MeetingException, MeetingSeries
from tests.support.dialog import Bot

UTC = dt.UTC


@pytest.fixture
def tg(bare_bot: Bot) -> Bot:
    """repl (linked to #repl, alice chair, bob member) and comms (no channel, no series)."""
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg create comms Communication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")
    bot.admin("tg add comms @carol")
    return bot


@pytest.fixture
def sched(tg: Bot) -> Bot:
    tg.admin("meeting schedule repl last thursday 10:00")
    return tg


def whens(reply: Reply) -> list[When]:
    return [s for b in reply.blocks if isinstance(b, Text) for s in b.spans
            if isinstance(s, When)]


def exceptions(bot: Bot) -> list[tuple[dt.date, str, dt.datetime | None]]:
    with Session(bot.engine) as s:
        return [(e.original_date, e.kind, e.new_start)
                for e in s.scalars(select(MeetingException).order_by(MeetingException.id))]


def the_series(bot: Bot) -> MeetingSeries:
    with Session(bot.engine, expire_on_commit=False) as s:
        series = s.scalars(select(MeetingSeries)).one()
        s.expunge(series)
        return series


# --- schedule ------------------------------------------------------------------------------


def test_schedule_from_elsewhere_is_posted_to_the_group(tg: Bot) -> None:
    before = tg.counts()
    reply = tg.ask("root", None, "meeting schedule repl last thursday 10:00")
    out = render_reply(reply)
    assert not reply.error and not reply.private
    assert "Replication now meets last Thursday at 10:00 Europe/Brussels, " \
           "reminders 7d, 1d, 1h before." in out
    assert "Next meeting: Thu 31 Dec 2026 10:00 CET" in out
    assert [(c.platform, c.channel_id) for p in reply.posts for c in p.channels] == [
        ("shell", "#repl")]
    after = tg.counts()
    assert after["meeting_series"] == 1 and after["audit_log"] == before["audit_log"] + 1
    s = the_series(tg)
    assert (s.rule, s.rule_text, s.start_time, s.timezone, s.remind_offsets, s.starts_on) == (
        "RRULE:FREQ=MONTHLY;BYDAY=-1TH", "last Thursday", dt.time(10), "Europe/Brussels",
        "7d,1d,1h", dt.date(2026, 11, 28))


def test_chair_schedules_in_own_channel_with_options(tg: Bot) -> None:
    reply = tg.ask("alice", "#repl", "meeting schedule repl 2nd Wednesday at 14:30 "
                   "America/New_York remind 2w, 30m link https://meet.example/r?a=1,b")
    out = render_reply(reply)
    assert not reply.error and not reply.private and reply.posts == ()
    assert "meets second Wednesday at 14:30 America/New_York, reminders 14d, 30m before" in out
    assert whens(reply)[0] == When(dt.datetime(2026, 12, 9, 19, 30, tzinfo=UTC),
                                   "America/New_York")
    assert "Join: https://meet.example/r?a=1,b" in out
    s = the_series(tg)
    assert (s.remind_offsets, s.link) == ("14d,30m", "https://meet.example/r?a=1,b")


def test_day_rules_and_raw_rrule(tg: Bot) -> None:
    out = tg.admin("meeting schedule repl day 31 09:00")
    assert "day 31 (or the month's last day)" in out and "Mon 30 Nov 2026 09:00 CET" in out
    out = tg.admin("meeting schedule repl RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1FR 09:00")
    assert "RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=1FR" in out and "Fri 01 Jan 2027" in out  # every other month from Nov
    assert tg.counts()["meeting_series"] == 1  # one series per group, replaced


def test_same_schedule_again_writes_nothing(sched: Bot) -> None:
    before = sched.counts()
    out = sched.say("alice", "#repl", "meeting schedule repl Last Thursday 10:00 Europe/Brussels")
    assert "repl already meets last Thursday at 10:00 Europe/Brussels" in out
    assert sched.counts() == before


def test_reschedule_keeps_only_matching_exceptions(sched: Bot) -> None:
    sched.admin("meeting skip repl 2027-01-28")
    sched.admin("meeting move repl 2027-02-25 to 2027-02-26 10:00")
    sched.admin("meeting schedule repl last thursday 11:00")  # same days: both kept
    assert [e[:2] for e in exceptions(sched)] == [(dt.date(2027, 1, 28), "skip"),
                                                  (dt.date(2027, 2, 25), "move")]
    assert "Thu 31 Dec 2026 11:00 CET" in sched.say("bob", "#repl", "meeting next")
    sched.admin("meeting schedule repl first monday 11:00")  # other days: dropped
    assert exceptions(sched) == []
    assert sched.counts()["meeting_exceptions"] == 0


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("bob", "meeting schedule repl first monday 10:00",
         "Only a chair of repl, the secretariat or an admin can do meeting schedule."),
        ("carol", "meeting schedule repl first monday 10:00",
         "Only a chair of repl, the secretariat or an admin can do meeting schedule."),
        ("alice", "meeting schedule comms first monday 10:00",
         "Only a chair of comms, the secretariat or an admin can do meeting schedule."),
        ("root", "meeting schedule nowhere first monday 10:00", "Unknown group 'nowhere'."),
        ("root", "meeting schedule", "Missing <group>."),
        ("root", "meeting schedule repl", "Missing <rule>."),
        ("root", "meeting schedule repl 10:00", "Missing <rule>"),
        ("root", "meeting schedule repl first monday", "Missing <HH:MM>"),
        ("root", "meeting schedule repl fifth monday 10:00", "Not every month has a fifth Monday"),
        ("root", "meeting schedule repl someday soon 10:00", "is not a meeting rule"),
        ("root", "meeting schedule repl day 32 10:00", "must be 1 to 31"),
        ("root", "meeting schedule repl first monday 25:00", "'25:00' is not a time of day"),
        ("root", "meeting schedule repl first monday 10:61", "'10:61' is not a time of day"),
        ("root", "meeting schedule repl first monday 10:00 Mars/Base",
         "Unknown time zone 'Mars/Base'"),
        ("root", "meeting schedule repl first monday 10:00 remind 0d", "must be before the meeting"),
        ("root", "meeting schedule repl first monday 10:00 remind 1x", "is not a reminder offset"),
        ("root", "meeting schedule repl first monday 10:00 remind 1d,2d,3d,4d,5d,6d,7d",
         "At most 6 reminders"),
        ("root", "meeting schedule repl first monday 10:00 remind", "Missing reminder offsets"),
        ("root", "meeting schedule repl first monday 10:00 link ftp://x.org",
         "is not a web link"),
        ("root", "meeting schedule repl first monday 10:00 link", "Missing <url>."),
        ("root", "meeting schedule repl first monday 10:00 Europe/Paris extra",
         "Unexpected 'extra'."),
        ("root", "meeting schedule repl RRULE:FREQ=MONTHLY;DTSTART=20260101T100000 10:00",
         "Leave DTSTART out"),
        ("root", "meeting schedule repl RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30 10:00",
         "gives no meeting"),
        ("root", "meeting schedule repl RRULE:FREQ=MONTHLY;UNTIL=20250101 10:00",
         "gives no meeting from 2026-11-28 on"),
        ("root", "meeting schedule repl RRULE:FREQ=MINUTELY 10:00", "FREQ must be"),
    ],
)
def test_schedule_refusals_write_nothing(tg: Bot, who: str, line: str, expected: str) -> None:
    before = tg.counts()
    reply = tg.ask(who, "#repl", line)
    out = render_reply(reply)
    assert reply.error and reply.private
    assert expected in out
    assert "Usage: meeting schedule <group> <rule> <HH:MM>" in out
    assert tg.counts() == before


# --- next ------------------------------------------------------------------------------------


def test_next_in_channel_and_for_all(sched: Bot) -> None:
    reply = sched.ask("bob", "#repl", "meeting next")
    assert not reply.error and reply.private
    assert whens(reply) == [When(dt.datetime(2026, 12, 31, 9, 0, tzinfo=UTC), "Europe/Brussels")]
    assert "Next Replication meeting: Thu 31 Dec 2026 10:00 CET" in render_reply(reply)
    sched.admin("meeting schedule comms first tuesday 16:00 Europe/Helsinki")
    for line, channel in (("meeting next", None), ("meeting next all", "#repl")):
        out = sched.say("dave", channel, line)
        assert "repl   Thu 31 Dec 2026 10:00 CET" in out
        assert "comms  Tue 01 Dec 2026 16:00 EET" in out
        assert out.index("comms") < out.index("repl")  # soonest first
    assert "Next Communication meeting" in sched.say("dave", "#repl", "meeting next comms")


def test_next_after_a_meeting_and_without_series(sched: Bot) -> None:
    sched.now = dt.datetime(2026, 12, 31, 9, 0, tzinfo=UTC)  # the meeting starts now
    assert "Thu 28 Jan 2027 10:00 CET" in sched.say("bob", "#repl", "meeting next")
    out = sched.say("bob", "#repl", "meeting next comms")
    assert "comms has no meeting scheduled" in out
    assert "Unknown group 'nowhere'" in sched.say("bob", "#repl", "meeting next nowhere")


def test_next_summer_time_and_gap(tg: Bot) -> None:
    tg.admin("meeting schedule repl last sunday 02:30")
    tg.now = dt.datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    reply = tg.ask("bob", "#repl", "meeting next")
    # 28 Mar 2027 02:30 does not exist in Brussels: shifted forward to 03:30 CEST
    assert whens(reply)[0].at == dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert "Sun 28 Mar 2027 03:30 CEST" in render_reply(reply)


# --- skip and move ---------------------------------------------------------------------------


def test_skip_announces_and_is_stored_by_original_date(sched: Bot) -> None:
    reply = sched.ask("root", None, "meeting skip repl 31 Dec")
    out = render_reply(reply)
    assert not reply.error and not reply.private
    assert "The Replication meeting of Thu 31 Dec 2026 is cancelled." in out
    assert "Next meeting: Thu 28 Jan 2027 10:00 CET" in out
    assert "[shell:#repl] The Replication meeting of Thu 31 Dec 2026 is cancelled." in out
    assert exceptions(sched) == [(dt.date(2026, 12, 31), "skip", None)]
    assert "Thu 28 Jan 2027" in sched.say("bob", "#repl", "meeting next")
    # typed in the group's own channel: said once, not posted again
    reply = sched.ask("alice", "#repl", "meeting skip repl 2027-01-28")
    assert not reply.error and reply.posts == ()


def test_move_then_skip_then_move_back(sched: Bot) -> None:
    out = sched.say("alice", "#repl", "meeting move repl 2026-12-31 to 2027-01-04 14:00")
    assert "The Replication meeting of Thu 31 Dec 2026 is now on Mon 04 Jan 2027 14:00 CET." in out
    assert exceptions(sched) == [(dt.date(2026, 12, 31), "move", dt.datetime(2027, 1, 4, 14))]
    out = sched.say("bob", "#repl", "meeting next")
    assert "Mon 04 Jan 2027 14:00 CET (moved from Thu 31 Dec)" in out
    # the moved meeting can be named by its new date
    out = sched.say("alice", "#repl", "meeting skip repl 2027-01-04")
    assert "of Mon 04 Jan 2027 (moved from Thu 31 Dec) is cancelled" in out
    assert exceptions(sched) == [(dt.date(2026, 12, 31), "skip", None)]
    # a skipped meeting can be moved again
    sched.say("alice", "#repl", "meeting move repl 2026-12-31 to 2027-01-05 09:00")
    assert exceptions(sched) == [(dt.date(2026, 12, 31), "move", dt.datetime(2027, 1, 5, 9))]
    # the time alone keeps the day
    sched.say("alice", "#repl", "meeting move repl 2027-01-05 to 11:00")
    assert exceptions(sched) == [(dt.date(2026, 12, 31), "move", dt.datetime(2027, 1, 5, 11))]
    out = sched.say("alice", "#repl", "meeting move repl 2027-01-05 to 2026-12-31 10:00")
    assert "is back at its usual time, Thu 31 Dec 2026 10:00 CET" in out
    assert exceptions(sched) == []


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("bob", "meeting skip repl 2026-12-31",
         "Only a chair of repl, the secretariat or an admin can do meeting skip."),
        ("bob", "meeting move repl 2026-12-31 to 2027-01-04 10:00",
         "Only a chair of repl, the secretariat or an admin can do meeting move."),
        ("root", "meeting skip nowhere 2026-12-31", "Unknown group 'nowhere'."),
        ("root", "meeting skip repl", "Missing <date>."),
        ("root", "meeting skip repl 31/11/2026", "is not a real date: numeric dates are day first"),
        ("root", "meeting skip repl someday", "someday"),
        ("root", "meeting skip repl 2026-12-30",
         "repl has no meeting on Wed 30 Dec 2026. Next meetings: Thu 31 Dec 2026, "
         "Thu 28 Jan 2027, Thu 25 Feb 2027, Thu 25 Mar 2027."),
        ("root", "meeting skip repl 2026-10-29", "Thu 29 Oct 2026 is past."),
        ("root", "meeting skip comms 2026-12-31", "comms has no meeting scheduled"),
        ("root", "meeting move repl 2026-12-30 to 2027-01-04 10:00",
         "repl has no meeting on Wed 30 Dec 2026"),
        ("root", "meeting move repl 2026-12-31 2027-01-04 10:00", "Missing to <date> <HH:MM>."),
        ("root", "meeting move repl 2026-12-31 to", "Missing the new <date>"),
        ("root", "meeting move repl to 2027-01-04 10:00", "Missing the <date> of the meeting"),
        ("root", "meeting move repl 2026-12-31 to 2027-01-04 25:00",
         "'25:00' is not a time of day"),
        ("root", "meeting move repl 2026-12-31 to 2026-11-01 10:00", "Sun 01 Nov 2026 10:00 is past."),
        ("root", "meeting move repl 2026-12-31 to 2027-01-28 09:00",
         "repl already meets on Thu 28 Jan 2027"),
        ("root", "meeting move repl 2026-12-31 to 2026-12-31 10:00", "is already at 10:00"),
        ("root", "meeting skip repl 9999-12-30", "30 Dec 9999 is more than 5 years ahead."),
        ("root", "meeting move repl 2026-12-31 to 9999-12-31 10:00", "is more than 5 years ahead"),
    ],
)
def test_skip_move_refusals_write_nothing(sched: Bot, who: str, line: str, expected: str) -> None:
    before = sched.counts()
    reply = sched.ask(who, "#repl", line)
    out = render_reply(reply)
    assert reply.error and reply.private
    assert expected in out
    assert sched.counts() == before


def test_skip_twice_is_an_error(sched: Bot) -> None:
    sched.admin("meeting skip repl 2026-12-31")
    before = sched.counts()
    out = sched.say("root", None, "meeting skip repl 2026-12-31")
    assert "The Thu 31 Dec 2026 meeting is already skipped." in out
    assert sched.counts() == before


# --- agenda ----------------------------------------------------------------------------------


def test_agenda_add_and_show_with_open_actions(sched: Bot) -> None:
    sched.admin("meeting move repl 2026-12-31 to 2027-01-04 14:00")
    reply = sched.ask("bob", "#repl", "meeting agenda Review the replication, plan")
    out = render_reply(reply)
    assert not reply.error and not reply.private
    assert ("Added to the agenda of the Replication meeting on Mon 04 Jan 2027 14:00 CET: "
            "Review the replication, plan") in out
    with Session(sched.engine) as s, s.begin():
        items = list(s.scalars(select(AgendaItem)))
        assert [(a.occurrence_date, a.text) for a in items] == [
            (dt.date(2026, 12, 31), "Review the replication, plan")]
        gid = items[0].group_id
        now = dt.datetime(2026, 11, 1)
        s.add_all([
            Action(group_id=gid, title="No due date", status="open", created_at=now),
            Action(group_id=gid, title="Due later", status="open", due=dt.date(2027, 1, 9),
                   created_at=now),
            Action(group_id=gid, title="Due first", status="open", due=dt.date(2026, 12, 1),
                   created_at=now),
            Action(group_id=gid, title="Already done", status="done", due=dt.date(2026, 1, 1),
                   created_at=now),
        ])
    out = sched.say("carol", None, "meeting agenda repl")
    assert "== Agenda: Replication, Mon 04 Jan 2027 14:00 CET (moved from Thu 31 Dec) ==" in out
    assert "1. Review the replication, plan (@bob)" in out
    assert out.index("Due first") < out.index("Due later") < out.index("No due date")
    assert "Already done" not in out


def test_agenda_of_the_next_meeting_only(sched: Bot) -> None:
    sched.say("alice", "#repl", "meeting agenda Budget")
    sched.now = dt.datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
    out = sched.say("alice", "#repl", "meeting agenda")
    assert "Thu 28 Jan 2027" in out and "Budget" not in out and "Nothing on the agenda" in out
    assert "No open actions." in out


@pytest.mark.parametrize(
    ("who", "channel", "line", "expected"),
    [
        ("carol", "#repl", "meeting agenda Sneaky item",
         "Only a member of repl (or the secretariat) can do meeting agenda."),
        ("bob", None, "meeting agenda", "Name a group: this channel is not linked to one."),
        ("carol", None, "meeting agenda comms Item", "comms has no meeting scheduled"),
        ("bob", "#repl", "meeting agenda " + "x" * 600, "too long"),
    ],
)
def test_agenda_refusals_write_nothing(sched: Bot, who: str, channel: str | None, line: str,
                                       expected: str) -> None:
    before = sched.counts()
    reply = sched.ask(who, channel, line)
    assert reply.error and reply.private
    assert expected in render_reply(reply)
    assert sched.counts() == before


# --- calendar --------------------------------------------------------------------------------


def test_calendar_file(sched: Bot) -> None:
    reply = sched.ask("dave", "#repl", "meeting calendar")
    files = [b for b in reply.blocks if isinstance(b, File)]
    assert not reply.error and len(files) == 1
    assert (files[0].name, files[0].mime) == ("repl.ics", "text/calendar")
    body = files[0].content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and "UID:series-" in body
    sched.admin("meeting schedule comms day 15 09:00 America/New_York")
    all_files = [b for b in sched.ask("dave", None, "meeting calendar").blocks
                 if isinstance(b, File)]
    assert all_files[0].name == "meetings.ics"
    text = all_files[0].content.decode()
    assert text.count("BEGIN:VTIMEZONE") == 2 and text.count("RRULE:FREQ=MONTHLY") == 2
    assert "comms.ics" in render_reply(sched.ask("dave", None, "meeting calendar comms"))


@pytest.mark.parametrize(
    ("line", "channel", "expected"),
    [
        ("meeting calendar comms", None, "comms has no meeting scheduled"),
        ("meeting calendar nowhere", None, "Unknown group 'nowhere'."),
    ],
)
def test_calendar_errors(sched: Bot, line: str, channel: str | None, expected: str) -> None:
    before = sched.counts()
    reply = sched.ask("dave", channel, line)
    assert reply.error and expected in render_reply(reply)
    assert sched.counts() == before


def test_calendar_with_nothing_scheduled(tg: Bot) -> None:
    reply = tg.ask("dave", None, "meeting calendar")
    assert reply.error and "No meetings are scheduled yet." in render_reply(reply)


# --- random lines ----------------------------------------------------------------------------

WORDS = st.sampled_from([
    "repl", "comms", "Replication", "nowhere", "all", "to", "remind", "link", "first", "last",
    "2nd", "5th", "thursday", "day", "31", "32", "0", "10:00", "25:00", "02:30", "Mars/Base",
    "Europe/Lisbon", "7d,1d", "0d", "https://x.org", "ftp://x", "2026-12-31", "2027-01-28",
    "9999-12-31", "tomorrow", "31/12/2026", "in", "2", "weeks", "RRULE:FREQ=MONTHLY",
    "RRULE:FREQ=DAILY;COUNT=2", "RRULE:FREQ=MONTHLY;INTERVAL=0", '"quoted words"', "<@U1>",
])


@given(
    verb=st.sampled_from(["schedule", "next", "skip", "move", "agenda", "calendar"]),
    words=st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=8),
    who=st.sampled_from(["root", "alice", "bob", "carol"]),
)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_lines_never_crash_and_errors_write_nothing(
    sched: Bot, verb: str, words: list[str], who: str
) -> None:
    before = sched.counts()
    reply = sched.ask(who, "#repl", f"meeting {verb} " + " ".join(words))
    out = render_reply(reply)
    assert "something went wrong" not in out
    if reply.error:
        assert sched.counts() == before
