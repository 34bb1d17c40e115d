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
from handlers.core.messages import Block, File, Reply, Span, Table, text
from handlers.core.params import Values
from handlers.core.roles import ANYONE
from handlers.core.router import Registry
from handlers.decisions import past_date
from handlers.meeting_mode._capture import carried_of, minutes_blocks, zone_of
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
    """A meeting marked held by ``meeting held``: opened and ended at once, nothing captured."""
    return meeting.started_at == meeting.ended_at and not meeting.items



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
        what = ("marked held" if marked_held(m)
                else f"{counts.get(m.id, 0)} item{'s' if counts.get(m.id, 0) != 1 else ''}"
                + (", closed automatically" if m.auto_closed else ""))
        nth, of = numbers[m.id]
        day_part = f" ({nth} of {of})" if of > 1 else ""
        rows.append(((f"M-{m.id}",), (f"{start:%a %d %b %Y %H:%M}{day_part}",),
                     tuple(chairs) or ("-",), (what,)))
    return Table(("id", "when", "chaired by", "minutes"), tuple(rows))


def _listing(ctx: Ctx, group: Group, meetings: list[Meeting], zone: ZoneInfo,
             heading: str) -> Reply:
    reply = Reply().say(heading, style="heading")
    shown = list(reversed(meetings))[:LIST_MAX]
    reply = reply.add(_table(ctx, shown, zone, _numbers(meetings, zone)))
    if len(meetings) > LIST_MAX:
        oldest = shown[-1].started_at.astimezone(zone)
        reply = reply.say(f"{len(meetings) - LIST_MAX} older meetings, before {oldest:%d %b %Y}, "
                          f"are not listed: meeting minutes {group.slug} <date> finds one.")
    reply = reply.say(f"meeting minutes {group.slug} M-<id> returns one meeting's minutes.")
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
    title = f"Minutes {group.slug} {stamp}"
    reply = Reply()
    if marked_held(meeting):
        blocks: list[Block] = [text(f"Minutes: {group.name} meeting M-{meeting.id}, "
                                    f"{meeting.started_at.astimezone(zone):%a %d %b %Y}",
                                    style="heading"),
                               text(meeting.minutes_text or "")]
    else:
        blocks = minutes_blocks(ctx.session, meeting, ctx.settings, carried_of(meeting))
    reply = reply.add(*blocks)
    if len(day) > 1:
        others = ", ".join(f"M-{m.id}" for m in day if m.id != meeting.id)
        reply = reply.say(f"{group.slug} met {len(day)} times that day; the others: {others} "
                          f"(meeting minutes {group.slug} list).")
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
        "a group's past meetings: list shows them with their ids; M-<id>, or a date and the "
        "meeting's number that day, returns one's minutes (with .md and .html); no argument "
        "the last meeting's",
        ANYONE,
    )
    def meeting_minutes(ctx: Ctx, v: Values) -> Reply:
        group, words = v[MINUTES_GROUP], v[WHICH]
        if len(words) == 1 and (mid := meeting_id(words[0])) is not None:
            meeting = ctx.session.get(Meeting, mid)
            if meeting is None or meeting.ended_at is None:
                raise UserError(f"No minutes of a meeting M-{mid}"
                                + (" (it is still running)." if meeting else "."),
                                show_usage=False)
            if group is not None and meeting.group_id != group.id:
                raise UserError(f"M-{mid} is a meeting of {meeting.group.slug}, not of "
                                f"{group.slug}.", show_usage=False)
            return _minutes(ctx, meeting, ZoneInfo(zone_of(meeting.group, ctx.settings)))
        group = group or ctx.channel_group
        if group is None:
            raise UserError("Name the group: this channel is not linked to one.")
        zone = ZoneInfo(zone_of(group, ctx.settings))
        today = ctx.now.astimezone(zone).date()
        if len(words) == 1 and words[0].lower() in ("list", "all"):
            meetings = list(ctx.session.scalars(_past(group)))
            if not meetings:
                raise UserError(f"No minutes of a {group.slug} meeting yet.", show_usage=False)
            return _listing(ctx, group, meetings, zone, f"Meetings of {group.name}")
        if not words:
            last = ctx.session.scalars(
                select(Meeting).where(Meeting.group_id == group.id,
                                      Meeting.ended_at.is_not(None))
                .order_by(Meeting.started_at.desc(), Meeting.id.desc()).limit(1)).first()
            if last is None:
                raise UserError(f"No minutes of a {group.slug} meeting yet.", show_usage=False)
            return _minutes(ctx, last, zone)
        day, n = _by_date(ctx, words, today)
        found = _on_day(ctx, group, day, zone)
        if not found:
            raise UserError(f"No minutes of a {group.slug} meeting on {day:%a %d %b %Y}.",
                            show_usage=False)
        if n is not None:
            if not 1 <= n <= len(found):
                only = "one meeting" if len(found) == 1 else f"{len(found)} meetings (1 to " \
                       f"{len(found)})"
                raise UserError(f"{group.slug} had {only} on {day:%a %d %b %Y}, not a "
                                f"meeting {n}.", show_usage=False)
            return _minutes(ctx, found[n - 1], zone)
        if len(found) == 1:
            return _minutes(ctx, found[0], zone)
        return _listing(ctx, group, found, zone,
                        f"{group.name} met {len(found)} times on {day:%a %d %b %Y}: "
                        f"add the number (meeting minutes {group.slug} {day:%Y-%m-%d} 2) "
                        "or the id")


__all__ = ["marked_held", "meeting_id", "register"]
