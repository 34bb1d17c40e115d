"""``meeting minutes``: every past meeting of a group, listed with its id and read back.

A group may meet several times on one day (a meeting that ran long and was restarted, an
extra session), so a date alone does not name a meeting: each one has an id (``M-12``), and
a date can be followed by the meeting's number that day (``2026-12-02 2``). A date with
several meetings and no number lists them rather than picking one silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import mention
from handlers.core.grammar import UserError, ascii_int
from handlers.core.i18n import _, _n
from handlers.core.messages import Block, Day, File, Reply, Span, Table, at_name, text
from handlers.core.params import Values
from handlers.core.roles import ANYONE
from handlers.core.router import Registry
from handlers.decisions import past_date
from handlers.meeting_mode._capture import carried_of, minutes_blocks, zone_of
from handlers.meetings import held_note
from storage.models import Group, Meeting, MeetingItem, Person

MINUTES_GROUP = p.maybe_group(more=True)
WHICH = p.words("[list|<M-id>|<date> [<n>]]")
# a list answers with the most recent meetings; older ones are reached by date or id
LIST_MAX = 50
_ID = re.compile(r"^[Mm]-?(\d{1,9})$", re.ASCII)


def meeting_id(word: str) -> int | None:
    """``M-12`` (or ``m12``) -> 12."""
    m = _ID.match(word)
    return int(m.group(1)) if m else None


def marked_held(meeting: Meeting) -> bool:
    """A meeting marked held by ``meeting held``: opened, ended and closed at once, nothing
    captured (one started in a channel closes 5 minutes after its start at the earliest, so
    one ended at once, with only a roll call or a motion, is no such meeting)."""
    return (meeting.started_at == meeting.ended_at == meeting.closes_at
            and not meeting.items)


def _held_minutes(ctx: Ctx, meeting: Meeting, zone: ZoneInfo) -> str:
    """The minutes of a meeting marked held: the note it was stored with, said again in the
    reader's language when it still reads the same in English (else as stored)."""
    stored = meeting.minutes_text or ""
    who = (ctx.session.get(Person, meeting.started_by_id)
           if meeting.started_by_id is not None else None)
    if who is None:
        return stored
    note = held_note(meeting.group.name, Day(meeting.started_at.astimezone(zone).date()),
                     at_name(who.display_name))
    return note if note == stored else stored


def _past(group: Group) -> Select[Meeting]:
    return (select(Meeting).where(Meeting.group_id == group.id, Meeting.ended_at.is_not(None))
            .order_by(Meeting.started_at, Meeting.id))


def _on_day(ctx: Ctx, group: Group, day: dt.date, zone: ZoneInfo) -> list[Meeting]:
    lo = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return list(ctx.session.scalars(
        select(Meeting).where(
            Meeting.group_id == group.id, Meeting.ended_at.is_not(None),
            Meeting.started_at >= lo, Meeting.started_at < hi,
        ).order_by(Meeting.started_at, Meeting.id)))


def _same_day(ctx: Ctx, meeting: Meeting, zone: ZoneInfo) -> list[Meeting]:
    day = meeting.started_at.astimezone(zone).date()
    return _on_day(ctx, meeting.group, day, zone)


def _numbers(meetings: Sequence[Meeting], zone: ZoneInfo) -> dict[int, tuple[int, int]]:
    """Each meeting's number on its day and how many that day had: ``(2, 3)``."""
    days: dict[dt.date, list[int]] = {}
    for m in sorted(meetings, key=lambda m: (m.started_at, m.id)):
        days.setdefault(m.started_at.astimezone(zone).date(), []).append(m.id)
    return {mid: (i, len(ids)) for ids in days.values() for i, mid in enumerate(ids, 1)}


def _table(ctx: Ctx, meetings: Sequence[Meeting], zone: ZoneInfo,
           numbers: dict[int, tuple[int, int]]) -> Table:
    """One row per meeting: id, local date and time, its number that day, chairs, items."""
    counts: dict[int, int] = {
        mid: n for mid, n in ctx.session.execute(
            select(MeetingItem.meeting_id, func.count()).where(
                MeetingItem.meeting_id.in_([m.id for m in meetings]),
                MeetingItem.kind != "chair").group_by(MeetingItem.meeting_id))}
    rows = []
    for m in meetings:
        start = m.started_at.astimezone(zone)
        chairs: list[Span] = []
        for i, pid in enumerate(m.chair_ids or []):
            person = ctx.session.get(Person, pid)
            if person is not None:
                chairs += [", " if i else "", mention(person)]
        items = _n("{n} item", "{n} items", counts.get(m.id, 0))
        if marked_held(m):
            # TRANSLATORS: a meeting marked held with meeting held (no minutes taken in chat)
            what = _("marked held")
        elif m.auto_closed:
            what = _("{items}, closed automatically", items=items)
        else:
            what = items
        nth, of = numbers[m.id]
        when = f"{start:%a %d %b %Y %H:%M}"
        if of > 1:
            # TRANSLATORS: the second of three meetings held on one day: "Thu 31 Dec 2026
            # 10:00 (2 of 3)"
            when = _("{when} ({nth} of {count})", when=when, nth=nth, count=of)
        rows.append(((f"M-{m.id}",), (when,), tuple(chairs) or ("-",), (what,)))
    # TRANSLATORS: the headers of the table of meetings (meeting minutes list): its id
    # (M-3), when it began, its chairs, what its minutes hold
    headers = (_("id"), _("when"), _("chaired by"), _("minutes"))
    return Table(headers, tuple(rows))


def _listing(ctx: Ctx, group: Group, meetings: list[Meeting], zone: ZoneInfo,
             heading: str) -> Reply:
    reply = Reply().say(heading, style="heading")
    shown = list(reversed(meetings))[:LIST_MAX]
    reply = reply.add(_table(ctx, shown, zone, _numbers(meetings, zone)))
    if len(meetings) > LIST_MAX:
        oldest = shown[-1].started_at.astimezone(zone)
        reply = reply.say(_n("{n} older meeting, before {date}, is not listed: {command} "
                             "finds it.",
                             "{n} older meetings, before {date}, are not listed: {command} "
                             "finds one.",
                             len(meetings) - LIST_MAX, date=Day(oldest.date(), form="short"),
                             command=f"meeting minutes {group.slug} <date>"))
    reply = reply.say(_("{command} returns one meeting's minutes.",
                        command=f"meeting minutes {group.slug} M-<id>"))
    return reply


def _minutes(ctx: Ctx, meeting: Meeting, zone: ZoneInfo) -> Reply:
    """The minutes as stored, with .md, .html and .txt files named by day (and by number
    when the day had several meetings)."""
    group = meeting.group
    day = _same_day(ctx, meeting, zone)
    stamp = f"{meeting.started_at.astimezone(zone):%Y-%m-%d}"
    if len(day) > 1:
        stamp += f"-{[m.id for m in day].index(meeting.id) + 1}"
    name = f"minutes-{group.slug}-{stamp}"
    # TRANSLATORS: the title of the files of a meeting's minutes: "Minutes repl 2026-12-31"
    title = _("Minutes {group} {date}", group=group.slug, date=stamp)
    reply = Reply()
    if marked_held(meeting):
        blocks: list[Block] = [text(_("Minutes: {group} meeting {meeting}, {date}",
                                      group=group.name, meeting=f"M-{meeting.id}",
                                      date=Day(meeting.started_at.astimezone(zone).date())),
                                    style="heading"),
                               text(_held_minutes(ctx, meeting, zone))]
    else:
        blocks = minutes_blocks(ctx.session, meeting, ctx.settings, carried_of(meeting))
    reply = reply.add(*blocks)
    if len(day) > 1:
        others = ", ".join(f"M-{m.id}" for m in day if m.id != meeting.id)
        reply = reply.say(_n("{group} met {n} time that day; the others: {others} "
                             "({command}).",
                             "{group} met {n} times that day; the others: {others} "
                             "({command}).",
                             len(day), group=group.slug, others=others,
                             command=f"meeting minutes {group.slug} list"))
    reply = reply.add(File(f"{name}.md", "text/markdown",
                           (meeting.minutes_md or "").encode("utf-8"), title))
    reply = reply.add(File(f"{name}.html", "text/html",
                           (meeting.minutes_html or "").encode("utf-8"), title))
    reply = reply.add(File(f"{name}.txt", "text/plain",
                           (meeting.minutes_text or "").encode("utf-8"), title))
    return reply


def _by_date(ctx: Ctx, words: list[str], today: dt.date) -> tuple[dt.date, int | None]:
    """``<date>`` or ``<date> <n>``: a last word that is a small number is the meeting's
    number that day when the words before it are a date (``2 Dec`` stays a date)."""
    n = ascii_int(words[-1], 3) if len(words) > 1 else None
    if n is not None:
        try:
            return past_date(words[:-1], today), n
        except UserError:
            pass
    return past_date(words, today), None


def register(reg: Registry) -> None:
    @reg.command(
        "meeting", "minutes", p.spec(MINUTES_GROUP, WHICH),
        _("a group's past meetings: list shows them with their ids; M-<id>, or a date and the "
          "meeting's number that day, returns one's minutes (with .md and .html); no argument "
          "the last meeting's"),
        ANYONE,
    )
    def meeting_minutes(ctx: Ctx, v: Values) -> Reply:
        group, words = v[MINUTES_GROUP], v[WHICH]
        if len(words) == 1 and (mid := meeting_id(words[0])) is not None:
            meeting = ctx.session.get(Meeting, mid)
            if meeting is None or meeting.ended_at is None:
                raise UserError(
                    _("No minutes of a meeting {meeting} (it is still running).",
                      meeting=f"M-{mid}") if meeting
                    else _("No minutes of a meeting {meeting}.", meeting=f"M-{mid}"),
                    show_usage=False)
            if group is not None and meeting.group_id != group.id:
                raise UserError(_("{meeting} is a meeting of {group}, not of {other}.",
                                  meeting=f"M-{mid}", group=meeting.group.slug,
                                  other=group.slug), show_usage=False)
            return _minutes(ctx, meeting, ZoneInfo(zone_of(meeting.group, ctx.settings)))
        group = group or ctx.channel_group
        if group is None:
            raise UserError(_("Name the group: this channel is not linked to one."))
        zone = ZoneInfo(zone_of(group, ctx.settings))
        today = ctx.now.astimezone(zone).date()
        if len(words) == 1 and words[0].lower() in ("list", "all"):
            meetings = list(ctx.session.scalars(_past(group)))
            if not meetings:
                raise UserError(_("No minutes of a {group} meeting yet.", group=group.slug),
                                show_usage=False)
            return _listing(ctx, group, meetings, zone,
                            _("Meetings of {group}", group=group.name))
        if not words:
            last = ctx.session.scalars(
                select(Meeting).where(Meeting.group_id == group.id,
                                      Meeting.ended_at.is_not(None))
                .order_by(Meeting.started_at.desc(), Meeting.id.desc()).limit(1)).first()
            if last is None:
                raise UserError(_("No minutes of a {group} meeting yet.", group=group.slug),
                                show_usage=False)
            return _minutes(ctx, last, zone)
        day, n = _by_date(ctx, words, today)
        found = _on_day(ctx, group, day, zone)
        if not found:
            raise UserError(_("No minutes of a {group} meeting on {date}.", group=group.slug,
                              date=Day(day)), show_usage=False)
        if n is not None:
            if not 1 <= n <= len(found):
                if len(found) == 1:
                    raise UserError(_("{group} had one meeting on {date}, not a meeting "
                                      "{number}.", group=group.slug, date=Day(day), number=n),
                                    show_usage=False)
                raise UserError(_n("{group} had {n} meeting (1 to {n}) on {date}, not a "
                                   "meeting {number}.",
                                   "{group} had {n} meetings (1 to {n}) on {date}, not a "
                                   "meeting {number}.",
                                   len(found), group=group.slug, date=Day(day), number=n),
                                show_usage=False)
            return _minutes(ctx, found[n - 1], zone)
        if len(found) == 1:
            return _minutes(ctx, found[0], zone)
        return _listing(ctx, group, found, zone,
                        _n("{group} met {n} time on {date}: add the number ({command}) or the "
                           "id",
                           "{group} met {n} times on {date}: add the number ({command}) or the "
                           "id",
                           len(found), group=group.name, date=Day(day),
                           command=f"meeting minutes {group.slug} {day:%Y-%m-%d} 2"))


__all__ = ["marked_held", "meeting_id", "register"]
