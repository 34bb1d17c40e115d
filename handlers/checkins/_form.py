"""A check-in as a form: the open round's questions with the caller's answers so far, for a
platform that can show one field per question (its prompt's "Answer" button opens it).

The form only reads; what a person submits goes back through the ``checkin`` command, one
``checkin <group> edit <n> <answer>`` per changed field, so the grammar, the permission and
the close are checked there as for anything typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.checkins._commands import _may_answer, is_open
from handlers.checkins._rounds import answers_of, open_round, questions_of
from handlers.core.context import CoreSettings, Ctx
from handlers.core.directory import person_by_identity
from handlers.core.i18n import _, localize, text_of
from handlers.core.messages import Block, Text, When
from handlers.core.readers import person_reader
from storage.models import Group


@dataclass(frozen=True)
class Form:
    """What a form for one group's check-in shows, in the reader's language (``lang``, for
    the labels the platform adds of its own): a title naming the group, an introduction
    (when the Board meets, until when answers can change), each question and the reader's
    answer to it ("" where none yet)."""

    slug: str
    title: str
    lang: str
    intro: tuple[Block, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]


def form_for(sessions: sessionmaker[Session], settings: CoreSettings, platform: str,
             user_id: str, slug: str) -> Form | None:
    """The form of the open round for the group ``slug`` as the person ``user_id`` of
    ``platform`` answers it, or None when there is none to fill in: no round is open (or
    it has closed), no such group, or the person may not answer for it. A platform then
    runs ``checkin <group>``, whose answer says why."""
    with sessions() as session:
        person = person_by_identity(session, platform, user_id)
        if person is None:
            return None
        now = settings.clock()
        round_ = open_round(session)
        if round_ is None or not is_open(round_, now):
            return None
        group = session.scalar(select(Group).where(Group.slug == slug.lower()))
        if group is None:
            return None
        ctx = Ctx(session=session, actor=person, platform=platform, channel_id=None,
                  settings=settings, now=now)
        if not _may_answer(ctx, round_, group):
            return None
        reader = person_reader(person, settings)
        mine = {a.number: a.text for a in answers_of(session, round_.id, group.id, person.id)}
        questions = questions_of(round_).said()
        intro = localize([
            Text((_("Check-in for {group}, before the Board meets {time}",
                    group=group.name, time=When(round_.meeting_at, round_.zone)),), "heading"),
            Text((_("Answers can change until {time}.",
                    time=When(round_.closes_at, round_.zone)),)),
        ], reader)
        # TRANSLATORS: the title of the form with a check-in's questions (short: a chat
        # client may show only its first 24 characters)
        title = text_of(_("Check-in: {group}", group=group.name), reader)
        return Form(
            slug=group.slug, title=title, lang=reader.lang, intro=tuple(intro),
            questions=tuple(text_of(q, reader) for q in questions),
            answers=tuple(mine.get(n, "") for n in range(1, len(questions) + 1)))
