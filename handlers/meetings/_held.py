"""``meeting held``: a chair marks a series meeting as held when it ran outside the bot (a
video call with no ``meeting start``), so the Board's monthly report counts it as held.

A marked meeting is a :class:`~storage.models.Meeting` row that opened and ended at the
meeting's scheduled start, with no items: everything that reads meetings held (the monthly
report, ``taskbot report meetings``, ``meeting minutes``) sees it as it sees a run meeting.
"""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.grammar import UserError
from handlers.core.messages import Reply, at_name
from handlers.core.params import Values
from handlers.core.roles import CHAIR_AND_UP
from handlers.core.router import Registry
from handlers.meetings._commands import Occurrence, occurrences, series_of, series_today
from storage.models import Meeting, MeetingSeries

# how far back a meeting can be marked held without naming its date
RECENT = dt.timedelta(days=45)



def _past_meetings(ctx: Ctx, series: MeetingSeries, since: dt.datetime) -> list[Occurrence]:
    """The series' meetings (skips left out, moves at their new time) that began by now."""
    return [o for o in occurrences(series, since, ctx.now) if o.start <= ctx.now]


def _meeting_on(ctx: Ctx, series: MeetingSeries, day: dt.date) -> Occurrence:
    today = series_today(ctx, series)
    if day > today:
        raise UserError(
            f"{day:%a %d %b %Y} is in the future: mark a meeting held once it has taken "
            "place (with a year if you meant an earlier one).", show_usage=False)
    start = dt.datetime.combine(day, dt.time.min, dt.UTC) - dt.timedelta(days=1)
    found = [o for o in _past_meetings(ctx, series, start) if o.local.date() == day]
    if not found:
        raise UserError(
            f"{series.group.slug} had no meeting on {day:%a %d %b %Y} (skipped, moved, not a "
            "date of its series, or later today).", show_usage=False)
    return found[0]


GROUP = p.group()
DAY = p.words("[<date>]")


def register(reg: Registry) -> None:
    @reg.command(
        "meeting", "held", p.spec(GROUP, DAY),
        "mark a series meeting held that ran outside the bot (no meeting start), so the "
        "monthly report counts it; the date defaults to the last meeting",
        CHAIR_AND_UP.said("chair and up"),
    )
    def meeting_held(ctx: Ctx, v: Values) -> Reply:
        group, words = v[GROUP], v[DAY]
        series = series_of(group)
        if words:
            occ = _meeting_on(ctx, series, parse_date(words, series_today(ctx, series)))
        else:
            recent = _past_meetings(ctx, series, ctx.now - RECENT)
            if not recent:
                raise UserError(f"{group.slug} had no meeting in the last {RECENT.days} days: "
                                "name its <date>.")
            occ = recent[-1]
        held = ctx.session.scalar(
            select(Meeting).where(Meeting.group_id == group.id,
                                  Meeting.occurrence_date == occ.original_date,
                                  Meeting.ended_at.is_not(None)).limit(1))
        what = f"{occ.local:%a %d %b %Y}"
        if held is not None:
            return Reply().say(f"The {group.name} meeting of {what} is already held.")
        note = (f"The {group.name} meeting of {what} was marked held by "
                f"{at_name(ctx.actor.display_name)}; its minutes were not taken in chat.")
        at = occ.start
        meeting = Meeting(
            group=group, platform=ctx.platform, channel_id=ctx.channel_id or "",
            occurrence_date=occ.original_date, chair_ids=[ctx.actor.id],
            started_by_id=ctx.actor.id, started_at=at, closes_at=at, ended_at=at,
            minutes_text=note, minutes_md=note,
            minutes_html=f"<p>{html.escape(note, quote=False)}</p>",
        )
        ctx.session.add(meeting)
        ctx.session.flush()
        ctx.audit("held", "meeting", meeting.id, group=group.slug,
                  date=occ.original_date.isoformat())
        return Reply().say(f"Marked the {group.name} meeting of {what} as held; the monthly "
                           "report counts it.")
