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
from handlers.core.i18n import Arg, Msg, _, _n
from handlers.core.messages import Day, Reply, at_name
from handlers.core.params import Values
from handlers.core.roles import CHAIR_AND_UP
from handlers.core.router import Registry
from handlers.meetings._commands import Occurrence, occurrences, series_of, series_today
from storage.models import Meeting, MeetingSeries

# how far back a meeting can be marked held without naming its date
RECENT = dt.timedelta(days=45)


def held_note(group_name: str, day: Arg, who: str) -> Msg:
    """The minutes of a meeting marked held (stored, and said again when read back)."""
    return _("The {group} meeting of {date} was marked held by {who}; its minutes were not "
             "taken in chat.", group=group_name, date=day, who=who)


def _past_meetings(ctx: Ctx, series: MeetingSeries, since: dt.datetime) -> list[Occurrence]:
    """The series' meetings (skips left out, moves at their new time) that began by now."""
    return [o for o in occurrences(series, since, ctx.now) if o.start <= ctx.now]


def _meeting_on(ctx: Ctx, series: MeetingSeries, day: dt.date) -> Occurrence:
    today = series_today(ctx, series)
    if day > today:
        raise UserError(
            _("{date} is in the future: mark a meeting held once it has taken place (with a "
              "year if you meant an earlier one).", date=Day(day)), show_usage=False)
    start = dt.datetime.combine(day, dt.time.min, dt.UTC) - dt.timedelta(days=1)
    found = [o for o in _past_meetings(ctx, series, start) if o.local.date() == day]
    if not found:
        raise UserError(
            _("{group} had no meeting on {date} (skipped, moved, not a date of its series, or "
              "later today).", group=series.group.slug, date=Day(day)), show_usage=False)
    return found[0]


GROUP = p.group()
DAY = p.words("[<date>]")


def register(reg: Registry) -> None:
    @reg.command(
        "meeting", "held", p.spec(GROUP, DAY),
        _("mark a series meeting held that ran outside the bot (no meeting start), so the "
          "monthly report counts it; the date defaults to the last meeting"),
        CHAIR_AND_UP.said(_("chair and up")),
    )
    def meeting_held(ctx: Ctx, v: Values) -> Reply:
        group, words = v[GROUP], v[DAY]
        series = series_of(group)
        if words:
            occ = _meeting_on(ctx, series, parse_date(words, series_today(ctx, series)))
        else:
            recent = _past_meetings(ctx, series, ctx.now - RECENT)
            if not recent:
                raise UserError(_n("{group} had no meeting in the last {n} day: name its "
                                   "<date>.",
                                   "{group} had no meeting in the last {n} days: name its "
                                   "<date>.", RECENT.days, group=group.slug))
            occ = recent[-1]
        held = ctx.session.scalar(
            select(Meeting).where(Meeting.group_id == group.id,
                                  Meeting.occurrence_date == occ.original_date,
                                  Meeting.ended_at.is_not(None)).limit(1))
        what = Day(occ.local.date())
        if held is not None:
            return Reply().say(_("The {group} meeting of {date} is already held.",
                                 group=group.name, date=what))
        note = str.__str__(held_note(group.name, what, at_name(ctx.actor.display_name)))
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
        return Reply().say(_("Marked the {group} meeting of {date} as held; the monthly "
                             "report counts it.", group=group.name, date=what))
