"""The count of who is coming to one meeting, for ``meeting rsvp``, ``meeting next`` and the
reminders of the day before, with whether the group's quorum is expected."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.grammar import ascii_int
from handlers.core.i18n import Msg, _, _n
from handlers.core.scheduling import setting
from storage.models import Group, MeetingRsvp, MeetingSeries


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


def answered(counts: Counter[str]) -> bool:
    """Whether any member answered (the count is shown only then)."""
    return bool(counts["yes"] or counts["maybe"] or counts["no"])


def quorum_expected(counts: Counter[str], group: Group) -> Msg:
    """Whether the members who said yes make the group's quorum (``tg settings <group>
    quorum``, as a meeting's attendance is counted): ``Quorum expected: 3 of 5 members said
    yes (quorum 50%, 3 needed).``"""
    pct = ascii_int(setting(group, "quorum").rstrip("%"), 3)
    pct = 50 if pct is None else pct
    members = sum(counts.values())
    needed = max(1, -(-pct * members // 100))  # at least one, rounded up
    yes = counts["yes"]
    if yes >= needed:
        return _n("Quorum expected: {yes} of {n} member said yes (quorum {quorum}%, "
                  "{needed} needed).",
                  "Quorum expected: {yes} of {n} members said yes (quorum {quorum}%, "
                  "{needed} needed).", members, yes=yes, quorum=pct, needed=needed)
    return _n("Quorum not expected yet: {yes} of {n} member said yes (quorum {quorum}%, "
              "{needed} needed).",
              "Quorum not expected yet: {yes} of {n} members said yes (quorum {quorum}%, "
              "{needed} needed).", members, yes=yes, quorum=pct, needed=needed)
