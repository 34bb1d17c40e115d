"""A check-in round's life, through the delivery tick of any process.

- **Opening** (``tg settings boc checkin``, default 5 days before each BoC meeting): the
  round is created once (a unique row per meeting; a process that loses the insert plans
  nothing), its askees chosen and each one's prompt planned at 09:00 on the opening day in
  their own zone (their ``me zone``, else the group's), with one reminder at 09:00 the day
  before the close for those who have not answered by then.
- **Closing** (``checkin_close``, default 1 day before the meeting): an UPDATE only an open
  round matches, so the compilation, the escalations and the agenda items are written once
  however many processes tick.

An idle tick costs one indexed select of due closes and, past a bookmark, nothing more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from handlers.checkins._commands import answer_button, form_blocks
from handlers.checkins._rounds import (
    CLOSED,
    OPEN,
    TOPIC,
    Compiled,
    answers_of,
    compile_round,
    configured,
    questions_of,
    round_blocks,
    says_nothing,
    task_groups,
)
from handlers.core.action_lines import open_action_lines
from handlers.core.context import CoreSettings, Ctx
from handlers.core.directory import SYSTEM_PLATFORM
from handlers.core.grammar import UserError
from handlers.core.i18n import _, _n, listed, said
from handlers.core.messages import Block, ChannelRef, Post, Text, When, topic
from handlers.core.posts import queue_posts
from handlers.core.reach import away_until, group_reach, personal_targets, reach_loads
from handlers.core.readers import group_language, person_zone
from handlers.core.recurrence import parse_offsets, place
from handlers.core.roles import BOC, SECRETARIAT
from handlers.core.scheduling import DAY, MAX_GRACE, ScheduleKinds, group_zone, outbox_row, setting
from handlers.meetings import Occurrence, occurrences, reminder_time, upcoming
from storage import kv, outbox
from storage.models import (
    TITLE_MAX,
    Action,
    AgendaItem,
    CheckinAskee,
    CheckinRound,
    Decision,
    DecisionTarget,
    Group,
    Membership,
    Person,
)

PROMPT, REMINDER = "checkin_prompt", "checkin_reminder"
PROMPT_TIME = dt.time(9, 0)
# 09:00 comes first at UTC+14: a round is created then, and each prompt waits for its own
EARLIEST = "Etc/GMT-14"
BOOKMARK = "schedule:checkin_next"
REFERENCE_LIMIT = 10  # actions and decisions a prompt lists for reference


def _offsets(boc: Group) -> tuple[dt.timedelta, dt.timedelta | None] | None:
    """How long before a meeting the round opens and closes (None: at the meeting)."""
    raw = setting(boc, "checkin")
    if raw == "off":
        return None
    try:
        opens = parse_offsets(raw)[0]
        close_raw = setting(boc, "checkin_close")
        closes = None if close_raw == "off" else parse_offsets(close_raw)[0]
    except UserError:
        return None
    return opens, closes


def round_times(occ: Occurrence, opens: dt.timedelta, closes: dt.timedelta | None
                ) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """The opening day, the instant the first prompt can fall, and the close."""
    opens_on = occ.local.date() - dt.timedelta(days=max(1, opens.days))
    first = place(dt.datetime.combine(opens_on, PROMPT_TIME), EARLIEST).astimezone(dt.UTC)
    close = reminder_time(occ, closes) if closes is not None else occ.start
    if close <= first + dt.timedelta(hours=1):
        close = occ.start  # a close before the opening: the round runs to the meeting
    return opens_on, first, close


def _state(boc: Group) -> str:
    """What the next opening depends on: a change to any of it replans at once."""
    series = boc.series
    assert series is not None
    parts = [str(series.id), series.rule, series.start_time.isoformat(), series.timezone,
             str(series.starts_on), setting(boc, "checkin"), setting(boc, "checkin_close"),
             *sorted(f"{e.original_date}:{e.kind}:{e.new_start}" for e in series.exceptions)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def plan_checkins(session: Session, now: dt.datetime,
                  settings: CoreSettings) -> list[outbox.NewRow]:
    for round_ in session.scalars(select(CheckinRound).where(
            CheckinRound.status == OPEN, CheckinRound.closes_at <= now)
            .order_by(CheckinRound.closes_at)):
        close_round(session, round_, now, settings)
    boc = session.scalar(select(Group).where(Group.slug == BOC))
    if boc is None or boc.series is None or boc.archived_at is not None:
        return []
    offsets = _offsets(boc)
    if offsets is None:
        return []
    state = _state(boc)
    mark = kv.get(session, BOOKMARK)
    if mark is not None:
        seen, _sep, next_at = mark.rpartition("|")
        if seen == state and now < dt.datetime.fromisoformat(next_at):
            return []
    series = boc.series
    rows: list[outbox.NewRow] = []
    later: list[dt.datetime] = []
    horizon = offsets[0] + 2 * DAY
    for occ in occurrences(series, now, now + horizon):
        opens_on, first, close = round_times(occ, *offsets)
        if now < first:
            later.append(first)
        elif opens_on < series.starts_on:
            continue  # it opened before the Board's schedule was set (as a reminder due
            # before it is not sent): the first round is the next one
        elif now < close:
            rows.extend(open_round_for(session, occ, opens_on, close, now, settings))
    if not later:
        for occ in upcoming(series, now + horizon - DAY, 2):
            later.append(round_times(occ, *offsets)[1])
    nxt = min(later) if later else now + dt.timedelta(days=31)
    try:
        with session.begin_nested():
            kv.put(session, BOOKMARK, f"{state}|{nxt.isoformat()}")
    except IntegrityError:
        pass  # another process wrote it at the same moment
    return rows


# --- opening ----------------------------------------------------------------------------------


def askees_for(group: Group, day: dt.date) -> list[Person]:
    """Who a round asks for ``group`` (``checkin_from``): its chair, else its other chairs,
    else its members; the members, with ``members``. Nobody away on ``day`` is asked."""
    here = [m for m in sorted(group.memberships, key=lambda m: m.id)
            if away_until(m.person.settings, day) is None]
    chairs = [m.person for m in here if m.role == "chair"]
    members = [m.person for m in here]
    if setting(group, "checkin_from") == "members":
        return members
    first_chair = next((m.person for m in sorted(group.memberships, key=lambda m: m.id)
                        if m.role == "chair"), None)
    if first_chair is not None and first_chair in chairs:
        return [first_chair]
    return chairs or members


def open_round_for(session: Session, occ: Occurrence, opens_on: dt.date, close: dt.datetime,
                   now: dt.datetime, settings: CoreSettings) -> list[outbox.NewRow]:
    """Create the round before ``occ`` and plan its prompts; nothing if it exists."""
    boc = session.scalar(select(Group).where(Group.slug == BOC))
    assert boc is not None and boc.series is not None
    questions = configured(session)
    round_ = CheckinRound(
        series_id=boc.series.id, meeting_date=occ.original_date, meeting_at=occ.start,
        zone=occ.zone, opens_on=opens_on, closes_at=close, status=OPEN,
        questions=list(questions.texts) if questions.texts is not None else None,
        blockers=questions.blockers, created_at=now)
    try:
        with session.begin_nested():
            session.add(round_)
            session.flush()
    except IntegrityError:
        return []  # created already (by another process, or before a change of time)
    # each group's members and their settings, and its series (its zone), loaded with it
    # for the choice below: a select each, not one per group and one per member
    groups = task_groups(session, selectinload(Group.memberships).selectinload(Membership.person),
                         selectinload(Group.series))
    chosen: list[tuple[Group, Person, dt.datetime]] = []
    for group in groups:
        zone = group_zone(group, settings)
        for person in askees_for(group, opens_on):
            at = place(dt.datetime.combine(opens_on, PROMPT_TIME),
                       person_zone(person) or zone).astimezone(dt.UTC)
            chosen.append((group, person, at))
            session.add(CheckinAskee(round_id=round_.id, group_id=group.id,
                                     person_id=person.id, prompt_at=at))
    people = list({person.id: person for _g, person, _at in chosen}.values())
    reach = {person.id: targets for person, targets in personal_targets(session, people,
                                                                         settings)}
    rows: list[outbox.NewRow] = []
    for group, person, at in chosen:
        zone = person_zone(person) or group_zone(group, settings)
        remind = place(dt.datetime.combine(
            close.astimezone(ZoneInfo(zone)).date() - DAY,
            PROMPT_TIME), zone).astimezone(dt.UTC)
        due = at if at >= now - MAX_GRACE else now  # opened late: prompt now, not never
        payload = {"round_id": round_.id, "group_id": group.id, "person_id": person.id}
        for n, (platform, ext) in enumerate(reach.get(person.id, [])):
            where = ChannelRef.direct(platform, ext).channel_id
            tail = f":{platform}" if n else ""
            rows.append(outbox_row(f"{PROMPT}:{round_.id}:{group.id}:{person.id}{tail}",
                                   PROMPT, platform, where, payload, due, MAX_GRACE, now))
            if due < remind < close:
                rows.append(outbox_row(
                    f"{REMINDER}:{round_.id}:{group.id}:{person.id}{tail}", REMINDER,
                    platform, where, payload, remind, MAX_GRACE, now))
    return rows


# --- the prompt and the reminder --------------------------------------------------------------


def _person_ctx(session: Session, settings: CoreSettings, person: Person) -> Ctx:
    return Ctx(session=session, actor=person, platform=SYSTEM_PLATFORM, channel_id=None,
               settings=settings, now=settings.clock())


def _addressed(session: Session, payload: dict[str, Any], settings: CoreSettings
               ) -> tuple[Ctx, CheckinRound, Group] | None:
    """The prompt's round, group and reader, or None when it is no longer to be sent: the
    round closed, or the person is away today (an away person is not counted missing)."""
    round_ = session.get(CheckinRound, payload["round_id"])
    person = session.get(Person, payload["person_id"])
    group = session.get(Group, payload["group_id"])
    if round_ is None or person is None or group is None:
        return None
    ctx = _person_ctx(session, settings, person)
    if round_.status != OPEN or round_.closes_at <= ctx.now:
        return None
    zone = person_zone(person) or group_zone(group, settings)
    today = ctx.now.astimezone(ZoneInfo(zone)).date()
    if away_until(person.settings, today) is not None:
        return None
    return ctx, round_, group


def reference_blocks(session: Session, group: Group, today: dt.date) -> list[Block]:
    """What the group has open, for reference: its actions (the overdue counted) and the
    BoC decisions it has not acknowledged."""
    blocks: list[Block] = []
    lines = open_action_lines(session, {group.id}, REFERENCE_LIMIT).get(group.id, [])
    overdue = session.scalar(select(func.count()).select_from(Action).where(
        Action.group_id == group.id, Action.status == "open", Action.due < today)) or 0
    if lines:
        blocks.append(Text((_n("For reference, its open actions ({overdue} overdue):",
                               "For reference, its open actions ({overdue} overdue):",
                               overdue, overdue=overdue),), "heading"))
        blocks.extend(lines)
    pending = list(session.execute(
        select(Decision.id, Decision.text).join(DecisionTarget).where(
            DecisionTarget.group_id == group.id, DecisionTarget.acked_at.is_(None),
            Decision.revoked_at.is_(None)).order_by(Decision.id).limit(REFERENCE_LIMIT)))
    if pending:
        blocks.append(Text((_("BoC decisions it has not acknowledged:"),), "heading"))
        blocks.extend(Text((f"• D-{did} {text[:200]}",)) for did, text in pending)
    return blocks


def compose_prompt(session: Session, payload: dict[str, Any],
                   settings: CoreSettings) -> list[Block] | None:
    found = _addressed(session, payload, settings)
    if found is None:
        return None
    ctx, round_, group = found
    return [
        *form_blocks(ctx, round_, group),
        *reference_blocks(session, group, ctx.today),
        answer_button(group),
        topic(TOPIC, group.slug),
    ]


def compose_reminder(session: Session, payload: dict[str, Any],
                     settings: CoreSettings) -> list[Block] | None:
    found = _addressed(session, payload, settings)
    if found is None:
        return None
    ctx, round_, group = found
    total = len(questions_of(round_))
    given = len({a.number for a in answers_of(session, round_.id, group.id, ctx.actor.id)})
    if given >= total:
        return None
    return [
        Text((_("Reminder: the check-in for {group} closes {time}.", group=group.name,
                time=When(round_.closes_at, round_.zone)),), "heading"),
        Text((_n("You have answered {given} of {n} question.",
                 "You have answered {given} of {n} questions.", total, given=given),)),
        *form_blocks(ctx, round_, group)[2:],
        answer_button(group),
        topic(TOPIC, group.slug),
    ]


# --- closing ----------------------------------------------------------------------------------


def close_round(session: Session, round_: CheckinRound, now: dt.datetime,
                settings: CoreSettings) -> bool:
    """Close the round and write what the close says, once: False if another process or
    an earlier tick closed it."""
    done = session.execute(update(CheckinRound).where(
        CheckinRound.id == round_.id, CheckinRound.status == OPEN).values(
        status=CLOSED, closed_at=now).execution_options(synchronize_session=False))
    if getattr(done, "rowcount", 0) != 1:
        return False
    session.refresh(round_)
    compiled = compile_round(session, round_)
    posts: list[Post] = []
    boc = session.scalar(select(Group).where(Group.slug == BOC).options(*reach_loads()))
    if boc is not None:
        reach = group_reach(boc, settings.platforms)
        if reach:
            posts.append(Post(boc.slug, boc.name, reach, round_blocks(compiled)))
        _agenda(session, boc, compiled, now, settings)
    posts.extend(_escalations(session, compiled, settings))
    if posts:
        queue_posts(session, posts, now, f"checkin-close:{round_.id}")
    return True


def _agenda(session: Session, boc: Group, compiled: Compiled, now: dt.datetime,
            settings: CoreSettings) -> None:
    """The Board meeting's agenda gains an item for each group that answered (with its
    blocker) and one naming those that did not."""
    lang = group_language(boc, settings)
    questions = compiled.questions
    texts: list[str] = []
    for part in compiled.answering:
        blockers = [a.text for a in part.answers.get(questions.blockers, [])
                    if not says_nothing(a.text)]
        if blockers:
            texts.append(said(_("Check-in from {group}: blocked: {blocker}",
                                group=part.group.name, blocker=" / ".join(blockers)), lang))
        else:
            texts.append(said(_("Check-in from {group}", group=part.group.name), lang))
    if compiled.missing:
        texts.append(said(_("No check-in from {groups}",
                            groups=listed([g.group.name for g in compiled.missing])), lang))
    for text in texts:
        if len(text) > TITLE_MAX:
            text = text[:TITLE_MAX - 1] + "…"
        session.add(AgendaItem(group_id=boc.id, occurrence_date=compiled.round.meeting_date,
                               text=text, created_at=now))


def _escalations(session: Session, compiled: Compiled,
                 settings: CoreSettings) -> list[Post]:
    """A group that did not answer: its chairs are told, each directly (a group with no
    chair: those the round asked), and the secretariat in its channels."""
    missing = compiled.missing
    if not missing:
        return []
    r = compiled.round
    # every missing group's chairs, and where each is written to: a select each, for all
    found: dict[int, list[Person]] = defaultdict(list)
    for group_id, person in session.execute(
            select(Membership.group_id, Person).join(Person, Person.id == Membership.person_id)
            .where(Membership.group_id.in_([part.group.id for part in missing]),
                   Membership.role == "chair").order_by(Membership.id)):
        found[group_id].append(person)
    told = {part.group.id: found.get(part.group.id) or part.asked for part in missing}
    people = list({p.id: p for chairs in told.values() for p in chairs}.values())
    targets_of = {person.id: targets
                  for person, targets in personal_targets(session, people, settings)}
    posts: list[Post] = []
    for part in missing:
        where = [ChannelRef.direct(platform, ext) for person in told[part.group.id]
                 for platform, ext in targets_of[person.id]]
        if where:
            posts.append(Post(part.group.slug, part.group.name, where, [
                Text((_("{group} gave no check-in before the Board meets {time}: the Board "
                        "sees it as missing.", group=part.group.name,
                        time=When(r.meeting_at, r.zone)),)),
                Text((_("Next time, answer with {command} when the prompt comes.",
                        command=f"checkin {part.group.slug} <answer>"),)),
            ]))
    secretariat = session.scalar(select(Group).where(Group.slug == SECRETARIAT)
                                 .options(*reach_loads()))
    if secretariat is not None:
        reach = group_reach(secretariat, settings.platforms)
        if reach:
            posts.append(Post(secretariat.slug, secretariat.name, reach, [Text((_n(
                "No check-in from {groups} before the Board meets {time}.",
                "No check-in from {groups} before the Board meets {time}.", len(missing),
                groups=listed([g.group.name for g in missing]),
                time=When(r.meeting_at, r.zone)),))]))
    return posts


def register(kinds: ScheduleKinds) -> None:
    kinds.planner(plan_checkins)
    kinds.kind(PROMPT, compose_prompt)
    kinds.kind(REMINDER, compose_reminder)

