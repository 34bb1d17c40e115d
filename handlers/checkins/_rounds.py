"""Check-in rounds as data: the questions, who a round asks for each Task Group, their
answers, and the one rendering of a round that the Board's message, ``checkin show``, the
monthly report and the dashboard share.

A round belongs to one BoC meeting. Its questions are fixed when it opens (the governance
file's, else the default three), so editing the file never renumbers answers already
given.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from handlers.core.i18n import Msg, _, _n, listed
from handlers.core.messages import Block, Span, Table, Text, When
from handlers.core.reach import away_until
from handlers.core.roles import ROLE_GROUPS
from storage import kv
from storage.models import CheckinAnswer, CheckinAskee, CheckinRound, Group, Person

OPEN, CLOSED = "open", "closed"
TOPIC = "checkin"  # what a prompt is about: a reply to it is an answer
QUESTIONS_KEY = "checkin:questions"  # the governance file's questions (JSON)
QUESTIONS_MAX = 10
DEFAULT_BLOCKERS = 2  # the default questions' "what is blocked"


def default_questions() -> list[Msg]:
    return [
        _("What has the group moved forward since the last BoC meeting?"),
        _("What is blocked, and by what?"),
        _("What does the group ask of the Board?"),
    ]


@dataclass(frozen=True)
class Questions:
    """A round's questions: the file's text as written, or None for the default three
    (said in each reader's language); ``blockers`` is the 1-based number of the one about
    what is blocked (0: none), shown first."""

    texts: tuple[str, ...] | None
    blockers: int

    def said(self) -> list[str]:
        return list(self.texts) if self.texts is not None else list(default_questions())

    def __len__(self) -> int:
        return len(self.texts) if self.texts is not None else 3

    def order(self) -> list[int]:
        """The questions' numbers, the blockers' first."""
        numbers = list(range(1, len(self) + 1))
        if self.blockers in numbers:
            numbers.remove(self.blockers)
            numbers.insert(0, self.blockers)
        return numbers


def configured(session: Session) -> Questions:
    """The questions a round opening now asks."""
    raw = kv.get(session, QUESTIONS_KEY)
    if raw:
        try:
            data = json.loads(raw)
            texts = tuple(str(t) for t in data["questions"])[:QUESTIONS_MAX]
            blockers = int(data.get("blockers", 0))
            if texts:
                return Questions(texts, blockers if 0 <= blockers <= len(texts) else 0)
        except (ValueError, KeyError, TypeError):
            pass
    return Questions(None, DEFAULT_BLOCKERS)


def store_questions(session: Session, texts: Sequence[str] | None, blockers: int) -> None:
    """What the governance file says (None: back to the default three)."""
    if texts is None:
        kv.drop(session, QUESTIONS_KEY)
    else:
        kv.put(session, QUESTIONS_KEY, json.dumps(
            {"questions": list(texts), "blockers": blockers}, ensure_ascii=False))


def questions_of(round_: CheckinRound) -> Questions:
    texts = tuple(round_.questions) if round_.questions else None
    return Questions(texts, round_.blockers)


# --- what a round holds -------------------------------------------------------------------------


def task_groups(session: Session, *options: ORMOption) -> list[Group]:
    """The groups a round asks: every active group but the Board and the secretariat
    (``options``: what to load with them)."""
    return list(session.scalars(
        select(Group).where(Group.archived_at.is_(None), Group.slug.not_in(ROLE_GROUPS))
        .order_by(Group.name, Group.id).options(*options)))


def open_round(session: Session) -> CheckinRound | None:
    return session.scalar(select(CheckinRound).where(CheckinRound.status == OPEN)
                          .order_by(CheckinRound.meeting_at.desc()).limit(1))


def latest_round(session: Session, before: dt.date | None = None) -> CheckinRound | None:
    """The last round (for a month: the last whose meeting falls in it or before)."""
    stmt = select(CheckinRound).order_by(CheckinRound.meeting_date.desc()).limit(1)
    if before is not None:
        stmt = stmt.where(CheckinRound.meeting_date < before)
    return session.scalar(stmt)


def rounds_between(session: Session, first: dt.date, end: dt.date) -> list[CheckinRound]:
    """Rounds whose meeting falls in ``[first, end)``, oldest first."""
    return list(session.scalars(select(CheckinRound).where(
        CheckinRound.meeting_date >= first, CheckinRound.meeting_date < end)
        .order_by(CheckinRound.meeting_date)))


def askees_of(session: Session, round_id: int) -> list[CheckinAskee]:
    return list(session.scalars(
        select(CheckinAskee).where(CheckinAskee.round_id == round_id)
        .options(selectinload(CheckinAskee.person), selectinload(CheckinAskee.group))
        .order_by(CheckinAskee.group_id, CheckinAskee.person_id)))


def answers_of(session: Session, round_id: int, group_id: int | None = None,
               person_id: int | None = None) -> list[CheckinAnswer]:
    stmt = (select(CheckinAnswer).where(CheckinAnswer.round_id == round_id)
            .options(selectinload(CheckinAnswer.person))
            .order_by(CheckinAnswer.group_id, CheckinAnswer.number, CheckinAnswer.id))
    if group_id is not None:
        stmt = stmt.where(CheckinAnswer.group_id == group_id)
    if person_id is not None:
        stmt = stmt.where(CheckinAnswer.person_id == person_id)
    return list(session.scalars(stmt))


def answered_groups(session: Session, round_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(round, group) pairs with at least one answer, for many rounds in one query."""
    if not round_ids:
        return set()
    return {(r, g) for r, g in session.execute(
        select(CheckinAnswer.round_id, CheckinAnswer.group_id).where(
            CheckinAnswer.round_id.in_(list(round_ids))).distinct())}


def asked_groups(session: Session, round_ids: Sequence[int]) -> set[tuple[int, int]]:
    if not round_ids:
        return set()
    return {(r, g) for r, g in session.execute(
        select(CheckinAskee.round_id, CheckinAskee.group_id).where(
            CheckinAskee.round_id.in_(list(round_ids))).distinct())}


# --- the compilation ----------------------------------------------------------------------------

# answers to the blockers' question that say there is none, in the bot's languages
NOTHING = frozenset({
    "", "-", "--", "—", "n/a", "na", "none", "nothing", "no", "nil", "nope", "aucun", "aucune",
    "rien", "non", "keine", "keins", "nichts", "nein", "ninguno", "ninguna", "nada", "nessuno",
    "nessuna", "niente", "nulla", "nenhum", "nenhuma", "geen", "niets", "nee", "brak", "nic",
    "nie", "ok",
})


def says_nothing(answer: str) -> bool:
    return " ".join(answer.lower().strip(" .!").split()) in NOTHING


@dataclass
class GroupCheckin:
    """One group's part of a round: who was asked, and each question's answers."""

    group: Group
    asked: list[Person] = field(default_factory=list)
    answers: dict[int, list[CheckinAnswer]] = field(default_factory=lambda: defaultdict(list))

    @property
    def answered(self) -> bool:
        return bool(self.answers)

    def blocked(self, questions: Questions) -> bool:
        return any(not says_nothing(a.text) for a in self.answers.get(questions.blockers, ()))


@dataclass
class Compiled:
    round: CheckinRound
    questions: Questions
    groups: list[GroupCheckin]

    @property
    def missing(self) -> list[GroupCheckin]:
        return [g for g in self.groups if g.asked and not g.answered]

    @property
    def answering(self) -> list[GroupCheckin]:
        """The groups that answered, those with a blocker first."""
        found = [g for g in self.groups if g.answered]
        return sorted(found, key=lambda g: not g.blocked(self.questions))


def compile_round(session: Session, round_: CheckinRound,
                  only: Group | None = None) -> Compiled:
    by_group: dict[int, GroupCheckin] = {}

    def part(group: Group) -> GroupCheckin:
        if group.id not in by_group:
            by_group[group.id] = GroupCheckin(group)
        return by_group[group.id]

    for askee in askees_of(session, round_.id):
        if only is None or askee.group_id == only.id:
            part(askee.group).asked.append(askee.person)
    groups = {g.id: g for g in session.scalars(select(Group).where(Group.id.in_(
        select(CheckinAnswer.group_id).where(CheckinAnswer.round_id == round_.id))))}
    for answer in answers_of(session, round_.id, only.id if only else None):
        part(groups[answer.group_id]).answers[answer.number].append(answer)
    ordered = sorted(by_group.values(), key=lambda g: (g.group.name.lower(), g.group.id))
    return Compiled(round_, questions_of(round_), ordered)


def heading(round_: CheckinRound) -> Msg:
    return _("Check-ins before the Board meets {time}",
             time=When(round_.meeting_at, round_.zone))


def group_blocks(part: GroupCheckin, questions: Questions) -> list[Block]:
    said = questions.said()
    voices = {a.person_id for answers in part.answers.values() for a in answers}
    blocks: list[Block] = [Text((part.group.name,), "heading")]
    for number in questions.order():
        answers = part.answers.get(number, [])
        if not answers:
            continue
        spans: list[Span] = [f"{number}. ", said[number - 1], "\n"]
        for n, answer in enumerate(answers):
            if n:
                spans.append("\n")
            spans.append(answer.text)
            if len(voices) > 1:  # several spoke for the group: say who said what
                spans.append(f" ({answer.person.display_name})")
        blocks.append(Text(tuple(spans)))
    return blocks


def round_blocks(compiled: Compiled, *, with_heading: bool = True) -> list[Block]:
    """A round's answers, group by group (those with a blocker first), then who did not
    answer: the one rendering every place shows."""
    r = compiled.round
    asked = [g for g in compiled.groups if g.asked or g.answered]
    answered = [g for g in asked if g.answered]
    blocks: list[Block] = []
    if with_heading:
        blocks.append(Text((heading(r),), "heading"))
    state: Msg
    if r.status == OPEN:
        state = _("Open until {time}.", time=When(r.closes_at, r.zone))
    else:
        state = _("Closed {time}.", time=When(r.closed_at or r.closes_at, r.zone))
    blocks.append(Text((state, " ", _n("{answered} of {n} group answered.",
                                          "{answered} of {n} groups answered.", len(asked),
                                          answered=len(answered)))))
    for part in compiled.answering:
        blocks.extend(group_blocks(part, compiled.questions))
    missing = compiled.missing
    if missing:
        blocks.append(Text((_("No answer from {groups}.",
                              groups=listed([g.group.name for g in missing])),)))
    return blocks


def status_table(session: Session, compiled: Compiled, today: dt.date) -> Table:
    """Who has answered, person by person (``checkin status``)."""
    n_questions = len(compiled.questions)
    rows: list[tuple[tuple[Span, ...], ...]] = []
    for part in compiled.groups:
        given: dict[int, set[int]] = defaultdict(set)
        for number, answers in part.answers.items():
            for answer in answers:
                given[answer.person_id].add(number)
        people = list(part.asked)
        people += [a.person for answers in part.answers.values() for a in answers
                   if a.person not in people]
        for person in dict.fromkeys(people):
            count = len(given.get(person.id, ()))
            state: Msg
            if count >= n_questions:
                state = _("answered")
            elif count:
                state = _("{n} of {total} answered", n=count, total=n_questions)
            elif away_until(person.settings, today) is not None:
                state = _("away")
            else:
                state = _("waiting")
            rows.append(((part.group.name,), (person.display_name,), (state,)))
    # TRANSLATORS: the headers of the table of who has answered a check-in
    return Table((_("group"), _("who"), _("status")), tuple(rows))


def participation(session: Session, rounds: Sequence[CheckinRound],
                  groups: Sequence[Group]) -> Table | None:
    """Which groups answered each round: a row a group, a column a round."""
    if not rounds:
        return None
    ids = [r.id for r in rounds]
    answered = answered_groups(session, ids)
    asked = asked_groups(session, ids)
    rows: list[tuple[tuple[Span, ...], ...]] = []
    for group in groups:
        cells: list[tuple[Span, ...]] = [(group.name,)]
        for r in rounds:
            if (r.id, group.id) in answered:
                cells.append((_("answered"),))
            elif (r.id, group.id) in asked:
                cells.append((_("no answer") if r.status == CLOSED else _("waiting"),))
            else:
                cells.append(("",))
        rows.append(tuple(cells))
    # TRANSLATORS: the first header of the table of which groups answered each check-in
    return Table((_("group"), *(r.meeting_date.isoformat() for r in rounds)), tuple(rows))
