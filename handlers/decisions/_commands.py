"""``decision``: the BoC's decision register, its fan-out to the task groups, and their acks.

A decision concerns one or more groups (its targets); each target acknowledges it once, and
actions carry it out (``Action.decision_id``). The register answers "who has seen what, and
what is being done about it" without anyone keeping a spreadsheet.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.directory import all_groups, find_group, membership, mention, take_group
from handlers.core.grammar import Args, Refused, UserError, check_length, parse_id
from handlers.core.i18n import Msg, _, _n
from handlers.core.messages import (
    Block,
    Button,
    Buttons,
    Day,
    Mention,
    Post,
    Reply,
    Span,
    Table,
    When,
    text,
    topic,
)
from handlers.core.params import Values
from handlers.core.reach import group_reach
from handlers.core.roles import (
    ANYONE,
    BOC,
    BOC_AND_STAFF,
    SECRETARIAT,
    Policy,
    is_boc,
    is_chair,
    is_member,
    staff,
)
from handlers.core.router import Registry
from storage.models import (
    TEXT_MAX,
    Action,
    ActionAssignee,
    Decision,
    DecisionEvent,
    DecisionTarget,
    Group,
    Proposal,
)

LIST_CAP = 50
PREVIEW = 80
_WORD = re.compile(r"[^\s,]+")
_YEAR = re.compile(r"\d{4}", re.ASCII)


def decision_label(decision_id: int) -> str:
    return f"D-{decision_id}"


def action_ref(action_id: int) -> str:
    """Our own rendering of an action id (the action family owns the canonical one)."""
    return f"A-{action_id}"


def get_decision(ctx: Ctx, raw: str) -> Decision:
    """The decision a ``D-7`` / ``7`` argument names; UserError if there is none."""
    # TRANSLATORS: what an id names, in "'x' is not a decision id (like D-12 or 12)."
    n = parse_id(raw, "D", _("a decision"))
    decision = ctx.session.get(Decision, n)
    if decision is None:
        raise UserError(_("No decision {decision}. `decision list` shows the register.",
                          decision=decision_label(n)))
    return decision


def get_action(ctx: Ctx, raw: str) -> Action:
    # TRANSLATORS: what an id names, in "'x' is not an action id (like A-12 or 12)."
    n = parse_id(raw, "A", _("an action"))
    action = ctx.session.get(Action, n)
    if action is None:
        raise UserError(_("No action {action}.", action=action_ref(n)))
    return action


def local_day_start(ctx: Ctx, day: dt.date) -> dt.datetime:
    """The instant (aware UTC) at which ``day`` begins in the bot's zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=ctx.settings.zone).astimezone(dt.UTC)


def past_date(words: list[str], today: dt.date) -> dt.date:
    """A ``since`` date: the phrases mean the *last* such day, not the next one.

    ``parse_date`` reads dates for due dates, so ``1 Nov`` on 28 Nov is next year's and
    ``monday`` is the coming one; here they are moved back a year or a week unless the
    user wrote the year.
    """
    day = parse_date(words, today)
    if day <= today or any(_YEAR.search(w) for w in words):
        return day
    if (day - today).days <= 7:
        return day - dt.timedelta(days=7)
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 Feb
        return day.replace(year=day.year - 1, day=28)




def preview(value: str, limit: int = PREVIEW) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_targets(ctx: Ctx, line: str) -> tuple[list[Group], str]:
    """Split ``repl,comms Adopt the plan`` into its target groups and the decision text.

    Targets are slugs or full names separated by commas (spaces after a comma are fine).
    Each item takes the longest run of words that names a group; the list ends at the first
    item not followed by a comma, and the rest of the line is the text.
    """
    groups = all_groups(ctx.session)
    by_key: dict[str, Group] = {}
    for g in groups:
        by_key.setdefault(g.name.lower(), g)
    for g in groups:
        by_key[g.slug.lower()] = g
    targets: list[Group] = []
    pos = 0
    while True:
        words: list[re.Match[str]] = []
        for m in _WORD.finditer(line, pos):
            words.append(m)
            if line[m.end() : m.end() + 1] == ",":
                break
        if not words:
            raise UserError(_("Missing {what}.", what="<group>") if not targets
                            else _("Missing a group after ','."))
        found = 0
        for n in range(len(words), 0, -1):
            key = " ".join(w.group(0) for w in words[:n]).lower()
            if key in by_key:
                found = n
                break
        if not found:
            first = words[0].group(0)
            raise UserError(_("Unknown group {group}. `tg list` shows the groups.",
                              group=repr(first)))
        group = by_key[" ".join(w.group(0) for w in words[:found]).lower()]
        if group.archived_at is not None:
            raise UserError(_("{group} is archived: a decision cannot be posted to an "
                              "archived group (tg unarchive {group} brings it back).",
                              group=group.slug))
        if group not in targets:
            targets.append(group)
        end = words[found - 1].end()
        if line[end : end + 1] == ",":
            pos = end + 1
            continue
        return targets, line[end:].strip()


def record_decision(ctx: Ctx, targets: list[Group], text: str, **detail: Any) -> Decision:
    """A decision with one acknowledgement row per target group, audited."""
    decision = Decision(text=text, author=ctx.actor, created_at=ctx.now)
    for g in targets:
        decision.targets.append(DecisionTarget(group=g))
    ctx.session.add(decision)
    ctx.session.flush()
    ctx.audit("post", "decision", decision.id, targets=[g.slug for g in targets], **detail)
    return decision


def may_ack(ctx: Ctx, decision: Decision, group: Group) -> bool:
    """Whether the actor's acknowledgement counts for ``group``: a chair of it, or someone
    who was a member already when the decision was posted (joining afterwards, to
    acknowledge, does not count)."""
    m = membership(ctx.session, group, ctx.actor)
    return m is not None and (m.role == "chair" or m.created_at <= decision.created_at)


def refuse_revoked(ctx: Ctx, decision: Decision, what: str | None) -> None:
    """A revoked decision takes no ``what`` ("acknowledgements" or "amendments"; None: it
    cannot be revoked again)."""
    if decision.revoked_at is not None:
        label = decision_label(decision.id)
        day = Day(decision.revoked_at.astimezone(ctx.settings.zone).date(), form="short")
        if what == "acknowledgements":
            message = _("{decision} was revoked on {date}, so it takes no acknowledgements; "
                        "`decision show {decision}` has its history.", decision=label, date=day)
        elif what == "amendments":
            message = _("{decision} was revoked on {date}, so it takes no amendments; "
                        "`decision show {decision}` has its history.", decision=label, date=day)
        elif what:
            raise ValueError(f"not a change a decision takes: {what!r}")
        else:
            message = _("{decision} was revoked already, on {date}; "
                        "`decision show {decision}` has its history.", decision=label, date=day)
        raise UserError(message, show_usage=False)


def boc_group(ctx: Ctx) -> Group | None:
    return find_group(ctx.session, BOC)


def ack_summary(targets: Iterable[DecisionTarget]) -> Msg:
    ts = list(targets)
    done = sum(1 for t in ts if t.acked_at is not None)
    return _n("{done}/{n} acknowledged", "{done}/{n} acknowledged", len(ts), done=done)


def _either(slugs: list[str]) -> str:
    """``repl or comms or data``: the groups any one of which would do."""
    out: str = slugs[0] if slugs else ""
    for slug in slugs[1:]:
        # TRANSLATORS: two groups (or a list of groups, and one more) either of which will do
        out = _("{groups} or {group}", groups=out, group=slug)
    return out


def decision_blocks(ctx: Ctx, decision: Decision) -> list[Block]:
    """What each channel sees when a decision is posted: text, id, author, an ack button."""
    label = decision_label(decision.id)
    slugs = ", ".join(t.group.slug for t in decision.targets)
    return [
        text(_("BoC decision {decision}", decision=label), style="heading"),
        text(decision.text, style="quote"),
        text(_("Posted by {author} on {date} for {groups}. Members of a target group: "
               "acknowledge with `decision ack {decision}`.",
               author=_author(decision), groups=slugs, decision=label,
               date=When(decision.created_at, ctx.settings.timezone, with_time=False))),
        # TRANSLATORS: a button
        Buttons((Button(_("Acknowledge"), f"decision ack {label}", "primary"),)),
    ]


def _author(decision: Decision) -> Mention | Msg:
    """Who posted a decision: a mention, or "unknown" when the record has none."""
    # TRANSLATORS: who posted a decision, when it is not known ("Posted by unknown on ...")
    return mention(decision.author) if decision.author else _("unknown")


# what a decision's messages are about (handlers.core.messages.Topic): a mail reply of
# "ack" to one of them acknowledges it
TOPIC = "decision"


def fan_out(ctx: Ctx, decision: Decision, blocks: list[Block]) -> tuple[list[Post], list[str]]:
    """The posts of ``blocks`` to the channels of each target group and of the BoC, the
    groups a decision is posted to, and the slugs of those with no channel linked."""
    recipients = [t.group for t in decision.targets]
    boc = boc_group(ctx)
    if boc is not None and boc not in recipients:
        recipients.append(boc)
    posts: list[Post] = []
    unlinked: list[str] = []
    blocks = [*blocks, topic(TOPIC, decision.id)]  # its mails thread, and "ack" answers it
    for g in recipients:
        chans = group_reach(g, ctx.settings.platforms)
        if chans:
            posts.append(Post(g.slug, g.name, chans, blocks))
        else:
            unlinked.append(g.slug)
    return posts, unlinked


def _wording(kind: str) -> Callable[[Ctx, Args], str]:
    """The text of an amendment or of a revocation, without the quotes it was typed in."""
    what = "<text...>" if kind == "amend" else "<reason...>"

    def read(_ctx: Ctx, args: Args) -> str:
        body = args.rest_text(what, required=False)
        if len(body) >= 2 and body[0] in "\"“" and body[-1] in "\"”":
            body = body[1:-1].strip()
        if not body:
            raise UserError(_("Missing {what}: the decision's new wording.", what=what)
                            if kind == "amend"
                            else _("Missing {what}: why is it revoked?", what=what))
        # TRANSLATORS: what is too long, in "The {what} is too long (... characters; ...)."
        return check_length(body, TEXT_MAX, _("decision text") if kind == "amend"
                            # TRANSLATORS: what is too long, in "The {what} is too long ..."
                            else _("reason"))
    return read


def _targets_and_text(ctx: Ctx, args: Args) -> tuple[list[Group], str]:
    """``<group>[,<group>...] <text...>``: the target groups and the decision's text."""
    if args.empty():
        raise UserError(_("Missing {what}.", what="<group>"))
    line = args.line[args.tokens[args.pos].start :]
    args.pos = len(args.tokens)
    targets, body = parse_targets(ctx, line)
    if len(body) >= 2 and body[0] in "\"“" and body[-1] in "\"”":
        body = body[1:-1].strip()  # the text typed in quotes: store it without them
    if not body:
        raise UserError(_("Missing {what}: what was decided?", what="<text...>"))
    # TRANSLATORS: what is too long, in "The {what} is too long (... characters; ...)."
    return targets, check_length(body, TEXT_MAX, _("decision text"))


def all_groups_scope() -> Msg:
    # TRANSLATORS: the scope of a list, in "Decisions for all groups"
    return _("all groups")


def _register_scope(ctx: Ctx, args: Args) -> tuple[Group | None, str, dt.date | None]:
    """``[<group>|all] [since <date>]``: the group (None: all), its name, the first day."""
    end, opts = args.take_trailing_options(
        {"since": lambda words: past_date(words, ctx.today)}
    )
    args.tokens = args.tokens[:end]
    since = opts.get("since")
    for i in range(len(args.tokens) - 1, args.pos - 1, -1):
        if args.tokens[i].value.lower() == "since":
            # a "since" whose date did not parse: give the date's error, not "unknown group"
            parse_date([t.value for t in args.tokens[i + 1 :]], ctx.today)
    group: Group | None
    if args.accept("all"):
        return None, all_groups_scope(), since
    group = take_group(ctx, args, optional=args.empty())
    if group is None:
        bound = ctx.channel_group
        if bound is not None and bound.slug not in (BOC, SECRETARIAT):
            group = bound
    return group, group.slug if group is not None else all_groups_scope(), since


DECISION = p.custom("<id>", lambda ctx, args: get_decision(ctx, args.next("<id>")), rest=False)
LINKED_DECISION = p.custom(
    "<decision-id>", lambda ctx, args: get_decision(ctx, args.next("<decision-id>")),
    rest=False)
LINKED_ACTION = p.custom(
    "<action-id>", lambda ctx, args: get_action(ctx, args.next("<action-id>")), rest=False)
TARGETS_AND_TEXT = p.custom("<group>[,<group>...] <text...>", _targets_and_text)
NEW_WORDING = p.custom("<text...>", _wording("amend"))
REASON = p.custom("<reason...>", _wording("revoke"))
SCOPE = p.custom("[<group>|all] [since <date>]", _register_scope)
ACK_GROUP = p.maybe_group()


def change_decision(ctx: Ctx, decision: Decision, body: str, kind: str) -> Reply:
    """``decision amend <id> <text...>`` and ``decision revoke <id> <reason...>``: the
    change is kept in the decision's history and posted where the decision was."""
    label = decision_label(decision.id)
    refuse_revoked(ctx, decision, "amendments" if kind == "amend" else None)
    if kind == "amend" and body == decision.text:
        return Reply().say(_("That is the wording of {decision} already; nothing changed.",
                             decision=label))
    previous = decision.text
    decision.events.append(DecisionEvent(
        kind=kind, text=body, previous=previous if kind == "amend" else "",
        actor_id=ctx.actor.id, at=ctx.now))
    if kind == "amend":
        decision.text = body
    else:
        decision.revoked_at = ctx.now
    ctx.session.flush()
    ctx.audit(kind, "decision", decision.id, text=body)
    reply = Reply(private=False)
    heading = _("BoC decision {decision} amended", decision=label) if kind == "amend" else (
        _("BoC decision {decision} revoked", decision=label))
    blocks: list[Block] = [text(heading, style="heading")]
    if kind == "amend":
        blocks += [text(body, style="quote"),
                   text(_("It said: {wording}", wording=preview(previous, 200))),
                   text(_("Amended by {who}. Acknowledgements given stand; "
                          "`decision show {decision}` has the history.",
                          who=mention(ctx.actor), decision=label))]
    else:
        blocks += [text(preview(decision.text, 200), style="quote"),
                   text(_("Reason: {reason}", reason=body)),
                   text(_("Revoked by {who}: it no longer needs carrying out or "
                          "acknowledging. Its record and linked actions are kept.",
                          who=mention(ctx.actor)))]
    posts, unlinked = fan_out(ctx, decision, blocks)
    reply = reply.post(*posts).say(
        _("Amended {decision}; posted where it was posted.", decision=label) if kind == "amend"
        else _("Revoked {decision}; posted where it was posted.", decision=label))
    if unlinked:
        reply = reply.say(_not_posted(unlinked))
    return reply


def _not_posted(unlinked: list[str]) -> Msg:
    return _("Not posted to {groups}: no channel linked (tg link binds one).",
             groups=", ".join(unlinked))


def linked_action_counts(ctx: Ctx, ids: list[int]) -> dict[int, tuple[int, int]]:
    """decision id -> (open linked actions, all linked actions)."""
    if not ids:
        return {}
    rows = ctx.session.execute(
        select(Action.decision_id, Action.status, func.count())
        .where(Action.decision_id.in_(ids))
        .group_by(Action.decision_id, Action.status)
    )
    out: dict[int, tuple[int, int]] = {}
    for did, status, n in rows:
        if did is None:
            continue
        open_n, all_n = out.get(did, (0, 0))
        out[did] = (open_n + (n if status == "open" else 0), all_n + n)
    return out


def _late_or_not_member(ctx: Ctx, decision: Decision, groups: list[Group],
                        what: str) -> Refused:
    """The refusal of an acknowledgement: who may give it, and why the actor may not."""
    label = decision_label(decision.id)
    slugs = _either([g.slug for g in groups])
    # TRANSLATORS: who may do something, in "Only {needed} can do {what}."
    needed = (_("a member of {groups}, the secretariat or an admin", groups=slugs)
              if len(groups) == 1 and what != label
              # TRANSLATORS: who may do something, in "Only {needed} can do {what}."
              else _("a member of {groups}", groups=slugs))
    late = [g.slug for g in groups if is_member(ctx, g)]
    err = Refused(needed, f"decision ack {what}")
    if late:
        err.message = _("{refusal} You joined {groups} after {decision} was posted, so your "
                        "acknowledgement would not count: it comes from someone who was a "
                        "member then, or a chair.",
                        refusal=err.message, groups=", ".join(late), decision=label)
    return err


def _join_spans(items: list[tuple[Span, ...]], sep: str = ", ") -> tuple[Span, ...]:
    spans: list[Span] = []
    for i, item in enumerate(items):
        if i:
            spans.append(sep)
        spans.extend(item)
    return tuple(spans)


def register_of(ctx: Ctx, group: Group | None, scope: str, since: dt.date | None) -> Reply:
    """The decision register, newest first, with acknowledgements and linked actions
    (``decision list``, the home page): of the decisions for ``group``, or all."""
    where: list[ColumnElement[bool]] = []
    if group is not None:
        where.append(
            Decision.id.in_(
                select(DecisionTarget.decision_id).where(DecisionTarget.group_id == group.id)
            )
        )
    if since is not None:
        where.append(Decision.created_at >= local_day_start(ctx, since))
    total = ctx.session.scalar(select(func.count(Decision.id)).where(*where)) or 0
    decisions = list(
        ctx.session.scalars(
            select(Decision)
            .where(*where)
            .options(selectinload(Decision.targets).selectinload(DecisionTarget.group))
            .order_by(Decision.created_at.desc(), Decision.id.desc())
            .limit(LIST_CAP)
        )
    )
    heading = (_("Decisions for {scope} since {date}", scope=scope, date=since.isoformat())
               if since else _("Decisions for {scope}", scope=scope))
    reply = Reply()
    reply = reply.say(heading, style="heading")
    if not decisions:
        return reply.say(_("No decisions in that period.") if since else _("No decisions yet."))
    counts = linked_action_counts(ctx, [d.id for d in decisions])
    rows = []
    for d in decisions:
        open_n, all_n = counts.get(d.id, (0, 0))
        pending = [t.group.slug for t in d.targets if t.acked_at is None]
        acked: str
        if d.revoked_at is not None:
            # TRANSLATORS: a decision's state, in the register's "acknowledged" column
            acked = _("revoked")
        elif pending:
            acked = _("{summary} (pending: {groups})", summary=ack_summary(d.targets),
                      groups=", ".join(pending))
        else:
            acked = ack_summary(d.targets)
        rows.append(
            (
                (decision_label(d.id),),
                (When(d.created_at, ctx.settings.timezone, with_time=False),),
                (preview(d.text),),
                (", ".join(t.group.slug for t in d.targets),),
                (acked,),
                # TRANSLATORS: a decision's linked actions: open ones / all of them; "none"
                (_("{open} open / {all}", open=open_n, all=all_n) if all_n
                 # TRANSLATORS: no linked actions, in the register's "actions" column
                 else _("none"),),
            )
        )
    reply = reply.add(
        Table((
            # TRANSLATORS: table headers of the decision register
            _("id"), _("date"), _("decision"), _("targets"), _("acknowledged"), _("actions"),
        ), tuple(rows))
    )
    if total > len(decisions):
        more = total - len(decisions)
        reply = reply.say(_n("and {n} more; add `since <date>` or a group to narrow.",
                             "and {n} more; add `since <date>` or a group to narrow.", more))
    return reply


def _vote_behind(proposal: Proposal) -> Msg:
    """The vote a decision came from (a passed proposal), as it was closed."""
    result = proposal.result or {}
    counts = ", ".join(f"{n} {choice}" for choice, n in (result.get("counts") or {}).items())
    return _("Decided by a vote, proposal {proposal} ({kind}): {counts}; {cast} of {electorate} "
             "voted.", proposal=f"P-{proposal.id}", kind=proposal.kind, counts=counts,
             cast=int(result.get("cast", 0)), electorate=int(result.get("electorate", 0)))


def register(reg: Registry) -> None:
    reg.noun("decision", _("the BoC's decisions: post, register, acknowledgements, "
                           "linked actions"),
             common=("post", "list", "ack"))

    @reg.command(
        "decision", "post", p.spec(TARGETS_AND_TEXT),
        _("record a BoC decision and post it to each target group and to the BoC"),
        BOC_AND_STAFF,
    )
    def decision_post(ctx: Ctx, v: Values) -> Reply:
        targets, body = v[TARGETS_AND_TEXT]
        decision = record_decision(ctx, targets, body)
        label = decision_label(decision.id)
        slugs = [g.slug for g in targets]

        posts, unlinked = fan_out(ctx, decision, decision_blocks(ctx, decision))
        reply = Reply(private=False, posts=posts)
        reply = reply.say(_("Recorded decision {decision} for {groups}.", decision=label,
                            groups=", ".join(slugs)))
        reply = reply.say(body, style="quote")
        if unlinked:
            reply = reply.say(_not_posted(unlinked))
        return reply

    @reg.command(
        "decision", "amend", p.spec(DECISION, NEW_WORDING),
        _("change a decision's wording; the old one is kept in its history and the change "
          "posted where the decision was"),
        BOC_AND_STAFF,
    )
    def decision_amend(ctx: Ctx, v: Values) -> Reply:
        return change_decision(ctx, v[DECISION], v[NEW_WORDING], "amend")

    @reg.command(
        "decision", "revoke", p.spec(DECISION, REASON),
        _("revoke a decision, with the reason; kept in the register, posted where it was"),
        BOC_AND_STAFF,
    )
    def decision_revoke(ctx: Ctx, v: Values) -> Reply:
        return change_decision(ctx, v[DECISION], v[REASON], "revoke")

    @reg.command(
        "decision", "list", p.spec(SCOPE),
        _("the register, newest first, with acknowledgements and linked actions"), ANYONE,
    )
    def decision_list(ctx: Ctx, v: Values) -> Reply:
        return register_of(ctx, *v[SCOPE])

    @reg.command(
        "decision", "show", p.spec(DECISION),
        _("one decision: text, author, per-group acknowledgement, linked actions"), ANYONE,
    )
    def decision_show(ctx: Ctx, v: Values) -> Reply:
        decision = v[DECISION]
        label = decision_label(decision.id)
        zone = ctx.settings.timezone
        reply = Reply()
        reply = reply.say(_("Decision {decision}", decision=label), style="heading")
        reply = reply.say(decision.text, style="quote")
        reply = reply.say(_("Posted by {author} on {date}", author=_author(decision),
                            date=When(decision.created_at, zone)))
        voted = ctx.session.scalar(select(Proposal).where(Proposal.decision_id == decision.id))
        if voted is not None:
            reply = reply.say(_vote_behind(voted))
        if decision.revoked_at is not None:
            reply = reply.say(_("Revoked on {date}: it no longer needs carrying out or "
                                "acknowledging.", date=When(decision.revoked_at, zone)))
        if decision.events:
            rows_h = []
            for e in decision.events:
                # TRANSLATORS: who changed a decision, when their record is gone
                who_h: tuple[Span, ...] = (mention(e.actor),) if e.actor else (_("someone"),)
                detail = (_("was: {wording}", wording=preview(e.previous, 120))
                          if e.kind == "amend"
                          else _("reason: {reason}", reason=preview(e.text, 120)))
                # TRANSLATORS: a change to a decision, in its history's "change" column
                change = _("amended") if e.kind == "amend" else _("revoked")
                rows_h.append(((When(e.at, zone),), who_h, (change,), (detail,)))
            reply = reply.say(_("History"), style="heading")
            # TRANSLATORS: table headers of a decision's history
            reply = reply.add(Table((_("when"), _("by"), _("change"), _("detail")),
                                    tuple(rows_h)))
        ack_rows = []
        for t in decision.targets:
            by: tuple[Span, ...]
            if t.acked_at is None:
                # TRANSLATORS: not acknowledged yet, in the "acknowledged by" column
                by = (_("pending"),)
            else:
                # TRANSLATORS: who acknowledged, when they have since left (their record gone)
                by = (mention(t.acked_by),) if t.acked_by else (_("someone (left)"),)
            when: tuple[Span, ...] = (When(t.acked_at, zone),) if t.acked_at else ("-",)
            ack_rows.append(((t.group.slug,), by, when))
        reply = reply.say(_("Acknowledgement: {summary}", summary=ack_summary(decision.targets)))
        # TRANSLATORS: table headers of a decision's acknowledgements
        reply = reply.add(Table((_("group"), _("acknowledged by"), _("when")), tuple(ack_rows)))
        actions = list(
            ctx.session.scalars(
                select(Action)
                .where(Action.decision_id == decision.id)
                .options(
                    selectinload(Action.group),
                    selectinload(Action.assignees).selectinload(ActionAssignee.person),
                )
                .order_by(Action.id)
            )
        )
        if not actions:
            return reply.say(_("No linked actions. Link one with "
                               "`decision link {decision} <action-id>`.", decision=label))
        rows = []
        for a in actions:
            who = _join_spans([(mention(x.person),) for x in a.assignees]) or ("-",)
            status = a.status
            if a.status == "open" and a.due is not None and a.due < ctx.today:
                # TRANSLATORS: an action's status: overdue by so many days ("overdue 3d")
                status = _("overdue {days}d", days=(ctx.today - a.due).days)
            rows.append(
                (
                    (action_ref(a.id),),
                    (a.group.slug if a.group else "-",),
                    (preview(a.title, 60),),
                    who,
                    (Day(a.due),) if a.due else ("-",),
                    (status,),
                )
            )
        return reply.say(_("Linked actions"), style="heading").add(
            # TRANSLATORS: table headers of a decision's linked actions
            Table((_("action"), _("group"), _("title"), _("assignees"), _("due"), _("status")),
                  tuple(rows)))

    @reg.command(
        "decision", "ack", p.spec(DECISION, ACK_GROUP),
        _("acknowledge a decision for your group (staff may name the group)"),
        Policy(_("a member of a target group since before the decision was posted, or its "
                 "chair (staff may name the group)")),
    )
    def decision_ack(ctx: Ctx, v: Values) -> Reply:
        decision, named = v[DECISION], v[ACK_GROUP]
        refuse_revoked(ctx, decision, "acknowledgements")
        label = decision_label(decision.id)
        targets = {t.group_id: t for t in decision.targets}
        target_slugs = _either([t.group.slug for t in decision.targets])
        chosen: list[DecisionTarget]
        if named is not None:
            if named.id not in targets:
                raise UserError(
                    _("{decision} is not addressed to {group}; its targets: {groups}.",
                      decision=label, group=named.slug,
                      groups=", ".join(t.group.slug for t in decision.targets)),
                    show_usage=False,
                )
            if not (may_ack(ctx, decision, named) or staff(ctx)):
                raise _late_or_not_member(ctx, decision, [named], f"{label} {named.slug}")
            chosen = [targets[named.id]]
        else:
            bound = ctx.channel_group
            if bound is not None and bound.id in targets and may_ack(ctx, decision, bound):
                chosen = [targets[bound.id]]
            else:
                mine = [t for t in decision.targets if may_ack(ctx, decision, t.group)]
                if not mine:
                    if staff(ctx):
                        raise UserError(
                            _("You are not a member of {groups}: name the group you "
                              "acknowledge for, like `decision ack {decision} {group}`.",
                              groups=target_slugs, decision=label,
                              group=decision.targets[0].group.slug),
                        )
                    raise _late_or_not_member(
                        ctx, decision, [t.group for t in decision.targets], label)
                pending = [t for t in mine if t.acked_at is None]
                chosen = pending or mine
        fresh = [t for t in chosen if t.acked_at is None]
        if not fresh:
            reply = Reply()
            for t in chosen:
                # TRANSLATORS: who acknowledged, when their record is gone
                who: Mention | Msg = mention(t.acked_by) if t.acked_by else _("someone")
                assert t.acked_at is not None
                reply = reply.say(
                    _("{decision} was already acknowledged for {group} by {who} on {date}.",
                      decision=label, group=t.group.slug, who=who,
                      date=When(t.acked_at, ctx.settings.timezone)),
                )
            return reply
        for t in fresh:
            t.acked_by = ctx.actor
            t.acked_at = ctx.now
            ctx.audit("ack", "decision", decision.id, group=t.group.slug)
        ctx.session.flush()
        slugs = ", ".join(t.group.slug for t in fresh)
        summary = ack_summary(decision.targets)
        reply = Reply(private=False)
        reply = reply.say(_("{who} acknowledged {decision} for {groups} ({summary}).",
                            who=mention(ctx.actor), decision=label, groups=slugs,
                            summary=summary))
        boc = boc_group(ctx)
        typed_in_boc = (boc is not None and ctx.channel_group is not None
                        and ctx.channel_group.id == boc.id)
        reach = ([] if boc is None
                 else group_reach(boc, ctx.settings.platforms, channels=not typed_in_boc))
        if boc is not None and reach:
            reply = reply.post(
                Post(
                    boc.slug, boc.name, reach,
                    [text(_("{groups} acknowledged {decision} ({summary}): {wording}",
                            groups=slugs, decision=label, summary=summary,
                            wording=preview(decision.text, 60)))],
                )
            )
        return reply

    @reg.command(
        "decision", "link", p.spec(LINKED_DECISION, LINKED_ACTION),
        _("record that an action carries out a decision"),
        Policy(_("BoC members, secretariat, admin, chair of the action's group")),
    )
    def decision_link(ctx: Ctx, v: Values) -> Reply:
        decision, action = v[LINKED_DECISION], v[LINKED_ACTION]
        allowed = is_boc(ctx) or staff(ctx) or (
            action.group is not None and is_chair(ctx, action.group)
        )
        if not allowed:
            # TRANSLATORS: who may do something, in "Only {needed} can do {what}."
            needed = (_("a BoC member, a chair of {group}, the secretariat or an admin",
                        group=action.group.slug) if action.group
                      # TRANSLATORS: who may do something, in "Only {needed} can do {what}."
                      else _("a BoC member, the secretariat or an admin"))
            raise Refused(needed, "decision link")
        label = decision_label(decision.id)
        if action.decision_id == decision.id:
            return Reply().say(_("{action} is already linked to {decision}.",
                                 action=action_ref(action.id), decision=label))
        previous = action.decision_id
        action.decision_id = decision.id
        ctx.audit("link", "action", action.id, decision=decision.id, previous=previous)
        reply = Reply(private=False)
        if previous is not None:
            return reply.say(_("Linked {action} ({title}) to {decision} (was {previous}).",
                               action=action_ref(action.id), title=preview(action.title, 60),
                               decision=label, previous=decision_label(previous)))
        return reply.say(_("Linked {action} ({title}) to {decision}.",
                           action=action_ref(action.id), title=preview(action.title, 60),
                           decision=label))

