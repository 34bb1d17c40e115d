"""Roll call and votes in a meeting: ``#here``, ``#motion``, ``#vote`` and ``#close``.

Attendance is the meeting's attendees: everyone who said a line, and whoever answered the
roll call (``#here``; a chair's ``#here @a @b`` records others, with no lines said). The
meeting has its quorum when the group's ``quorum`` setting (``tg settings <group> quorum``,
50% by default) of its members are present.

A motion is a proposal of the meeting's group (``handlers.proposals``) that belongs to the
meeting: its electorate is the group's members present when it is put, frozen, and it
closes at the chair's ``#close``, at ``meeting end`` or at the meeting's own auto-close time
(its deadline), whichever comes first, through ``close_proposal``: a passed BoC motion
``for`` groups becomes a decision exactly as a proposal does. A meeting has one motion open
at a time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import mention
from handlers.core.grammar import (
    Args,
    Refused,
    UserError,
    ascii_int,
    tokenize,
)
from handlers.core.i18n import Arg, Msg, _, _n, listed
from handlers.core.messages import (
    Block,
    ChannelRef,
    Post,
    Reply,
    Span,
    text,
)
from handlers.core.people import is_person, resolve_people
from handlers.core.roles import is_boc, staff
from handlers.core.scheduling import setting
from handlers.meeting_mode._common import chair_needed, is_meeting_chair
from handlers.proposals import (
    KEYWORDS,
    Opening,
    cast_vote,
    choice_buttons,
    choices_of,
    close_proposal,
    fill_opening,
    label,
    open_proposal,
    outcome_line,
    outcome_of,
    rule_of,
    sections,
)
from storage.models import (
    Decision,
    Meeting,
    MeetingAttendee,
    Membership,
    Person,
    Proposal,
    ProposalVoter,
    Vote,
)

OPEN = "open"
# proposal open's keywords, less ``closes``: a motion closes with #close or the meeting

HERE_USAGE = "#here [<@user> ...]"
MOTION_USAGE = ("#motion <text...> [for <group>[,<group>...]] "
                "[kind consent|majority|consensus|poll] [options <a> | <b> | ...] "
                "[quorum <N>%] [anonymous] [hidden]")
VOTE_USAGE = "#vote agree|abstain|disagree|block [<reason...>]"


# --- attendance and quorum ---------------------------------------------------------------------


@dataclass(frozen=True)
class Quorum:
    present: int  # the group's members present
    members: int  # the group's members
    pct: int  # the group's quorum setting

    @property
    def met(self) -> bool:
        """``pct`` percent of the members present (exact in integers), and one at least,
        as a proposal's quorum is counted."""
        return self.present > 0 and self.present * 100 >= self.pct * self.members


def quorum_pct(meeting: Meeting) -> int:
    value = ascii_int(setting(meeting.group, "quorum").rstrip("%"), 3)
    return value if value is not None else 50


def _members(session: Session, meeting: Meeting, at: dt.datetime) -> dict[int, str | None]:
    """The group's members as they were at ``at`` (who joined later does not count), with
    the project each represents in it."""
    return {pid: project for pid, project in session.execute(
        select(Membership.person_id, Membership.project).where(
            Membership.group_id == meeting.group_id, Membership.created_at <= at))}


def _present(session: Session, meeting: Meeting) -> list[int]:
    """Who is present, in the order they came."""
    return list(session.scalars(
        select(MeetingAttendee.person_id).where(MeetingAttendee.meeting_id == meeting.id)
        .order_by(MeetingAttendee.id)))


def meeting_quorum(session: Session, meeting: Meeting, at: dt.datetime) -> Quorum:
    members = _members(session, meeting, at)
    present = [pid for pid in _present(session, meeting) if pid in members]
    return Quorum(len(present), len(members), quorum_pct(meeting))


def quorum_line(q: Quorum) -> Msg:
    """``Quorum met (3 of 4 members present, quorum 50%).``"""
    if q.met:
        return _n("Quorum met ({present} of {n} member present, quorum {quorum}%).",
                  "Quorum met ({present} of {n} members present, quorum {quorum}%).",
                  q.members, present=q.present, quorum=q.pct)
    return _n("Quorum not met ({present} of {n} member present, quorum {quorum}%).",
              "Quorum not met ({present} of {n} members present, quorum {quorum}%).",
              q.members, present=q.present, quorum=q.pct)


def _mark_present(session: Session, meeting: Meeting, person: Person,
                  now: dt.datetime) -> bool:
    """Record ``person`` present (with no line said); False if they were already."""
    found = session.scalar(select(MeetingAttendee.id).where(
        MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.person_id == person.id))
    if found is not None:
        return False
    session.add(MeetingAttendee(meeting=meeting, person=person, lines=0, first_at=now))
    session.flush()
    return True


def here(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    """``#here``: the speaker is present (a quiet acknowledgement); ``#here @a @b`` (a
    chair): they are, said in the channel. Either way the quorum so far."""
    args = Args(body, tokenize(body))
    raws: list[str] = []
    while (tok := args.peek()) is not None and is_person(ctx, tok):
        raws.append(tok)
        args.pos += 1
    if raws and not args.empty():
        raise UserError(_("#here takes people only: #here for yourself, or (a chair) "
                          "#here @a @b for others."))
    people = resolve_people(ctx, raws) if raws else [ctx.actor]
    if any(person.id != ctx.actor.id for person in people) and not is_meeting_chair(
            ctx, meeting):
        # TRANSLATORS: what only a chair may do, in "Only ... can do #here for others."
        raise Refused(chair_needed(meeting), _("#here for others"))
    for person in people:
        _mark_present(ctx.session, meeting, person, ctx.now)
    ctx.audit("here", "meeting", meeting.id, people=[person.id for person in people])
    so_far = quorum_line(meeting_quorum(ctx.session, meeting, ctx.now))
    if [person.id for person in people] == [ctx.actor.id]:
        return Reply().say(_("{person} is present.", person=mention(ctx.actor))).say(so_far)
    return Reply(private=False).say(
        _("Recorded present: {people}.",
          people=listed([mention(person) for person in people]))).say(so_far)


# --- motions -----------------------------------------------------------------------------------


def open_motion(session: Session, meeting: Meeting) -> Proposal | None:
    return session.scalar(
        select(Proposal).where(Proposal.meeting_id == meeting.id, Proposal.status == OPEN)
        .order_by(Proposal.id.desc()).limit(1))


MOTION_KEYWORDS = tuple(k for k in KEYWORDS if k != "closes")  # it closes with #close


def _read_motion(ctx: Ctx, meeting: Meeting, body: str) -> Opening:
    """``<text...>`` and proposal open's keywords after it (a keyword inside the text is
    quoted, as in proposal open), read as proposal open reads them; ``for`` in the BoC's
    meeting only (a passed motion there becomes a decision for those groups)."""
    title, found = sections(Args(body, tokenize(body)), MOTION_KEYWORDS)
    o = Opening()
    o.group = meeting.group
    return fill_opening(ctx, o, title, found)


def motion(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    """``#motion <text> [for <groups>] ...`` (a chair): a vote of the members present."""
    running = open_motion(ctx.session, meeting)
    if running is not None:
        raise UserError(_("Motion {proposal} is still open: one motion at a time, so #close "
                          "it before the next.", proposal=label(running)), show_usage=False)
    if not body:
        raise UserError(_("#motion needs the text of the motion."))
    o = _read_motion(ctx, meeting, body)
    if o.targets and not (is_boc(ctx) or staff(ctx)):
        # TRANSLATORS: what only some may do, in "Only ... can do #motion for groups."
        raise Refused(_("a BoC member, the secretariat or an admin"), _("#motion for groups"))
    members = _members(ctx.session, meeting, ctx.now)
    electorate = [(pid, members[pid]) for pid in sorted(_present(ctx.session, meeting))
                  if pid in members]
    if not electorate:
        raise UserError(_("No member of {group} is present to vote: #here records who is.",
                          group=meeting.group.slug), show_usage=False)
    proposal = open_proposal(ctx, o, meeting_id=meeting.id, electorate=electorate,
                             closes=meeting.closes_at)
    # those present vote; the quorum is a share of all the group's members, so a handful
    # present cannot pass a motion for everyone
    proposal.quorum_base = len(members)
    choices = "|".join(choices_of(proposal.kind, proposal.options))
    reply = Reply(private=False).say(
        _("Motion {proposal}: {title}", proposal=label(proposal), title=proposal.title),
        style="heading")
    reply = reply.say(_n("Rule: {rule}. Quorum: {quorum}% of the {n} member present.",
                         "Rule: {rule}. Quorum: {quorum}% of the {n} members present.",
                         len(electorate), rule=rule_of(proposal.kind),
                         quorum=proposal.quorum_pct))
    if proposal.targets:
        reply = reply.say(_("If it passes it becomes a decision for {groups}.",
                            groups=", ".join(t.group.slug for t in proposal.targets)))
    if proposal.anonymous:
        reply = reply.say(_("Votes are anonymous: vote with a button or by {command} to the "
                            "bot directly, as a #vote line is seen by everyone here.",
                            command=f"vote {label(proposal)} <choice>"))
    if proposal.hidden:
        reply = reply.say(_("The tally is hidden until the close."))
    attendance = meeting_quorum(ctx.session, meeting, ctx.now)
    if not attendance.met:
        reply = reply.say(quorum_line(attendance))
    reply = reply.say(_("Vote with {command} (or a button below); a vote can be changed "
                        "until {close} or the meeting's end.",
                        command=f"#vote {choices} [<reason...>]", close="#close"))
    return reply.add(choice_buttons(proposal))


def vote(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    """``#vote <choice> [<reason...>]``: on the meeting's open motion, by one of its
    electorate (the members present when it was put)."""
    proposal = open_motion(ctx.session, meeting)
    if proposal is None:
        raise UserError(_("No motion is open in this meeting: a chair puts one with "
                          "{command}.", command="#motion <text>"), show_usage=False)
    words = body.split(maxsplit=1)
    if not words:
        raise UserError(_("#vote needs your choice: {choices}.",
                          choices=p.either(choices_of(proposal.kind, proposal.options))))
    if ctx.session.get(ProposalVoter, (proposal.id, ctx.actor.id)) is None:
        raise UserError(_("Only the members of {group} who were present when motion "
                          "{proposal} was put may vote on it.", group=meeting.group.slug,
                          proposal=label(proposal)), show_usage=False)
    return cast_vote(ctx, proposal, words[0], words[1].strip() if len(words) > 1 else "")


def _who_voted(session: Session, proposal: Proposal) -> list[Msg]:
    """``agree: @alice, @bob (a reason)``, a line a choice in the order they are offered,
    and who did not vote."""
    by_choice: dict[str, list[Arg]] = {}
    voted: set[int] = set()
    for person, choice, reason in session.execute(
            select(Person, Vote.choice, Vote.reason).join(Vote, Vote.person_id == Person.id)
            .where(Vote.proposal_id == proposal.id, Vote.replaced_at.is_(None))
            .order_by(Person.display_name, Person.id)):
        voted.add(person.id)
        # TRANSLATORS: a voter and the reason they gave, in a list of who voted what
        by_choice.setdefault(choice, []).append(
            _("{person} ({reason})", person=mention(person), reason=reason) if reason
            else mention(person))
    lines = [_("{choice}: {people}", choice=choice, people=listed(by_choice[choice]))
             for choice in choices_of(proposal.kind, proposal.options) if choice in by_choice]
    waiting = [mention(v.person) for v in proposal.electorate if v.person_id not in voted]
    if waiting:
        lines.append(_("Did not vote: {people}.", people=listed(waiting)))
    return lines


def _decision_line(session: Session, proposal: Proposal) -> Msg | None:
    decision = (session.get(Decision, proposal.decision_id)
                if proposal.decision_id is not None else None)
    if decision is None:
        return None
    return _("It became decision {decision} for {groups}.", decision=f"D-{decision.id}",
             groups=", ".join(t.group.slug for t in decision.targets))


def closing_blocks(session: Session, proposal: Proposal) -> list[Block]:
    """What the channel is told when a motion closes."""
    blocks: list[Block] = [
        text(_("Motion {proposal} is closed: {title}", proposal=label(proposal),
               title=proposal.title), style="heading"),
        text(outcome_line(proposal, outcome_of(session, proposal))),
        text(_("Rule: {rule}; quorum {quorum}%.", rule=rule_of(proposal.kind),
               quorum=proposal.quorum_pct)),
    ]
    if not proposal.anonymous:
        blocks += [text(line) for line in _who_voted(session, proposal)]
    if (said := _decision_line(session, proposal)) is not None:
        blocks.append(text(said))
    return blocks


def close_motion(ctx: Ctx, meeting: Meeting, proposal: Proposal, *, by: Person | None,
                 here: ChannelRef | None) -> tuple[list[Block], list[Post]] | None:
    """Close the motion (None if another close got there first): what to say in the
    meeting, and the posts ``close_proposal`` makes (its outcome to the group's channels,
    a passed motion's decision to its groups and the BoC), less the meeting's channel
    ``here``, where the outcome is said."""
    posts = close_proposal(ctx, proposal, by=by)
    if posts is None:
        return None
    ctx.audit("close_motion", "meeting", meeting.id, proposal=proposal.id)
    kept: list[Post] = []
    for post in posts:
        chans = [c for c in post.channels if c != here]
        if chans:
            kept.append(Post(post.group_slug, post.group_name, chans, post.blocks))
    return closing_blocks(ctx.session, proposal), kept


def close(ctx: Ctx, meeting: Meeting) -> Reply:
    """``#close`` (a chair): the open motion's outcome, said in the channel."""
    proposal = open_motion(ctx.session, meeting)
    if proposal is None:
        raise UserError(_("No motion is open in this meeting: a chair puts one with "
                          "{command}.", command="#motion <text>"), show_usage=False)
    closed = close_motion(ctx, meeting, proposal, by=ctx.actor,
                          here=ChannelRef(meeting.platform, meeting.channel_id))
    if closed is None:
        raise UserError(_("{proposal} is closed already.", proposal=label(proposal)),
                        show_usage=False)
    blocks, posts = closed
    return Reply(private=False, posts=posts).add(*blocks)


# --- the minutes -------------------------------------------------------------------------------


def motion_blocks(session: Session, meeting: Meeting) -> list[Block]:
    """The minutes' Motions section: each motion, its outcome, and who voted what unless it
    was anonymous."""
    motions = list(session.scalars(
        select(Proposal).where(Proposal.meeting_id == meeting.id).order_by(Proposal.id)))
    if not motions:
        return []
    blocks: list[Block] = [text(_("Motions"), style="heading")]
    for m in motions:
        blocks.append(text("- ", _("Motion {proposal}: {title}", proposal=label(m),
                                   title=m.title)))
        lines: list[Span] = []
        if m.status == OPEN:
            # TRANSLATORS: a motion in the minutes that was not closed (rare: it closes
            # with the meeting)
            lines.append(_("Not closed."))
        else:
            lines.append(outcome_line(m, outcome_of(session, m)))
        lines.append(_("Rule: {rule}; quorum {quorum}%.", rule=rule_of(m.kind),
                       quorum=m.quorum_pct))
        if not m.anonymous and not (m.status == OPEN and m.hidden):
            lines += _who_voted(session, m)
        if (said := _decision_line(session, m)) is not None:
            lines.append(said)
        blocks += [text("  - ", line) for line in lines]
    return blocks


__all__ = [
    "HERE_USAGE",
    "MOTION_USAGE",
    "VOTE_USAGE",
    "Quorum",
    "close",
    "close_motion",
    "closing_blocks",
    "here",
    "meeting_quorum",
    "motion",
    "motion_blocks",
    "open_motion",
    "quorum_line",
    "vote",
]
