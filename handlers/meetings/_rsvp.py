"""Who is coming: ``meeting rsvp``, and a calendar's answer to an invitation (a platform
turns an accepted, declined or tentative invitation into the same command, as the person).

An answer is for one meeting (named by its date, or the next one by default) or, with
``all``, for every meeting of the series until the person answers one otherwise (what a
calendar's answer to the whole series means). The tally counts each member once: their
answer for that meeting, else their answer for all.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.directory import membership
from handlers.core.grammar import Refused, UserError
from handlers.core.i18n import _
from handlers.core.messages import Day, Reply, When
from handlers.core.params import Values
from handlers.core.roles import MEMBERS
from handlers.core.router import Registry
from handlers.meetings._commands import (
    exception_for,
    find_occurrence,
    series_of,
    series_today,
    upcoming,
)
from handlers.meetings._tally import tally, tally_line
from storage.models import MeetingRsvp

ANSWERS = ("yes", "no", "maybe")
RSVP_GROUP = p.group_or_here(more=True)
ANSWER = p.choice(*ANSWERS, optional=False)
WHEN = p.words("[<date>|all]")


def register(reg: Registry) -> None:
    @reg.command(
        "meeting", "rsvp", p.spec(RSVP_GROUP, ANSWER, WHEN),
        _("say whether you are coming: to the next meeting, the one on <date>, or all of them"),
        MEMBERS,
    )
    def meeting_rsvp(ctx: Ctx, v: Values) -> Reply:
        group, answer, words = v[RSVP_GROUP], v[ANSWER], v[WHEN]
        assert answer is not None
        if membership(ctx.session, group, ctx.actor) is None:
            raise Refused(_("the members of {group}", group=group.slug), "meeting rsvp")
        series = series_of(group)
        every = [w.lower() for w in words] == ["all"]
        original: dt.date | None = None
        if every:
            pass
        elif words:
            original = find_occurrence(ctx, series, parse_date(words, series_today(ctx,
                                                                                  series)))
            exc = exception_for(series, original)
            if exc is not None and exc.kind == "skip":
                raise UserError(_("The {date} meeting is cancelled.", date=Day(original)),
                                show_usage=False)
        else:
            nxt = upcoming(series, ctx.now)
            if not nxt:
                raise UserError(_("{group} has no more meetings.", group=group.slug),
                                show_usage=False)
            original = nxt[0].original_date
        row = ctx.session.scalar(select(MeetingRsvp).where(
            MeetingRsvp.series_id == series.id, MeetingRsvp.person_id == ctx.actor.id,
            MeetingRsvp.occurrence_date.is_(None) if original is None
            else MeetingRsvp.occurrence_date == original))
        if row is None:
            row = MeetingRsvp(series_id=series.id, occurrence_date=original,
                              person_id=ctx.actor.id, answer=answer, via=ctx.platform,
                              at=ctx.now)
            ctx.session.add(row)
        else:
            row.answer, row.via, row.at = answer, ctx.platform, ctx.now
        if every:
            # "all" stands from now on: earlier answers for single meetings give way
            for old in ctx.session.scalars(select(MeetingRsvp).where(
                    MeetingRsvp.series_id == series.id,
                    MeetingRsvp.person_id == ctx.actor.id,
                    MeetingRsvp.occurrence_date.is_not(None))):
                ctx.session.delete(old)
        ctx.session.flush()
        ctx.audit("rsvp", "meeting_series", series.id, group=group.slug,
                  date=original.isoformat() if original else "all", answer=answer)
        if original is None:
            # TRANSLATORS: {answer} is yes, no or maybe, as typed in meeting rsvp
            return Reply().say(_("Noted: {answer} for every {group} meeting, until you answer "
                                 "one otherwise.", answer=answer, group=group.name))
        occ = next((o for o in upcoming(series, ctx.now, limit=60)
                    if o.original_date == original), None)
        when: When | Day = When(occ.start, occ.zone) if occ else Day(original)
        # TRANSLATORS: {answer} is yes, no or maybe, as typed in meeting rsvp
        reply = Reply().say(_("Noted: {answer} for the {group} meeting of {when}.",
                              answer=answer, group=group.name, when=when))
        return reply.say(_("Answers so far: {answers}.",
                           answers=tally_line(tally(ctx.session, series, original))))
