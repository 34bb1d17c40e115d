"""The .ics export: RFC 5545 framing, the VTIMEZONE against zoneinfo, and the events against
the occurrences the bot itself computes. Parsed by a small reader written here (no calendar
library is a dependency), and the VTIMEZONE by dateutil's independent tzical."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from handlers.core.messages import File
from handlers.core.recurrence import place
from handlers.meetings._commands import occurrences
from handlers.meetings._ics import escape_text, fold, vtimezone
from storage.models import MeetingSeries
from tests.support.dialog import Bot

UTC = dt.UTC


@dataclass
class Prop:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class Component:
    name: str
    props: list[Prop] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def get(self, name: str) -> list[Prop]:
        return [p for p in self.props if p.name == name]

    def one(self, name: str) -> Prop:
        found = self.get(name)
        assert len(found) == 1, (name, found)
        return found[0]

    def sub(self, name: str) -> list[Component]:
        return [c for c in self.children if c.name == name]


def unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    for line in physical:
        assert "\n" not in line and "\r" not in line
        assert len(line.encode("utf-8")) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def parse(text: str) -> Component:
    """A VCALENDAR as a tree (enough of RFC 5545 for what the bot writes)."""
    stack: list[Component] = []
    root: Component | None = None
    for line in unfold(text):
        head, _, value = line.partition(":")
        name, *raw_params = head.split(";")
        params = dict(p.split("=", 1) for p in raw_params)
        if name == "BEGIN":
            comp = Component(value)
            if stack:
                stack[-1].children.append(comp)
            stack.append(comp)
        elif name == "END":
            assert stack and stack[-1].name == value
            root = stack.pop()
        else:
            assert stack, line
            stack[-1].props.append(Prop(name, params, value))
    assert not stack and root is not None and root.name == "VCALENDAR"
    return root


def calendar_of(bot: Bot, line: str = "meeting calendar repl") -> str:
    reply = bot.ask("dave", None, line)
    assert not reply.error
    files = [b for b in reply.blocks if isinstance(b, File)]
    assert files and files[0].mime == "text/calendar"
    return files[0].content.decode("utf-8")


def local(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y%m%dT%H%M%S")


LONG_NAME = "Données, vie privée; éthique – " + "Ünïcödé 数据管理 " * 5


@pytest.fixture
def cal_bot(bare_bot: Bot) -> Bot:
    bot = bare_bot
    bot.admin(f"tg create repl {LONG_NAME}")
    bot.admin("meeting schedule repl last thursday 10:00 link https://meet.example/a,b;c")
    bot.admin("meeting skip repl 2026-12-31")
    bot.admin("meeting move repl 2027-01-28 to 2027-01-29 14:00")
    return bot


def test_framing_and_properties(cal_bot: Bot) -> None:
    text = calendar_of(cal_bot)
    cal = parse(text)
    assert cal.one("VERSION").value == "2.0"
    assert cal.one("PRODID").value
    (vtz,) = cal.sub("VTIMEZONE")
    assert vtz.one("TZID").value == "Europe/Brussels"
    assert vtz.sub("STANDARD") and vtz.sub("DAYLIGHT")
    for obs in vtz.sub("STANDARD") + vtz.sub("DAYLIGHT"):
        assert {"DTSTART", "TZOFFSETFROM", "TZOFFSETTO"} <= {p.name for p in obs.props}

    master, override = cal.sub("VEVENT")
    uid = master.one("UID").value
    assert uid.startswith("series-") and uid.endswith("@taskbot")
    start = master.one("DTSTART")
    assert start.params == {"TZID": "Europe/Brussels"} and start.value == "20261231T100000"
    assert master.one("RRULE").value == "FREQ=MONTHLY;BYDAY=-1TH"
    assert master.one("DURATION").value == "PT60M"
    assert master.one("DTSTAMP").value == "20261128T090000Z"
    exdate = master.one("EXDATE")
    assert exdate.params == {"TZID": "Europe/Brussels"} and exdate.value == "20261231T100000"
    assert master.one("URL").value == "https://meet.example/a,b;c"
    assert master.one("LOCATION").value == "https://meet.example/a\\,b\\;c"
    # text is escaped and survives folding whole, multibyte characters included
    assert master.one("SUMMARY").value == escape_text(LONG_NAME.strip() + " meeting")
    assert len(master.one("SUMMARY").value.encode()) > 75

    assert override.one("UID").value == uid
    rid = override.one("RECURRENCE-ID")
    assert rid.params == {"TZID": "Europe/Brussels"} and rid.value == "20270128T100000"
    assert override.one("DTSTART").value == "20270129T140000"


def test_events_expand_to_the_bots_own_occurrences(cal_bot: Bot) -> None:
    cal_bot.admin("meeting skip repl 2027-03-25")
    cal = parse(calendar_of(cal_bot))
    master, *overrides = cal.sub("VEVENT")
    zone = master.one("DTSTART").params["TZID"]
    rule = rrulestr("RRULE:" + master.one("RRULE").value,
                    dtstart=local(master.one("DTSTART").value))
    excluded = {local(v) for p in master.get("EXDATE") for v in p.value.split(",")}
    moved = {local(o.one("RECURRENCE-ID").value): local(o.one("DTSTART").value)
             for o in overrides}
    lo, hi = dt.datetime(2026, 11, 28), dt.datetime(2029, 1, 1)
    from_ics = sorted(
        place(moved.get(w, w), zone).astimezone(UTC)
        for w in rule.between(lo, hi, inc=True) if w not in excluded
    )
    with Session(cal_bot.engine) as s:
        series = s.scalars(
            select(MeetingSeries).options(selectinload(MeetingSeries.exceptions))).one()
        ours = [o.start for o in occurrences(series, lo.replace(tzinfo=UTC),
                                             hi.replace(tzinfo=UTC))]
    assert from_ics == ours
    assert dt.datetime(2027, 1, 29, 13, 0, tzinfo=UTC) in ours
    assert len(ours) == 25 - 2  # Dec 2026 to Dec 2028, two skipped


@pytest.mark.parametrize(
    "zone",
    ["Europe/Brussels", "Europe/Lisbon", "Europe/Helsinki", "America/New_York",
     "Asia/Tokyo", "Australia/Lord_Howe", "America/Sao_Paulo"],
)
def test_vtimezone_agrees_with_zoneinfo(zone: str) -> None:
    start, end = dt.datetime(2009, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC)
    lines = vtimezone(ZoneInfo(zone), start, end)
    ical = tz.tzical(io.StringIO("\r\n".join(lines))).get(zone)
    zi = ZoneInfo(zone)
    # every 11 hours from a year in (the calendar starts a year before its first event) to
    # ten years past the span (the yearly RRULE carries on)
    at = start + dt.timedelta(days=366)
    first = at
    probes = []
    while at < dt.datetime(2040, 1, 1, tzinfo=UTC):
        probes.append(at)
        at += dt.timedelta(hours=11)
    # and a second either side of each real transition
    from handlers.meetings._ics import transitions

    for tr in transitions(zi, first, dt.datetime(2040, 1, 1, tzinfo=UTC)):
        probes += [tr.at - dt.timedelta(seconds=1), tr.at]
    wrong = [p for p in probes if p.astimezone(ical).utcoffset() != p.astimezone(zi).utcoffset()]
    assert wrong == []


def test_until_is_written_in_utc(bare_bot: Bot) -> None:
    bare_bot.admin("tg create repl Replication")
    bare_bot.admin("meeting schedule repl RRULE:FREQ=MONTHLY;BYDAY=1MO;UNTIL=20270630 18:00")
    master = parse(calendar_of(bare_bot)).sub("VEVENT")[0]
    # the whole last local day, 23:59:59 CEST
    assert master.one("RRULE").value == "FREQ=MONTHLY;BYDAY=1MO;UNTIL=20270630T215959Z"
    assert master.one("DTSTART").value == "20261207T180000"


def test_first_dtstart_is_a_real_occurrence(bare_bot: Bot) -> None:
    # today (Sat 28 Nov) is not a first Monday: DTSTART must not invent a meeting on it
    bare_bot.admin("tg create repl Replication")
    bare_bot.admin("meeting schedule repl first monday 09:00 America/New_York")
    master = parse(calendar_of(bare_bot)).sub("VEVENT")[0]
    assert master.one("DTSTART").value == "20261207T090000"
    assert master.get("EXDATE") == []


def test_all_groups_in_one_calendar(bare_bot: Bot) -> None:
    bare_bot.admin("tg create repl Replication")
    bare_bot.admin("tg create data Data")
    bare_bot.admin("meeting schedule repl first monday 09:00 America/New_York")
    bare_bot.admin("meeting schedule data day 15 09:00")
    cal = parse(calendar_of(bare_bot, "meeting calendar"))
    assert sorted(v.one("TZID").value for v in cal.sub("VTIMEZONE")) == [
        "America/New_York", "Europe/Brussels"]
    assert len({e.one("UID").value for e in cal.sub("VEVENT")}) == 2


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("a,b;c\\d", "a\\,b\\;c\\\\d"), ("two\nlines\r\nhere", "two\\nlines\\nhere"),
     ("bell\x07", "bell")],
)
def test_escape_text(raw: str, escaped: str) -> None:
    assert escape_text(raw) == escaped


@given(st.text(min_size=0, max_size=400).filter(lambda s: "\r" not in s and "\n" not in s))
@settings(max_examples=200)
def test_fold_round_trips_without_splitting_characters(line: str) -> None:
    folded = fold(line)
    physical = folded.split("\r\n")
    for part in physical:
        assert len(part.encode("utf-8")) <= 75
    assert all(p.startswith(" ") for p in physical[1:])
    assert physical[0] + "".join(p[1:] for p in physical[1:]) == line
