"""Meeting mode, MeetBot-style: ``meeting start``, tagged lines captured while the meeting
runs, ``meeting end`` posts and stores the minutes, ``meeting minutes`` finds them again.

Unlike MeetBot, nothing is lost when the meeting ends: ``#action`` creates a tracked action
item at once (linked to the meeting's series and date), ``#decision`` in the BoC's meeting is
a BoC decision posted to its target groups exactly as ``decision post`` does, and agenda
items nobody reached move to the next meeting's agenda.

Its captures are a listener of the router (:data:`LISTENER`): adapters give every ordinary
(non-command) channel message to ``Router.hear``, which runs it in the router's unit of
work, as a command runs. It answers:
- None: not for the meeting (no meeting open there, or a line without a tag; the speaker is
  still counted as present);
- a Reply with ``error``: tell the speaker (ephemeral / notice);
- a private Reply: a quiet acknowledgement, a reaction where the platform has them (each
  adapter picks its own), the text where it has none;
- a public Reply: show it in the channel. ``reply.posts`` go out like any command's.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.actions import CANCELLED, OPEN, create_action
from handlers.core import params as p
from handlers.core.context import CoreSettings, Ctx
from handlers.core.dates import take_due_tail
from handlers.core.directory import SYSTEM_PLATFORM, mention, system_person
from handlers.core.grammar import (
    Args,
    Refused,
    UserError,
    ascii_int,
    check_length,
    tokenize,
)
from handlers.core.i18n import Arg, Msg, _, listed
from handlers.core.messages import (
    Block,
    ChannelRef,
    Day,
    Post,
    Reply,
    Span,
    Table,
    Text,
    plain_spans,
    text,
)
from handlers.core.params import Values
from handlers.core.people import is_person, resolve_people, resolve_person
from handlers.core.posts import queue_posts
from handlers.core.reach import group_reach
from handlers.core.recurrence import parse_offsets
from handlers.core.roles import (
    BOC,
    CHAIR_AND_UP,
    Policy,
    is_boc,
    require_member,
    staff,
)
from handlers.core.router import Incoming, Listener, Registry
from handlers.core.scheduling import MAX_GRACE, outbox_row
from handlers.decisions import (
    boc_group,
    decision_blocks,
    parse_targets,
    record_decision,
)
from handlers.meeting_mode import _votes
from handlers.meeting_mode._common import chair_needed, is_meeting_chair
from handlers.meetings import Occurrence, action_headers, occurrences, upcoming
from storage import outbox
from storage.models import (
    TEXT_MAX,
    TITLE_MAX,
    Action,
    ActionEvent,
    AgendaItem,
    AuditLog,
    Decision,
    Group,
    Meeting,
    MeetingAttendee,
    MeetingItem,
    Membership,
    Person,
)

log = logging.getLogger(__name__)

DEFAULT_AUTO_CLOSE = dt.timedelta(hours=4)
MAX_MEETING = dt.timedelta(hours=24)
TAGS = ("topic", "info", "link", "idea", "action", "agreed", "decision", "undo", "chair",
        "here", "motion", "vote", "close")
# MeetBot's split: anyone in the meeting records #info, #idea, #link; #action follows
# `action add` (members of the group); #undo of one's own last line is anyone's, of another's
# a chair's; #here (for oneself) and #vote (on the open motion, by those it was put to) are
# anyone's; the rest steers the meeting and is the chairs'.
CHAIR_TAGS = frozenset({"topic", "agreed", "decision", "chair", "motion", "close"})
_TAG = re.compile(r"^#([A-Za-z]+)(?=\s|$)")


# the usage a refused tagged line is answered with, as a command's is
TAG_USAGE = {"action": _("Usage: {usage}", usage="#action [<@user> ...] <text...> [due <date>]"),
             "here": _("Usage: {usage}", usage=_votes.HERE_USAGE),
             "motion": _("Usage: {usage}", usage=_votes.MOTION_USAGE),
             "vote": _("Usage: {usage}", usage=_votes.VOTE_USAGE)}


def tag_of(line: str) -> str | None:
    """The meeting tag a line starts with (``#action ...`` -> ``action``), or None."""
    m = _TAG.match(line.strip())
    if m is None or m.group(1).lower() not in TAGS:
        return None
    return m.group(1).lower()


def looks_like_tag(line: str) -> bool:
    """``#word`` at the start: the shell's test for a capture rather than a comment."""
    return _TAG.match(line.strip()) is not None




def zone_of(group: Group, settings: CoreSettings) -> str:
    return group.series.timezone if group.series is not None else settings.timezone


# --- finding meetings ------------------------------------------------------------------------


def open_meeting_in(
    session: Session, platform: str, channel_id: str, now: dt.datetime
) -> Meeting | None:
    """The meeting running in a channel (one whose auto-close time has come is not)."""
    return session.scalar(
        select(Meeting).where(
            Meeting.platform == platform, Meeting.channel_id == channel_id,
            Meeting.ended_at.is_(None), Meeting.closes_at > now,
        ).order_by(Meeting.id.desc()).limit(1)
    )


def open_meeting_of(session: Session, group: Group) -> Meeting | None:
    return session.scalar(
        select(Meeting).where(Meeting.group_id == group.id, Meeting.ended_at.is_(None))
        .order_by(Meeting.id.desc()).limit(1)
    )


def held_occurrence(group: Group, now: dt.datetime) -> Occurrence | None:
    """The series meeting this one holds: the occurrence nearest ``now`` within a day."""
    if group.series is None:
        return None
    near = occurrences(group.series, now - dt.timedelta(days=1), now + dt.timedelta(days=1))
    if not near:
        return None
    return min(near, key=lambda o: abs((o.start - now).total_seconds()))


def agenda_of(session: Session, group: Group, day: dt.date | None) -> list[AgendaItem]:
    if day is None:
        return []
    return list(session.scalars(
        select(AgendaItem)
        .where(AgendaItem.group_id == group.id, AgendaItem.occurrence_date == day)
        .order_by(AgendaItem.id)
    ))


def _count_speaker(session: Session, meeting: Meeting, person: Person,
                   now: dt.datetime) -> None:
    row = session.scalar(select(MeetingAttendee).where(
        MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.person_id == person.id))
    if row is None:
        session.add(MeetingAttendee(meeting=meeting, person=person, lines=1,
                                    first_at=now))
    else:
        row.lines += 1


# --- capture ---------------------------------------------------------------------------------


def _wants(session: Session, msg: Incoming, now: dt.datetime) -> bool:
    """Whether a meeting runs in the line's channel: one indexed lookup, in the router's
    reader session, so on SQLite a busy channel's chatter never takes the write lock. It
    reads the store, not a cache, so a meeting opened by another process is seen at once."""
    return msg.channel_id is not None and open_meeting_in(
        session, msg.platform, msg.channel_id, now) is not None


def _hear(ctx: Ctx, line: str) -> Reply | None:
    """The line, for the meeting open in the channel: looked up again in the write
    transaction, as it may have ended since :func:`_wants` saw it."""
    assert ctx.channel_id is not None  # the router hears channel lines only
    meeting = open_meeting_in(ctx.session, ctx.platform, ctx.channel_id, ctx.now)
    return None if meeting is None else capture(ctx, meeting, line)


LISTENER = Listener(
    name="meeting capture", wants=_wants, hear=_hear, addressed=looks_like_tag,
    usage=lambda line: TAG_USAGE.get(tag_of(line) or ""),
    # TRANSLATORS: what is done with a line said in a meeting, as in "nothing was captured".
    done=_("captured"))


def capture(ctx: Ctx, meeting: Meeting, line: str) -> Reply | None:
    """Record one line of an open meeting: attendance always, a tagged item when tagged."""
    line = line.strip()
    _count_speaker(ctx.session, meeting, ctx.actor, ctx.now)
    tag = tag_of(line)
    if tag is None:
        return None
    body = line[len(tag) + 1:].strip()
    if tag in CHAIR_TAGS and not is_meeting_chair(ctx, meeting):
        raise Refused(chair_needed(meeting), f"#{tag}")
    if tag == "action" and not is_meeting_chair(ctx, meeting):
        require_member(ctx, meeting.group, "#action")
    if tag == "undo":
        return _undo(ctx, meeting)
    if tag == "chair":
        return _chair(ctx, meeting, body)
    if tag == "action":
        return _action(ctx, meeting, body)
    if tag == "decision":
        return _decision(ctx, meeting, body)
    if tag == "here":
        return _votes.here(ctx, meeting, body)
    if tag == "motion":
        return _votes.motion(ctx, meeting, body)
    if tag == "vote":
        return _votes.vote(ctx, meeting, body)
    if tag == "close":
        return _votes.close(ctx, meeting)
    if not body:
        raise UserError(_("{tag} needs some text after it.", tag=f"#{tag}"))
    agenda_id: int | None = None
    if tag == "topic":
        # TRANSLATORS: what is too long in "The topic is too long (...)"
        body = check_length(body, TITLE_MAX, _("topic"))
        agenda = _agenda_match(ctx, meeting, body)
        if agenda is not None:
            agenda_id, body = agenda.id, agenda.text
    else:
        body = check_length(body, TEXT_MAX, f"#{tag}")
    item = _add_item(ctx, meeting, tag, body, agenda_item_id=agenda_id)
    return Reply().say(_noted(tag, item_number(ctx.session, item), body))


def _noted(tag: str, number: int, body: str) -> Msg:
    """The answer to a captured line: what it was taken as, its number and its text."""
    if tag == "topic":
        return _("Topic noted (#{number}): {text}", number=number, text=body)
    if tag == "info":
        return _("Info noted (#{number}): {text}", number=number, text=body)
    if tag == "link":
        return _("Link noted (#{number}): {text}", number=number, text=body)
    if tag == "idea":
        return _("Idea noted (#{number}): {text}", number=number, text=body)
    if tag == "agreed":
        return _("Agreed noted (#{number}): {text}", number=number, text=body)
    return _("{tag} noted (#{number}): {text}", tag=tag.capitalize(), number=number, text=body)


def item_number(session: Session, item: MeetingItem) -> int:
    """An item's number within its meeting (1 for the first line captured), so numbers do
    not run on from meeting to meeting or group to group."""
    return session.scalar(select(func.count()).select_from(MeetingItem).where(
        MeetingItem.meeting_id == item.meeting_id, MeetingItem.id <= item.id)) or 0


def _add_item(ctx: Ctx, meeting: Meeting, kind: str, body: str, *,
              action_id: int | None = None, decision_id: int | None = None,
              agenda_item_id: int | None = None) -> MeetingItem:
    item = MeetingItem(meeting=meeting, kind=kind, text=body, author_id=ctx.actor.id,
                       action_id=action_id, decision_id=decision_id,
                       agenda_item_id=agenda_item_id, created_at=ctx.now)
    ctx.session.add(item)
    ctx.session.flush()
    ctx.audit("capture", "meeting_item", item.id, meeting=meeting.id, kind=kind)
    return item


def _agenda_match(ctx: Ctx, meeting: Meeting, body: str) -> AgendaItem | None:
    """``#topic 2`` or the item's own text names an agenda item (it is then reached)."""
    items = agenda_of(ctx.session, meeting.group, meeting.occurrence_date)
    raw = body.strip().lstrip("#")
    n = ascii_int(raw, 4)
    if n is not None and 1 <= n <= len(items):
        return items[n - 1]
    key = " ".join(body.lower().split())
    return next((a for a in items if " ".join(a.text.lower().split()) == key), None)


def _action(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    args = Args(body, tokenize(body))
    raws: list[str] = []
    while (tok := args.peek()) is not None and is_person(ctx, tok):
        raws.append(tok)
        args.pos += 1
    end, due, _rest = take_due_tail(args, ctx.today)
    # TRANSLATORS: what is too long in "The action is too long (...)"
    title = check_length(args.text_between(args.pos, end), TITLE_MAX, _("action"))
    if not title:
        raise UserError(
            _("#action needs what is to be done: #action @user <text> [due <date>]."))
    people = resolve_people(ctx, raws) or [ctx.actor]
    group = meeting.group
    action = create_action(
        ctx, group=group, title=title, assignees=people, due=due,
        meeting_series_id=group.series.id if group.series is not None else None,
        meeting_date=meeting.occurrence_date or meeting.started_at.astimezone(
            ZoneInfo(zone_of(group, ctx.settings))).date(),
    )
    _add_item(ctx, meeting, "action", title, action_id=action.id)
    who = listed([mention(person) for person in people])
    if due is not None:
        return Reply().say(_("Action {action} for {who}: {title}, due {date}",
                             action=f"A-{action.id}", who=who, title=title, date=Day(due)))
    return Reply().say(_("Action {action} for {who}: {title}", action=f"A-{action.id}",
                         who=who, title=title))


def _decision(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    if meeting.group.slug != BOC:
        raise UserError(_("#decision is for the BoC's meeting; here, #agreed records an "
                          "agreement of the group."))
    if not body:
        raise UserError(_("#decision needs <group>[,<group>] <text>."))
    targets, what = parse_targets(ctx, body)
    if not what:
        raise UserError(_("#decision needs the text of the decision after the groups."))
    # TRANSLATORS: what is too long in "The decision text is too long (...)"
    what = check_length(what, TEXT_MAX, _("decision text"))
    if not (is_boc(ctx) or staff(ctx)):
        raise Refused(_("a BoC member, the secretariat or an admin"), "#decision")
    decision = record_decision(ctx, targets, what, meeting=meeting.id)
    _add_item(ctx, meeting, "decision", what, decision_id=decision.id)
    blocks = decision_blocks(ctx, decision)
    here = ChannelRef(meeting.platform, meeting.channel_id)
    reply = Reply(private=False)
    recipients = list(targets)
    boc = boc_group(ctx)
    if boc is not None and boc not in recipients:
        recipients.append(boc)
    unlinked: list[str] = []
    for g in recipients:
        reach = group_reach(g, ctx.settings.platforms)
        chans = [c for c in reach if c != here]
        if chans:
            reply = reply.post(Post(g.slug, g.name, chans, list(blocks)))
        elif not reach:
            unlinked.append(g.slug)
    slugs = ", ".join(g.slug for g in targets)
    reply = reply.say(_("Decision {decision} recorded for {groups} and posted to them.",
                        decision=f"D-{decision.id}", groups=slugs))
    if unlinked:
        reply = reply.say(_("Not posted to {groups}: no channel linked (tg link binds one).",
                            groups=", ".join(unlinked)))
    return reply


def _chair(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    words = body.split()
    if not words:
        raise UserError(_("#chair needs someone: #chair <@user>."))
    people = [resolve_person(ctx, w) for w in words]
    chairs = list(meeting.chair_ids or [])
    for named in people:
        if named.id not in chairs:
            chairs.append(named.id)
    meeting.chair_ids = chairs
    names = ", ".join(p.display_name for p in people)
    _add_item(ctx, meeting, "chair", names)
    present = [ctx.session.get(Person, pid) for pid in chairs]
    return Reply(private=False).say(_(
        "Chairing this meeting now: {chairs}.",
        chairs=listed([mention(person) for person in present if person is not None])))


def _undo(ctx: Ctx, meeting: Meeting) -> Reply:
    item = ctx.session.scalar(
        select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)
        .order_by(MeetingItem.id.desc()).limit(1)
    )
    if item is None:
        raise UserError(_("Nothing to undo: no item captured yet."))
    if item.author_id != ctx.actor.id and not is_meeting_chair(ctx, meeting):
        # TRANSLATORS: what only a chair may do, in "Only ... can do #undo of another's line."
        raise Refused(chair_needed(meeting), _("#undo of another's line"))
    if item.kind == "decision":
        raise UserError(
            _("Decision {decision} was already posted to its groups, so #undo cannot take it "
              "back; the secretariat can correct the register.",
              decision=f"D-{item.decision_id}")
        )
    if item.kind == "action" and item.action_id is not None:
        action = ctx.session.get(Action, item.action_id)
        if action is not None and action.status == OPEN:
            action.status, action.closed_at = CANCELLED, ctx.now
            ctx.session.add(ActionEvent(action=action, actor_id=ctx.actor.id, kind="cancelled",
                                        detail="undone in the meeting", at=ctx.now))
            ctx.audit("cancel", "action", action.id, reason="meeting undo")
    if item.kind == "chair":
        chairs = list(meeting.chair_ids or [])
        if len(chairs) > 1:
            meeting.chair_ids = chairs[:-1]
    what = f"#{item.kind} {item.text}"
    ctx.audit("undo", "meeting_item", item.id, meeting=meeting.id, kind=item.kind)
    ctx.session.delete(item)
    return Reply().say(_("Removed: {item}", item=what))


# --- minutes ---------------------------------------------------------------------------------


@dataclass
class Minutes:
    blocks: list[Block]
    text: str
    markdown: str
    html: str


def _project_of(session: Session, group: Group, person: Person) -> str | None:
    own = session.scalar(select(Membership.project).where(
        Membership.group_id == group.id, Membership.person_id == person.id))
    if own:
        return own
    return session.scalar(select(Membership.project).where(
        Membership.person_id == person.id, Membership.project.is_not(None)).limit(1))


def _person(session: Session, pid: int | None) -> Arg:
    person = session.get(Person, pid) if pid is not None else None
    # TRANSLATORS: a person no longer known, in the minutes (who said a line, who chaired)
    return mention(person) if person is not None else _("someone")


def _credit(session: Session, item: MeetingItem) -> Arg:
    """Who a captured line is credited to: its author, and for an action whose assignees
    are others, those assignees first (``for @bob, @carol; by @alice``)."""
    author = _person(session, item.author_id)
    act = session.get(Action, item.action_id) if item.action_id is not None else None
    people = [a.person for a in act.assignees] if act is not None else []
    if not people or [p.id for p in people] == [item.author_id]:
        return author
    return _("for {assignees}; by {author}",
             assignees=listed([mention(person) for person in people]), author=author)


def _item_label(item: MeetingItem) -> str:
    """What a captured line is, in the minutes: ``ACTION A-3``, ``INFO``."""
    if item.kind == "action":
        # TRANSLATORS: a line captured in a meeting, as the minutes list it (in capitals)
        return _("ACTION {action}", action=f"A-{item.action_id}")
    if item.kind == "decision":
        # TRANSLATORS: a line captured in a meeting, as the minutes list it (in capitals)
        return _("DECISION {decision}", decision=f"D-{item.decision_id}")
    if item.kind == "info":
        # TRANSLATORS: a line captured in a meeting, as the minutes list it (in capitals)
        return _("INFO")
    if item.kind == "link":
        # TRANSLATORS: a line captured in a meeting, as the minutes list it (in capitals)
        return _("LINK")
    if item.kind == "idea":
        # TRANSLATORS: a line captured in a meeting, as the minutes list it (in capitals)
        return _("IDEA")
    if item.kind == "agreed":
        # TRANSLATORS: a line captured in a meeting, as the minutes list it (in capitals)
        return _("AGREED")
    return item.kind.upper()


def minutes_blocks(session: Session, meeting: Meeting, settings: CoreSettings,
                   carried: Sequence[str] = ()) -> list[Block]:
    """The minutes as neutral blocks: header, topics with their items, actions, agreements
    and decisions, motions, attendance with the quorum, carried-over agenda."""
    group = meeting.group
    zone = ZoneInfo(zone_of(group, settings))
    start = meeting.started_at.astimezone(zone)
    end = meeting.ended_at.astimezone(zone) if meeting.ended_at else None
    blocks: list[Block] = [
        text(_("Minutes: {group} meeting, {date} ({meeting})", group=group.name,
               date=Day(start.date()), meeting=f"M-{meeting.id}"), style="heading"),
    ]
    chairs = listed([_person(session, pid) for pid in meeting.chair_ids or []])
    if end:
        blocks.append(text(_("Started {start}, ended {end} {zone}; chaired by {chairs}.",
                             start=f"{start:%H:%M}", end=f"{end:%H:%M}",
                             zone=start.tzname() or "", chairs=chairs)))
    else:
        blocks.append(text(_("Started {start}; chaired by {chairs}.", start=f"{start:%H:%M}",
                             chairs=chairs)))
    if meeting.auto_closed:
        blocks.append(text(_("This meeting was closed automatically after {duration} with no "
                             "meeting end; the minutes go as far as it got.",
                             duration=_hours(meeting.closes_at - meeting.started_at))))
    items = list(meeting.items)
    # the lines under each topic (None: the lines before the first topic)
    sections: list[tuple[str | None, list[MeetingItem]]] = []
    for item in items:
        if item.kind == "topic":
            sections.append((item.text, []))
        elif item.kind != "chair":
            if not sections:
                sections.append((None, []))
            sections[-1][1].append(item)
    if sections:
        blocks.append(text(_("Topics"), style="heading"))
        for n, (title, its) in enumerate(sections, 1):
            blocks.append(text(f"{n}. {title}" if title is not None
                               else _("Before the first topic")))
            for it in its:
                # TRANSLATORS: a line of the minutes: "INFO: the text (@alice)"
                blocks.append(text("  - ", _("{label}: {text} ({credit})",
                                             label=_item_label(it), text=it.text,
                                             credit=_credit(session, it))))
    actions = [it for it in items if it.kind == "action" and it.action_id is not None]
    if actions:
        rows = []
        for it in actions:
            act = session.get(Action, it.action_id)
            if act is None:
                continue
            who: list[Span] = []
            for i, asg in enumerate(act.assignees):
                who += [", " if i else "", mention(asg.person)]
            rows.append(((f"A-{act.id}",), (act.title,), tuple(who) or ("-",),
                         (Day(act.due),) if act.due else ("-",)))
        blocks.append(text(_("Actions"), style="heading"))
        blocks.append(Table(action_headers(), tuple(rows)))
    agreed = [it for it in items if it.kind in ("agreed", "decision")]
    if agreed:
        blocks.append(text(_("Agreements and decisions"), style="heading"))
        for it in agreed:
            if it.kind == "decision":
                dec = session.get(Decision, it.decision_id) if it.decision_id else None
                targets = ", ".join(t.group.slug for t in dec.targets) if dec else "?"
                blocks.append(text("- ", _("Decision {decision} for {groups}: {text}",
                                           decision=f"D-{it.decision_id}", groups=targets,
                                           text=it.text)))
            else:
                blocks.append(text("- ", _("Agreed: {text}", text=it.text)))
    blocks += _votes.motion_blocks(session, meeting)
    blocks.append(text(_("Attendance"), style="heading"))
    if meeting.attendees:
        for att in meeting.attendees:
            project = _project_of(session, group, att.person)
            blocks.append(text("- ", mention(att.person),
                               f" ({project})" if project else ""))
    else:
        blocks.append(text(_("Nobody spoke.")))
    # the group's members when it ended (or would have: its auto-close time)
    blocks.append(text(_votes.quorum_line(_votes.meeting_quorum(
        session, meeting, meeting.ended_at or meeting.closes_at))))
    if carried:
        # the stored minutes keep it in English: carried_of finds the list after it
        blocks.append(text(_("Carried over to the next meeting's agenda"), style="heading"))
        for c in carried:
            blocks.append(text(f"- {c}"))
    return blocks


def _hours(delta: dt.timedelta) -> Msg:
    mins = int(delta.total_seconds() // 60)
    if mins % 60:
        # TRANSLATORS: a duration, in hours and minutes: "4 h 30 min"
        return _("{hours} h {minutes} min", hours=mins // 60, minutes=mins % 60)
    # TRANSLATORS: a duration in whole hours: "4 h"
    return _("{hours} h", hours=mins // 60)


def _md_span(span: Span) -> str:
    return _escape_md(plain_spans((span,)))


def _escape_md(value: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", value)


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Text):
            body = "".join(_md_span(s) for s in b.spans)
            if b.style == "heading":
                out.append(("# " if not out else "## ") + body)
            else:
                stripped = body.lstrip(" ")
                indent = "  " if len(body) - len(stripped) >= 2 else ""
                out.append(indent + stripped)
        elif isinstance(b, Table):
            out.append("| " + " | ".join(b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            for row in b.rows:
                out.append("| " + " | ".join("".join(_md_span(s) for s in c) for c in row)
                           + " |")
    return "\n\n".join(_join_lists(out)) + "\n"


def _join_lists(lines: list[str]) -> list[str]:
    """Keep list items and table rows together (no blank line between them)."""
    merged: list[str] = []
    for line in lines:
        item = line.lstrip().startswith(("- ", "\\- ", "|"))
        if merged and item and merged[-1].splitlines()[-1].lstrip().startswith(
                ("- ", "\\- ", "|")):
            merged[-1] += "\n" + line
        else:
            merged.append(line)
    return merged


def render_html(blocks: Sequence[Block], title: str) -> str:
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
             f"{html.escape(title)}</title></head><body>"]
    first = True
    for b in blocks:
        if isinstance(b, Text):
            body = html.escape(plain_spans(b.spans))
            if b.style == "heading":
                tag = "h1" if first else "h2"
                parts.append(f"<{tag}>{body.strip()}</{tag}>")
            else:
                parts.append(f"<p>{body.strip()}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(plain_spans(c))}</td>" for c in row)
                + "</tr>" for row in b.rows)
            parts.append(f"<table><tr>{head}</tr>{rows}</table>")
        first = False
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_text(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Text):
            body = plain_spans(b.spans)
            out.append(f"== {body} ==" if b.style == "heading" else body)
        elif isinstance(b, Table):
            for row in b.rows:
                out.append("  " + " | ".join(plain_spans(c) for c in row))
    return "\n".join(out) + "\n"


def close_meeting(session: Session, meeting: Meeting, settings: CoreSettings,
                  now: dt.datetime, *, actor_id: int | None, auto: bool = False) -> Minutes:
    """End a meeting: carry unreached agenda items over, write and store the minutes."""
    meeting.ended_at = now if not auto else min(now, meeting.closes_at)
    meeting.auto_closed = auto
    carried = _carry_agenda(session, meeting, now)
    session.flush()
    session.refresh(meeting)
    blocks = minutes_blocks(session, meeting, settings, carried)
    title = plain_spans(blocks[0].spans) if isinstance(blocks[0], Text) else _("Minutes")
    minutes = Minutes(blocks, render_text(blocks), render_markdown(blocks),
                      render_html(blocks, title))
    meeting.minutes_text, meeting.minutes_md = minutes.text, minutes.markdown
    meeting.minutes_html = minutes.html
    session.add(AuditLog(actor_id=actor_id, verb="auto_close" if auto else "end",
                         entity="meeting", entity_id=meeting.id,
                         detail={"group": meeting.group.slug, "carried": len(carried)},
                         at=now))
    return minutes


def _carry_agenda(session: Session, meeting: Meeting, now: dt.datetime) -> list[str]:
    group = meeting.group
    if meeting.occurrence_date is None or group.series is None:
        return []
    # an item reached in any meeting held for this date is reached (a group may meet twice)
    reached = set(session.scalars(
        select(MeetingItem.agenda_item_id).join(Meeting).where(
            Meeting.group_id == group.id, Meeting.occurrence_date == meeting.occurrence_date,
            MeetingItem.agenda_item_id.is_not(None))))
    left = [a for a in agenda_of(session, group, meeting.occurrence_date)
            if a.id not in reached]
    if not left:
        return []
    this = next((o for o in occurrences(group.series, now - dt.timedelta(days=3),
                                        now + dt.timedelta(days=3))
                 if o.original_date == meeting.occurrence_date), None)
    after = this.start if this is not None else now
    nxt = next((o for o in upcoming(group.series, max(after, now), 3)
                if o.original_date != meeting.occurrence_date), None)
    if nxt is None:
        return []
    # an earlier meeting of the same date may have carried an item over already
    there = {" ".join(a.text.lower().split())
             for a in agenda_of(session, group, nxt.original_date)}
    left = [a for a in left if " ".join(a.text.lower().split()) not in there]
    for a in left:
        session.add(AgendaItem(group_id=group.id, occurrence_date=nxt.original_date,
                               text=a.text, author_id=a.author_id, created_at=now))
    return [a.text for a in left]


# --- the delivery engine's hook: close meetings left open --------------------------------------


def plan_auto_close(session: Session, now: dt.datetime,
                    settings: CoreSettings) -> list[tuple[str, str, str, int]]:
    """Close every meeting whose auto-close time has come; returns, per meeting, the
    outbox key, platform, channel and meeting id for posting its minutes."""
    due = list(session.scalars(select(Meeting).where(
        Meeting.ended_at.is_(None), Meeting.closes_at <= now)))
    out = []
    for meeting in due:
        motion = _votes.open_motion(session, meeting)
        if motion is not None:
            # closed by the bot, its outcome posted to the group's channels (the meeting's
            # among them); the proposals' own planner, at the same deadline, finds it closed
            ctx = Ctx(session=session, actor=system_person(session),
                      platform=SYSTEM_PLATFORM, channel_id=None, settings=settings, now=now)
            closed = _votes.close_motion(ctx, meeting, motion, by=None, here=None)
            if closed is not None and closed[1]:
                queue_posts(session, closed[1], now, f"proposal-close:{motion.id}")
        close_meeting(session, meeting, settings, now, actor_id=None, auto=True)
        out.append((f"minutes:{meeting.id}:{meeting.platform}:{meeting.channel_id}",
                    meeting.platform, meeting.channel_id, meeting.id))
    return out


def compose_minutes(session: Session, meeting_id: int,
                    settings: CoreSettings) -> list[Block] | None:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.ended_at is None:
        return None
    return minutes_blocks(session, meeting, settings, carried_of(meeting))


def plan_meeting_autoclose(session: Session, now: dt.datetime,
                           settings: CoreSettings) -> list[outbox.NewRow]:
    """Close meetings past their auto-close time; their minutes go to the meeting's channel."""
    return [outbox_row(key, "meeting_minutes", platform, channel, {"meeting_id": mid},
                       now, MAX_GRACE, now)
            for key, platform, channel, mid in plan_auto_close(session, now, settings)]


def compose_meeting_minutes(session: Session, payload: dict[str, Any],
                            settings: CoreSettings) -> list[Block] | None:
    return compose_minutes(session, int(payload["meeting_id"]), settings)


def carried_of(meeting: Meeting) -> list[str]:
    """The carried-over items as the stored minutes list them."""
    text_ = meeting.minutes_text or ""
    marker = "== Carried over to the next meeting's agenda ==\n"
    if marker not in text_:
        return []
    tail = text_.split(marker, 1)[1]
    return [line[2:] for line in tail.splitlines() if line.startswith("- ")]


# --- commands --------------------------------------------------------------------------------


def _duration(words: list[str]) -> dt.timedelta:
    delta = parse_offsets("".join(words))[0]
    if not dt.timedelta(minutes=5) <= delta <= MAX_MEETING:
        raise UserError(_("A meeting stays open from 5 minutes to 24 hours."))
    return delta


MEETING_GROUP = p.maybe_group()
FOR = p.option("for", "<duration>", p.words_as(lambda words: _duration(list(words))))


def register(reg: Registry) -> None:
    reg.listener(LISTENER)
    reg.kinds.planner(plan_meeting_autoclose)
    reg.kinds.kind("meeting_minutes", compose_meeting_minutes)

    @reg.command(
        "meeting", "start", p.spec(MEETING_GROUP, FOR),
        _("open a meeting in this channel: #topic #info #link #idea #action #agreed "
          "#decision #undo #chair lines are captured until meeting end (closed after 4h "
          "unless for says otherwise); members tag #info #link #idea #action and #undo "
          "their own last line, chairs the rest"),
        CHAIR_AND_UP.said(_("chair and up")),
    )
    def meeting_start(ctx: Ctx, v: Values) -> Reply:
        group = v[MEETING_GROUP] or ctx.channel_group
        if group is None:
            raise UserError(_("Name the group: this channel is not linked to one."))
        if ctx.channel_id is None:
            raise UserError(_("A meeting runs in a channel: start it in the group's channel."),
                            show_usage=False)
        running = open_meeting_of(ctx.session, group)
        if running is not None:
            zone = ZoneInfo(zone_of(group, ctx.settings))
            since = running.started_at.astimezone(zone)
            when = (f"{since:%H:%M %Z}" if since.date() == ctx.now.astimezone(zone).date()
                    else f"{since:%a %d %b %H:%M %Z}")
            raise UserError(
                _("{group} already has a meeting open (in {channel}, since {when}): meeting "
                  "end closes it.", group=group.slug, channel=running.channel_id, when=when),
                show_usage=False)
        here = open_meeting_in(ctx.session, ctx.platform, ctx.channel_id, ctx.now)
        if here is not None:
            raise UserError(_("This channel has a {group} meeting open.",
                              group=here.group.slug), show_usage=False)
        auto = v[FOR] or DEFAULT_AUTO_CLOSE
        occ = held_occurrence(group, ctx.now)
        meeting = Meeting(
            group=group, platform=ctx.platform, channel_id=ctx.channel_id,
            occurrence_date=occ.original_date if occ else None, chair_ids=[ctx.actor.id],
            started_by_id=ctx.actor.id, started_at=ctx.now,
            closes_at=ctx.now + auto,
        )
        ctx.session.add(meeting)
        ctx.session.flush()
        _count_speaker(ctx.session, meeting, ctx.actor, ctx.now)
        ctx.audit("start", "meeting", meeting.id, group=group.slug,
                  occurrence=occ.original_date.isoformat() if occ else None)
        reply = Reply(private=False)
        reply = reply.say(_("Meeting of {group} started, chaired by {chair}.",
                            group=group.name, chair=mention(ctx.actor)), style="heading")
        tags = ("#topic, #info, #link, #idea, #action <@user ...> <text> [due <date>], "
                "#agreed <text>"
                + (", #decision <group>[,<group>] <text>" if group.slug == BOC else "")
                + ", #undo, #chair <@user>, #here [<@user> ...], #motion <text>"
                + (" [for <group>[,<group>]]" if group.slug == BOC else "")
                + ", #vote agree|abstain|disagree|block, #close")
        reply = reply.say(_("Tag lines to capture them: {tags}. meeting end posts the minutes.",
                            tags=tags))
        agenda = agenda_of(ctx.session, group, meeting.occurrence_date)
        if agenda:
            reply = reply.say(_("Agenda (#topic <n> takes an item up)"), style="heading")
            for i, a in enumerate(agenda, 1):
                reply = reply.say(f"{i}. {a.text}")
        return reply

    @reg.command("meeting", "end", p.spec(MEETING_GROUP),
                 _("close the meeting: post and store the minutes, carry the agenda over"),
                 Policy(_("the meeting's chairs, chair and up")))
    def meeting_end(ctx: Ctx, v: Values) -> Reply:
        group = v[MEETING_GROUP]
        meeting: Meeting | None = None
        if group is None and ctx.channel_id is not None:
            meeting = open_meeting_in(ctx.session, ctx.platform, ctx.channel_id, ctx.now)
        group = group or (meeting.group if meeting else ctx.channel_group)
        if group is None:
            raise UserError(_("Name the group: this channel is not linked to one."))
        meeting = meeting or open_meeting_of(ctx.session, group)
        if meeting is None:
            raise UserError(_("{group} has no meeting open.", group=group.slug),
                            show_usage=False)
        if not is_meeting_chair(ctx, meeting):
            raise Refused(chair_needed(meeting), "meeting end")
        here = ChannelRef(meeting.platform, meeting.channel_id)
        reply = Reply(private=False)
        motion = _votes.open_motion(ctx.session, meeting)
        if motion is not None:
            # a motion still open closes with the meeting, its outcome said first
            closed = _votes.close_motion(ctx, meeting, motion, by=ctx.actor, here=here)
            if closed is not None:
                reply = reply.add(*closed[0]).post(*closed[1])
        minutes = close_meeting(ctx.session, meeting, ctx.settings, ctx.now,
                                actor_id=ctx.actor.id)
        reply = reply.add(*minutes.blocks)
        reply = reply.say(_("Stored as {meeting}: {command} returns them, with Markdown and "
                            "HTML files ({list} shows every meeting).",
                            meeting=f"M-{meeting.id}",
                            command=f"meeting minutes {group.slug} M-{meeting.id}",
                            list=f"meeting minutes {group.slug} list"))
        others = [c for c in group_reach(group, ctx.settings.platforms) if c != here]
        if others:
            reply = reply.post(Post(group.slug, group.name, others, list(minutes.blocks)))
        return reply


__all__ = [
    "LISTENER",
    "capture",
    "carried_of",
    "close_meeting",
    "compose_minutes",
    "item_number",
    "looks_like_tag",
    "minutes_blocks",
    "plan_auto_close",
    "register",
    "tag_of",
    "zone_of",
]
