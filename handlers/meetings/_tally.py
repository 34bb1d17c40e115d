"""The count of who is coming to one meeting, for ``meeting rsvp`` and ``meeting next``."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.i18n import _
from storage.models import MeetingRsvp, MeetingSeries


def tally(session: Session, series: MeetingSeries, original: dt.date) -> Counter[str]:
    """Each member's answer for the meeting originally on ``original`` (theirs for that
    meeting, else theirs for all), counted; ``none``: members who gave neither."""
    members = {m.person_id for m in series.group.memberships}
    found: dict[int, tuple[bool, str]] = {}
    for row in session.scalars(select(MeetingRsvp).where(
            MeetingRsvp.series_id == series.id,
            MeetingRsvp.occurrence_date.is_(None) | (MeetingRsvp.occurrence_date == original))):
        specific = row.occurrence_date is not None
        if row.person_id in members and (row.person_id not in found or specific):
            found[row.person_id] = (specific, row.answer)
    counts: Counter[str] = Counter(answer for _specific, answer in found.values())
    counts["none"] = len(members) - len(found)
    return counts


def tally_line(counts: Counter[str]) -> str:
    # TRANSLATORS: who is coming to a meeting: the counts of each answer to meeting rsvp
    return _("{yes} yes, {maybe} maybe, {no} no, {none} not answered", yes=counts["yes"],
             maybe=counts["maybe"], no=counts["no"], none=counts["none"])
