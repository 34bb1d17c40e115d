"""``checkin``: answer the open round's questions for a Task Group, change an answer, see a
round (``show``) or who has answered (``status``).

Anyone a round asks may answer for their group, and so may its other members (the group's
voice is whoever speaks for it); each person's answers are their own, kept per question
and editable until the close. A reply to a prompt (a mail, a Matrix reply) is this command
with the prompt's group in front, so each line answers the next question.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from handlers.checkins._rounds import (
    OPEN,
    TOPIC,
    answers_of,
    compile_round,
    latest_round,
    open_round,
    questions_of,
    round_blocks,
    rounds_between,
    status_table,
)
from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_month
from handlers.core.grammar import Args, Refused, UserError, ascii_int, check_length
from handlers.core.i18n import Msg, _, _n, listed
from handlers.core.messages import Block, Button, Buttons, Reply, Text, When, topic
from handlers.core.params import Values
from handlers.core.roles import ANYONE, Policy, staff
from handlers.core.router import Registry
from storage.models import TEXT_MAX, CheckinAnswer, CheckinAskee, CheckinRound, Group, Membership


@dataclass(frozen=True)
class Answering:
    """What ``checkin ...`` was asked: the group it named (if any), the question to edit
    (``edit <n>``; None: the next one) and the answer (empty: show the questions)."""

    group: Group | None
    number: int | None
    text: str


def _task_group(ctx: Ctx, word: str) -> Group | None:
    """A group named by its slug (one word, so an answer's first words are never taken
    for a group's name)."""
    return ctx.session.scalar(select(Group).where(Group.slug == word.lower()))


def _read_answering(ctx: Ctx, args: Args) -> Answering:
    group = None
    first = args.peek()
    if first is not None and (found := _task_group(ctx, first)) is not None:
        group = found
        args.pos += 1
    number = None
    if (args.peek() or "").lower() == "edit":
        raw = args.peek(1)
        number = ascii_int(raw or "", 2)
        if number is None or number < 1:
            raise UserError(_("edit takes the number of the question to change, like "
                              "{example}.", example="checkin edit 2 <answer>"))
        args.pos += 2
        text = args.rest_text(_("<answer...>"))
    else:
        text = args.rest_text(required=False)
    return Answering(group, number, check_length(text, TEXT_MAX, _("answer")))


ANSWERING = p.custom("[<group>] [edit <n>] [<answer...>]", _read_answering)
SCOPE = p.maybe_group(more=True)
MONTH = p.custom("[<month>]", lambda ctx, args: (
    parse_month(args.rest_text(required=False), ctx.today) if not args.empty() else None))


def _asked_for(ctx: Ctx, round_: CheckinRound) -> list[Group]:
    """The groups the caller is asked for in the round, or else a member of."""
    asked = list(ctx.session.scalars(select(Group).join(
        CheckinAskee, CheckinAskee.group_id == Group.id).where(
        CheckinAskee.round_id == round_.id, CheckinAskee.person_id == ctx.actor.id)
        .order_by(Group.name)))
    if asked:
        return asked
    in_round = select(CheckinAskee.group_id).where(CheckinAskee.round_id == round_.id)
    return list(ctx.session.scalars(select(Group).join(
        Membership, Membership.group_id == Group.id).where(
        Group.id.in_(in_round), Membership.person_id == ctx.actor.id).order_by(Group.name)))


def _may_answer(ctx: Ctx, round_: CheckinRound, group: Group) -> bool:
    asked = ctx.session.scalar(select(CheckinAskee.person_id).where(
        CheckinAskee.round_id == round_.id, CheckinAskee.group_id == group.id,
        CheckinAskee.person_id == ctx.actor.id))
    if asked is not None:
        return True
    member = ctx.session.scalar(select(Membership.id).where(
        Membership.group_id == group.id, Membership.person_id == ctx.actor.id))
    in_round = ctx.session.scalar(select(CheckinAskee.person_id).where(
        CheckinAskee.round_id == round_.id, CheckinAskee.group_id == group.id).limit(1))
    return member is not None and in_round is not None


def _which_group(ctx: Ctx, round_: CheckinRound, named: Group | None) -> Group:
    if named is not None:
        if not _may_answer(ctx, round_, named):
            raise Refused(_("one of those it asks, or a member of {group}", group=named.slug),
                          "checkin")
        return named
    here = ctx.channel_group
    if here is not None and _may_answer(ctx, round_, here):
        return here
    groups = _asked_for(ctx, round_)
    if len(groups) == 1:
        return groups[0]
    if not groups:
        raise UserError(_("This check-in asks none of your groups."), show_usage=False)
    raise UserError(_("Name the group you answer for: {groups}.",
                      groups=listed([g.slug for g in groups])))


def _open(ctx: Ctx) -> CheckinRound:
    found = open_round(ctx.session)
    if found is None:
        last = latest_round(ctx.session)
        if last is None:
            raise UserError(_("No check-in has opened yet: one opens before each BoC "
                              "meeting."), show_usage=False)
        raise UserError(_("No check-in is open: the last one closed {time}.",
                          time=When(last.closed_at or last.closes_at, last.zone)),
                        show_usage=False)
    # the round's row held shared until the answer commits: the close (an UPDATE of it)
    # waits for the answer and compiles it, or the answer sees the round closed
    status = ctx.session.scalar(select(CheckinRound.status).where(
        CheckinRound.id == found.id).with_for_update(read=True))
    if found.closes_at <= ctx.now or status != OPEN:
        raise UserError(_("The check-in closed {time}: its answers can no longer change.",
                          time=When(found.closes_at, found.zone)), show_usage=False)
    return found


def form_blocks(ctx: Ctx, round_: CheckinRound, group: Group) -> list[Block]:
    """The questions with the caller's answers so far, and how to give the others."""
    questions = questions_of(round_)
    mine = {a.number: a for a in answers_of(ctx.session, round_.id, group.id, ctx.actor.id)}
    blocks: list[Block] = [
        Text((_("Check-in for {group}, before the Board meets {time}",
                group=group.name, time=When(round_.meeting_at, round_.zone)),), "heading"),
        Text((_("Answers can change until {time}.", time=When(round_.closes_at, round_.zone)),)),
    ]
    for number, question in enumerate(questions.said(), 1):
        given = mine.get(number)
        spans: tuple[str, ...] = (f"{number}. ", question, "\n", given.text) if given else (
            f"{number}. ", question)
        blocks.append(Text(spans))
    blocks.append(Text((_("Answer the next question with {answer}; change one with {edit}.",
                          answer=f"checkin {group.slug} <answer>",
                          edit=f"checkin {group.slug} edit <n> <answer>"),)))
    return blocks


def answer_button(group: Group) -> Buttons:
    # TRANSLATORS: the button on a check-in prompt (Slack opens a form with the questions)
    return Buttons((Button(_("Answer"), f"checkin {group.slug}", "primary"),))


def save_answer(ctx: Ctx, round_: CheckinRound, group: Group, number: int | None,
                text: str) -> tuple[int, bool]:
    """Write one answer: question ``number``, else the caller's next unanswered one.
    Returns the question's number and whether it replaced an earlier answer."""
    questions = questions_of(round_)
    mine = {a.number: a for a in answers_of(ctx.session, round_.id, group.id, ctx.actor.id)}
    if number is None:
        number = next((n for n in range(1, len(questions) + 1) if n not in mine), 0)
        if not number:
            raise UserError(_n(
                "You have answered the question; change it with {command}.",
                "You have answered all {n} questions; change one with {command}.",
                len(questions), command=f"checkin {group.slug} edit <n> <answer>"),
                show_usage=False)
    elif number > len(questions):
        raise UserError(_n("This check-in has {n} question.",
                           "This check-in has {n} questions.", len(questions)))
    old = mine.get(number)
    if old is not None:
        old.text, old.updated_at, old.via = text, ctx.now, ctx.platform
    else:
        ctx.session.add(CheckinAnswer(
            round_id=round_.id, group_id=group.id, person_id=ctx.actor.id, number=number,
            text=text, via=ctx.platform, created_at=ctx.now, updated_at=ctx.now))
    ctx.session.flush()
    ctx.audit("checkin_answer", "checkin_round", round_.id, group=group.slug, number=number)
    return number, old is not None


def _answered(ctx: Ctx, round_: CheckinRound, group: Group, number: int,
              replaced: bool) -> Reply:
    questions = questions_of(round_)
    said = questions.said()
    mine = {a.number for a in answers_of(ctx.session, round_.id, group.id, ctx.actor.id)}
    done: Msg = (_("Changed your answer to question {n} for {group}.", n=number,
                   group=group.slug) if replaced else
                 _("Saved your answer to question {n} for {group}.", n=number,
                   group=group.slug))
    reply = Reply().say(done)
    following = next((n for n in range(1, len(questions) + 1) if n not in mine), 0)
    if following:
        return reply.say(_("Next, question {n}: {question}", n=following,
                           question=said[following - 1]))
    return reply.say(_("All answered. You can change them until {time}.",
                       time=When(round_.closes_at, round_.zone)))


def _pick_round(ctx: Ctx, month: dt.date | None) -> CheckinRound:
    if month is None:
        found = latest_round(ctx.session)
    else:
        end = (month + dt.timedelta(days=32)).replace(day=1)
        rounds = rounds_between(ctx.session, month, end)
        found = rounds[-1] if rounds else None
    if found is None:
        raise UserError(_("No check-in for that month.") if month else
                        _("No check-in has opened yet: one opens before each BoC meeting."),
                        show_usage=False)
    return found


def _status_guard(ctx: Ctx, _args: Args) -> None:
    if staff(ctx):
        return
    chairs = ctx.session.scalar(select(Membership.id).where(
        Membership.person_id == ctx.actor.id, Membership.role == "chair").limit(1))
    if chairs is None:
        raise Refused(_("the secretariat, an admin or a group's chair"), "checkin status")


def register(reg: Registry) -> None:
    reg.noun("checkin", _("each Task Group's report to the Board before it meets: answer "
                          "with checkin [<group>] <answer>; show, status"),
             common=("show", "status"))

    @reg.command("checkin", "", p.spec(ANSWERING),
                 _("answer the open check-in's next question for your group (edit <n>: "
                   "change one; nothing: see the questions and your answers)"),
                 Policy(_("those it asks, and their groups' members")))
    def checkin(ctx: Ctx, v: Values) -> Reply:
        a: Answering = v[ANSWERING]
        round_ = _open(ctx)
        group = _which_group(ctx, round_, a.group)
        if not a.text:
            return Reply().add(*form_blocks(ctx, round_, group), topic(TOPIC, group.slug))
        number, replaced = save_answer(ctx, round_, group, a.number, a.text)
        return _answered(ctx, round_, group, number, replaced)

    @reg.command("checkin", "show", p.spec(SCOPE, MONTH),
                 _("a check-in's answers, each group's blockers first (the latest round, or "
                   "the one before the BoC meeting of a month)"), ANYONE)
    def checkin_show(ctx: Ctx, v: Values) -> Reply:
        round_ = _pick_round(ctx, v[MONTH])
        group: Group | None = v[SCOPE]
        return Reply().add(*round_blocks(compile_round(ctx.session, round_, group)))

    @reg.command("checkin", "status", p.spec(),
                 _("who the open (or last) check-in asked, and who has answered"),
                 Policy(_("admin, secretariat, chairs"), guard=_status_guard))
    def checkin_status(ctx: Ctx, _v: Values) -> Reply:
        round_ = open_round(ctx.session) or _pick_round(ctx, None)
        compiled = compile_round(ctx.session, round_)
        reply = Reply().add(*round_blocks(compiled)[:2])
        if not compiled.groups:
            return reply.say(_("It asks no one: no Task Group has members to ask."))
        return reply.add(status_table(ctx.session, compiled, ctx.today))


def is_open(round_: CheckinRound, now: dt.datetime) -> bool:
    return round_.status == OPEN and round_.closes_at > now

