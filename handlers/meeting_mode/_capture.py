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
from handlers.core.directory import mention
from handlers.core.grammar import (
    Args,
    Refused,
    UserError,
    ascii_int,
    check_length,
    tokenize,
)
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
from handlers.core.reach import group_reach
from handlers.core.recurrence import parse_offsets
from handlers.core.roles import (
    BOC,
    CHAIR_AND_UP,
    Policy,
    chair_and_up,
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
from handlers.meetings import Occurrence, occurrences, upcoming
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
TAGS = ("topic", "info", "link", "idea", "action", "agreed", "decision", "undo", "chair")
# MeetBot's split: anyone in the meeting records #info, #idea, #link; #action follows
# `action add` (members of the group); #undo of one's own last line is anyone's, of another's
# a chair's; the rest steers the meeting and is the chairs'.
CHAIR_TAGS = frozenset({"topic", "agreed", "decision", "chair"})
_TAG = re.compile(r"^#([A-Za-z]+)(?=\s|$)")
_BEFORE_TOPICS = "Before the first topic"


# the usage a refused tagged line is answered with, as a command's is
TAG_USAGE = {"action": "Usage: #action [<@user> ...] <text...> [due <date>]"}


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


def is_meeting_chair(ctx: Ctx, meeting: Meeting) -> bool:
    return ctx.actor.id in (meeting.chair_ids or []) or chair_and_up(ctx, meeting.group)


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
    usage=lambda line: TAG_USAGE.get(tag_of(line) or ""), done="captured")


def capture(ctx: Ctx, meeting: Meeting, line: str) -> Reply | None:
    """Record one line of an open meeting: attendance always, a tagged item when tagged."""
    line = line.strip()
    _count_speaker(ctx.session, meeting, ctx.actor, ctx.now)
    tag = tag_of(line)
    if tag is None:
        return None
    body = line[len(tag) + 1:].strip()
    if tag in CHAIR_TAGS and not is_meeting_chair(ctx, meeting):
        raise Refused(f"a chair of this meeting (or of {meeting.group.slug})", f"#{tag}")
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
    if not body:
        raise UserError(f"#{tag} needs some text after it.")
    agenda_id: int | None = None
    if tag == "topic":
        body = check_length(body, TITLE_MAX, "topic")
        agenda = _agenda_match(ctx, meeting, body)
        if agenda is not None:
            agenda_id, body = agenda.id, agenda.text
    else:
        body = check_length(body, TEXT_MAX, f"#{tag}")
    item = _add_item(ctx, meeting, tag, body, agenda_item_id=agenda_id)
    label = {"agreed": "Agreed", "topic": "Topic"}.get(tag, tag.capitalize())
    return Reply().say(f"{label} noted (#{item_number(ctx.session, item)}): {body}")


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
    end, due, _ = take_due_tail(args, ctx.today)
    title = check_length(args.text_between(args.pos, end), TITLE_MAX, "action")
    if not title:
        raise UserError("#action needs what is to be done: #action @user <text> [due <date>].")
    people = resolve_people(ctx, raws) or [ctx.actor]
    group = meeting.group
    action = create_action(
        ctx, group=group, title=title, assignees=people, due=due,
        meeting_series_id=group.series.id if group.series is not None else None,
        meeting_date=meeting.occurrence_date or meeting.started_at.astimezone(
            ZoneInfo(zone_of(group, ctx.settings))).date(),
    )
    _add_item(ctx, meeting, "action", title, action_id=action.id)
    spans: list[Span] = [f"Action A-{action.id} for "]
    for i, person in enumerate(people):
        spans += [", " if i else "", mention(person)]
    spans.append(f": {title}")
    if due is not None:
        spans += [", due ", Day(due)]
    return Reply().say(*spans)


def _decision(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    if meeting.group.slug != BOC:
        raise UserError("#decision is for the BoC's meeting; here, #agreed records an "
                        "agreement of the group.")
    if not body:
        raise UserError("#decision needs <group>[,<group>] <text>.")
    targets, what = parse_targets(ctx, body)
    if not what:
        raise UserError("#decision needs the text of the decision after the groups.")
    what = check_length(what, TEXT_MAX, "decision text")
    if not (is_boc(ctx) or staff(ctx)):
        raise Refused("a BoC member, the secretariat or an admin", "#decision")
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
    reply = reply.say(f"Decision D-{decision.id} recorded for {slugs} and posted to them.")
    if unlinked:
        reply = reply.say(
            f"Not posted to {', '.join(unlinked)}: no channel linked (tg link binds one).")
    return reply


def _chair(ctx: Ctx, meeting: Meeting, body: str) -> Reply:
    words = body.split()
    if not words:
        raise UserError("#chair needs someone: #chair <@user>.")
    people = [resolve_person(ctx, w) for w in words]
    chairs = list(meeting.chair_ids or [])
    for named in people:
        if named.id not in chairs:
            chairs.append(named.id)
    meeting.chair_ids = chairs
    names = ", ".join(p.display_name for p in people)
    _add_item(ctx, meeting, "chair", names)
    spans: list[Span] = ["Chairing this meeting now: "]
    for i, pid in enumerate(chairs):
        person = ctx.session.get(Person, pid)
        if person is not None:
            spans += [", " if i else "", mention(person)]
    return Reply(private=False).say(*spans, ".")


def _undo(ctx: Ctx, meeting: Meeting) -> Reply:
    item = ctx.session.scalar(
        select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)
        .order_by(MeetingItem.id.desc()).limit(1)
    )
    if item is None:
        raise UserError("Nothing to undo: no item captured yet.")
    if item.author_id != ctx.actor.id and not is_meeting_chair(ctx, meeting):
        raise Refused(f"a chair of this meeting (or of {meeting.group.slug})",
                      "#undo of another's line")
    if item.kind == "decision":
        raise UserError(
            f"Decision D-{item.decision_id} was already posted to its groups, so #undo "
            "cannot take it back; the secretariat can correct the register."
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
    return Reply().say(f"Removed: {what}")


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


def _person_spans(session: Session, pid: int | None) -> tuple[Span, ...]:
    person = session.get(Person, pid) if pid is not None else None
    return (mention(person),) if person is not None else ("someone",)


def _credit(session: Session, item: MeetingItem) -> tuple[Span, ...]:
    """Who a captured line is credited to: its author, and for an action whose assignees
    are others, those assignees first (``for @bob, @carol; by @alice``)."""
    author = _person_spans(session, item.author_id)
    act = session.get(Action, item.action_id) if item.action_id is not None else None
    people = [a.person for a in act.assignees] if act is not None else []
    if not people or [p.id for p in people] == [item.author_id]:
        return author
    spans: list[Span] = ["for "]
    for i, person in enumerate(people):
        spans += [", " if i else "", mention(person)]
    return (*spans, "; by ", *author)


def minutes_blocks(session: Session, meeting: Meeting, settings: CoreSettings,
                   carried: Sequence[str] = ()) -> list[Block]:
    """The minutes as neutral blocks: header, topics with their items, actions, agreements
    and decisions, attendance, carried-over agenda."""
    group = meeting.group
    zone = ZoneInfo(zone_of(group, settings))
    start = meeting.started_at.astimezone(zone)
    end = meeting.ended_at.astimezone(zone) if meeting.ended_at else None
    blocks: list[Block] = [
        text(f"Minutes: {group.name} meeting, {start:%a %d %b %Y} (M-{meeting.id})",
             style="heading"),
    ]
    when = f"Started {start:%H:%M}" + (f", ended {end:%H:%M} {start.tzname()}" if end else "")
    chairs: list[Span] = []
    for i, pid in enumerate(meeting.chair_ids or []):
        chairs += [", " if i else "", *_person_spans(session, pid)]
    blocks.append(text(when, "; chaired by ", *chairs, "."))
    if meeting.auto_closed:
        blocks.append(text("This meeting was closed automatically after "
                           f"{_hours(meeting.closes_at - meeting.started_at)} with no "
                           "meeting end; the minutes go as far as it got."))
    items = list(meeting.items)
    sections: list[tuple[str, list[MeetingItem]]] = []
    for item in items:
        if item.kind == "topic":
            sections.append((item.text, []))
        elif item.kind != "chair":
            if not sections:
                sections.append((_BEFORE_TOPICS, []))
            sections[-1][1].append(item)
    if sections:
        blocks.append(text("Topics", style="heading"))
        for n, (title, its) in enumerate(sections, 1):
            blocks.append(text(f"{n}. {title}" if title != _BEFORE_TOPICS else title))
            for it in its:
                label = {"action": f"ACTION A-{it.action_id}",
                         "decision": f"DECISION D-{it.decision_id}"}.get(it.kind,
                                                                         it.kind.upper())
                blocks.append(text(f"  - {label}: {it.text} (",
                                   *_credit(session, it), ")"))
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
        blocks.append(text("Actions", style="heading"))
        blocks.append(Table(("id", "action", "who", "due"), tuple(rows)))
    agreed = [it for it in items if it.kind in ("agreed", "decision")]
    if agreed:
        blocks.append(text("Agreements and decisions", style="heading"))
        for it in agreed:
            if it.kind == "decision":
                dec = session.get(Decision, it.decision_id) if it.decision_id else None
                targets = ", ".join(t.group.slug for t in dec.targets) if dec else "?"
                blocks.append(text(f"- Decision D-{it.decision_id} for {targets}: {it.text}"))
            else:
                blocks.append(text(f"- Agreed: {it.text}"))
    blocks.append(text("Attendance", style="heading"))
    if meeting.attendees:
        for att in meeting.attendees:
            project = _project_of(session, group, att.person)
            blocks.append(text("- ", mention(att.person),
                               f" ({project})" if project else ""))
    else:
        blocks.append(text("Nobody spoke."))
    if carried:
        blocks.append(text("Carried over to the next meeting's agenda", style="heading"))
        for c in carried:
            blocks.append(text(f"- {c}"))
    return blocks


def _hours(delta: dt.timedelta) -> str:
    mins = int(delta.total_seconds() // 60)
    return f"{mins // 60} h" + (f" {mins % 60} min" if mins % 60 else "")


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
    title = plain_spans(blocks[0].spans) if isinstance(blocks[0], Text) else "Minutes"
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
        raise UserError("A meeting stays open from 5 minutes to 24 hours.")
    return delta


MEETING_GROUP = p.maybe_group()
FOR = p.option("for", "<duration>", p.words_as(lambda words: _duration(list(words))))


def register(reg: Registry) -> None:
    reg.listener(LISTENER)
    reg.kinds.planner(plan_meeting_autoclose)
    reg.kinds.kind("meeting_minutes", compose_meeting_minutes)

    @reg.command(
        "meeting", "start", p.spec(MEETING_GROUP, FOR),
        "open a meeting in this channel: #topic #info #link #idea #action #agreed "
        "#decision #undo #chair lines are captured until meeting end (closed after 4h "
        "unless for says otherwise); members tag #info #link #idea #action and #undo "
        "their own last line, chairs the rest",
        CHAIR_AND_UP.said("chair and up"),
    )
    def meeting_start(ctx: Ctx, v: Values) -> Reply:
        group = v[MEETING_GROUP] or ctx.channel_group
        if group is None:
            raise UserError("Name the group: this channel is not linked to one.")
        if ctx.channel_id is None:
            raise UserError("A meeting runs in a channel: start it in the group's channel.",
                            show_usage=False)
        running = open_meeting_of(ctx.session, group)
        if running is not None:
            zone = ZoneInfo(zone_of(group, ctx.settings))
            since = running.started_at.astimezone(zone)
            when = (f"{since:%H:%M %Z}" if since.date() == ctx.now.astimezone(zone).date()
                    else f"{since:%a %d %b %H:%M %Z}")
            raise UserError(
                f"{group.slug} already has a meeting open (in {running.channel_id}, since "
                f"{when}): meeting end closes it.",
                show_usage=False)
        here = open_meeting_in(ctx.session, ctx.platform, ctx.channel_id, ctx.now)
        if here is not None:
            raise UserError(f"This channel has a {here.group.slug} meeting open.",
                            show_usage=False)
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
        reply = reply.say(f"Meeting of {group.name} started, chaired by ", mention(ctx.actor), ".",
                          style="heading")
        reply = reply.say("Tag lines to capture them: #topic, #info, #link, #idea, "
                          "#action <@user ...> <text> [due <date>], #agreed <text>"
                          + (", #decision <group>[,<group>] <text>" if group.slug == BOC else "")
                          + ", #undo, #chair <@user>. meeting end posts the minutes.")
        agenda = agenda_of(ctx.session, group, meeting.occurrence_date)
        if agenda:
            reply = reply.say("Agenda (#topic <n> takes an item up)", style="heading")
            for i, a in enumerate(agenda, 1):
                reply = reply.say(f"{i}. {a.text}")
        return reply

    @reg.command("meeting", "end", p.spec(MEETING_GROUP),
                 "close the meeting: post and store the minutes, carry the agenda over",
                 Policy("the meeting's chairs, chair and up"))
    def meeting_end(ctx: Ctx, v: Values) -> Reply:
        group = v[MEETING_GROUP]
        meeting: Meeting | None = None
        if group is None and ctx.channel_id is not None:
            meeting = open_meeting_in(ctx.session, ctx.platform, ctx.channel_id, ctx.now)
        group = group or (meeting.group if meeting else ctx.channel_group)
        if group is None:
            raise UserError("Name the group: this channel is not linked to one.")
        meeting = meeting or open_meeting_of(ctx.session, group)
        if meeting is None:
            raise UserError(f"{group.slug} has no meeting open.", show_usage=False)
        if not is_meeting_chair(ctx, meeting):
            raise Refused(f"a chair of this meeting (or of {group.slug})", "meeting end")
        minutes = close_meeting(ctx.session, meeting, ctx.settings, ctx.now,
                                actor_id=ctx.actor.id)
        reply = Reply(private=False)
        reply = reply.add(*minutes.blocks)
        reply = reply.say(f"Stored as M-{meeting.id}: meeting minutes {group.slug} M-{meeting.id} "
                          "returns them, with Markdown and HTML files (meeting minutes "
                          f"{group.slug} list shows every meeting).")
        here = ChannelRef(meeting.platform, meeting.channel_id)
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
