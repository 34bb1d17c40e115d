"""An open check-in round, written straight into a store whose bot runs on the real clock
(``taskbot run``, an adapter in the test's loop): the default three questions, closing in
two days, asking the given people for a group. Any other open round is closed first, so
the one written here is the one ``checkin`` answers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from storage.models import (
    CheckinAnswer,
    CheckinAskee,
    CheckinRound,
    Group,
    Identity,
    MeetingSeries,
)


def person_id(engine: Engine, platform: str, external_id: str) -> int:
    with Session(engine) as s:
        found = s.scalar(select(Identity.person_id).where(
            Identity.platform == platform, Identity.external_id == external_id))
    assert found is not None, f"no person {platform}:{external_id}"
    return found


def close_rounds(engine: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s, s.begin():
        s.execute(update(CheckinRound).where(CheckinRound.status == "open")
                  .values(status="closed", closed_at=now))


def open_round(engine: Engine, slug: str, askees: list[int], *, ahead: int = 30) -> int:
    """A round before a BoC meeting three days from now (its date ``ahead`` days on, so
    rounds of one store do not meet), asking ``askees`` for ``slug``; returns its id."""
    close_rounds(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s, s.begin():
        series = s.scalar(select(MeetingSeries.id).join(
            Group, Group.id == MeetingSeries.group_id).where(Group.slug == "boc"))
        group = s.scalar(select(Group.id).where(Group.slug == slug))
        assert series is not None and group is not None, "a BoC series and the group first"
        round_ = CheckinRound(
            series_id=series, meeting_date=now.date() + dt.timedelta(days=ahead),
            meeting_at=now + dt.timedelta(days=3), zone="Europe/Brussels",
            opens_on=now.date(), closes_at=now + dt.timedelta(days=2), status="open",
            questions=None, blockers=2, created_at=now)
        s.add(round_)
        s.flush()
        for person in askees:
            s.add(CheckinAskee(round_id=round_.id, group_id=group, person_id=person,
                               prompt_at=now))
        return round_.id


def answers(engine: Engine, round_id: int) -> dict[int, str]:
    """The round's answers by question number (one person's)."""
    with Session(engine) as s:
        return {a.number: a.text for a in s.scalars(
            select(CheckinAnswer).where(CheckinAnswer.round_id == round_id))}


def answer_rows(engine: Engine, round_id: int) -> list[tuple[int, str, dt.datetime]]:
    with Session(engine) as s:
        return [(a.number, a.via, a.updated_at) for a in s.scalars(
            select(CheckinAnswer).where(CheckinAnswer.round_id == round_id)
            .order_by(CheckinAnswer.number))]
