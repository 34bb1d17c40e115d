"""Meeting mail carries a calendar invitation (iTIP, RFC 5546), read back with
``icalendar`` field by field: REQUEST with the series' stable UID, its rule, its zone and
the recipient as the attendee; a move raises SEQUENCE and adds the moved meeting; a skip
is a CANCEL of that one meeting. A calendar's answer, read from a real Dovecot, records
who is coming, as ``meeting rsvp`` does."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import make_msgid

import icalendar
from sqlalchemy import select

from storage.models import MeetingRsvp, MeetingSeries
from tests.email.wiring import ANA, BOT, Wired
from tests.support.dialog import Bot

UTC = dt.UTC
# the preset's Replication meeting: second Wednesday, 10:00 in Brussels, reminded 7 days,
# 1 day and 1 hour before; its first reminder from here: Wed 2 Dec 2026 10:00 CET
FIRST_REMINDER = dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def invitation(msg: EmailMessage) -> tuple[str, icalendar.Calendar]:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
    part = parts[0]
    raw = part.get_payload(decode=True)
    assert isinstance(raw, bytes)
    return str(part.get_param("method")), icalendar.Calendar.from_ical(raw)


def events(cal: icalendar.Calendar) -> list[icalendar.Event]:
    return [c for c in cal.walk("VEVENT")]


def series_id(bot: Bot) -> int:
    with bot.sessions() as s:
        found = s.scalar(select(MeetingSeries.id).join(MeetingSeries.group)
                         .where(MeetingSeries.group.has(slug="replication")))
        assert found is not None
        return found


def test_a_reminder_invites_the_reader_to_the_series(bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.now = FIRST_REMINDER
    wired.tick()
    [reminder] = wired.smtp.to(ANA)
    assert reminder.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in reminder.iter_parts()] == [
        "text/plain", "text/html", "text/calendar"]
    method, cal = invitation(reminder)
    assert method == "REQUEST" and str(cal["METHOD"]) == "REQUEST"
    [zone] = cal.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Brussels"
    [event] = events(cal)
    assert str(event["UID"]) == f"series-{series_id(bot)}@taskbot"
    assert int(event["SEQUENCE"]) == 0
    assert event["RRULE"]["FREQ"] == ["MONTHLY"]
    start = event.decoded("DTSTART")
    assert start.tzinfo is not None and start.astimezone(UTC).hour == 9  # 10:00 CET
    assert str(event["ORGANIZER"]) == f"mailto:{BOT}"
    attendee = event["ATTENDEE"]
    assert str(attendee) == f"mailto:{ANA}"
    assert attendee.params["RSVP"] == "TRUE" and attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    # the 1-day reminder carries the same invitation: the same UID and SEQUENCE
    bot.now = dt.datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    wired.tick()
    _, again = invitation(wired.smtp.to(ANA)[-1])
    assert [(str(e["UID"]), int(e["SEQUENCE"])) for e in events(again)] == [
        (str(event["UID"]), 0)]


def test_a_move_raises_the_sequence_and_a_skip_cancels_one_meeting(
        bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.admin("meeting move replication 2026-12-09 to 2026-12-10 14:00")
    bot.admin("meeting skip replication 2027-01-13")
    wired.tick()
    moved, skipped = wired.smtp.to(ANA)
    method, cal = invitation(moved)
    assert method == "REQUEST"
    master, override = events(cal)
    assert int(master["SEQUENCE"]) == int(override["SEQUENCE"]) == 1
    assert str(override["UID"]) == str(master["UID"])
    assert override.decoded("RECURRENCE-ID").replace(tzinfo=None) == dt.datetime(2026, 12, 9, 10)
    assert override.decoded("DTSTART").replace(tzinfo=None) == dt.datetime(2026, 12, 10, 14)
    method, cal = invitation(skipped)
    assert method == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
    [cancel] = events(cal)
    assert str(cancel["UID"]) == str(master["UID"]) and int(cancel["SEQUENCE"]) == 2
    assert str(cancel["STATUS"]) == "CANCELLED"
    assert cancel.decoded("RECURRENCE-ID").replace(tzinfo=None) == dt.datetime(2027, 1, 13, 10)
    assert "RSVP" not in cancel["ATTENDEE"].params


def answer(original: EmailMessage, partstat: str, *, recurrence: str | None,
           attendee: str = ANA) -> bytes:
    """What a calendar client sends when its user accepts, declines or says maybe."""
    _, cal = invitation(original)
    [event] = events(cal)[:1]
    reply = icalendar.Calendar()
    reply.add("prodid", "-//Example Calendar//EN")
    reply.add("version", "2.0")
    reply.add("method", "REPLY")
    ev = icalendar.Event()
    ev.add("uid", str(event["UID"]))
    ev.add("sequence", int(event["SEQUENCE"]))
    ev.add("dtstamp", dt.datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    if recurrence:
        ev.add("recurrence-id", dt.datetime.fromisoformat(recurrence))
    who = icalendar.vCalAddress(f"MAILTO:{attendee}")
    who.params["PARTSTAT"] = icalendar.vText(partstat)
    ev.add("attendee", who)
    reply.add_component(ev)
    msg = EmailMessage()
    msg["From"], msg["To"] = f"Ana <{ANA}>", BOT
    msg["Subject"] = f"{partstat.title()}: {original['Subject']}"
    msg["Message-ID"] = make_msgid(domain="lighthouse.eu")
    msg.set_content(f"Ana has {partstat.lower()} this invitation.")
    msg.add_alternative(reply.to_ical(), maintype="text", subtype="calendar",
                        params={"method": "REPLY"})
    return msg.as_bytes()


def rsvps(bot: Bot) -> list[tuple[dt.date | None, str, str]]:
    with bot.sessions() as s:
        return [(r.occurrence_date, r.answer, r.via)
                for r in s.scalars(select(MeetingRsvp).order_by(MeetingRsvp.id))]


def test_accepting_in_a_calendar_records_who_is_coming(bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.now = FIRST_REMINDER
    wired.tick()
    [reminder] = wired.smtp.to(ANA)
    before = bot.counts()
    wired.append(answer(reminder, "ACCEPTED", recurrence="2026-12-09T10:00:00"))
    [handled] = wired.inbox.check()
    assert not handled.ignored and handled.ran == (
        "meeting rsvp replication yes 2026-12-09",)
    assert rsvps(bot) == [(dt.date(2026, 12, 9), "yes", "email")]
    assert "Coming: 1 yes, 0 maybe, 0 no" in bot.admin("meeting next replication")
    wired.tick()
    assert len(wired.smtp.to(ANA)) == 1  # the client's own answer is not answered by mail
    # the whole series declined: every meeting, until one is answered otherwise
    wired.append(answer(reminder, "DECLINED", recurrence=None))
    wired.inbox.check()
    assert rsvps(bot) == [(None, "no", "email")]
    # someone else's answer, forwarded by Ana: nothing
    wired.append(answer(reminder, "ACCEPTED", recurrence=None, attendee="ben@follower.eu"))
    [other] = wired.inbox.check()
    assert other.ignored == "a calendar answer for someone else"
    assert rsvps(bot) == [(None, "no", "email")]
    assert bot.counts()["meeting_rsvps"] == before["meeting_rsvps"] + 1
