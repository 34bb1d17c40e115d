"""``proposal`` and ``vote``: questions put to a group's members, decided by a rule and a
quorum at a deadline; a passed one ``for`` target groups becomes a decision.

The electorate is the group's members when the proposal opens, frozen (someone who joins
later does not vote on it). A vote can be changed until the close: the old one is kept,
replaced. The close happens once, whoever triggers it (the deadline in a delivery tick of any
process, or ``proposal close``): an UPDATE that only an open proposal matches.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.directory import take_group
from handlers.core.grammar import Args, Refused, UserError, ascii_int, check_length
from handlers.core.i18n import Msg, _, _n, listed
from handlers.core.messages import (
    Block,
    Button,
    Buttons,
    ChannelRef,
    Mention,
    Post,
    Reply,
    Span,
    Table,
    Text,
    When,
    text,
    topic,
)
from handlers.core.params import Values
from handlers.core.reach import group_reach, personal_targets
from handlers.core.recurrence import place
from handlers.core.roles import (
    ANYONE,
    BOC,
    Policy,
    is_admin,
    is_boc,
    is_chair,
    is_secretariat,
    staff,
)
from handlers.core.router import Registry
from handlers.core.scheduling import group_zone, setting
from handlers.decisions import fan_out, record_decision
from handlers.proposals._rules import (
    BLOCK,
    CONSENT,
    KINDS,
    NO_QUORUM,
    PASSED,
    POLL,
    TIE,
    WINNER,
    Outcome,
    choices_of,
    decide,
    rule_of,
)
from storage.models import (
    NAME_MAX,
    TEXT_MAX,
    TITLE_MAX,
    Group,
    Identity,
    Membership,
    Person,
    Proposal,
    ProposalTarget,
    ProposalVoter,
    Vote,
)

TOPIC = "proposal"  # what a proposal's messages are about: a mail reply votes on it
OPEN, CLOSED = "open", "closed"
DEFAULT_DAYS = 7
DEFAULT_HOUR = dt.time(12, 0)  # the closing hour of a group that has no meeting series
LIST_LIMIT = 30
OPTIONS_MAX = 10
KEYWORDS = ("for", "kind", "options", "closes", "quorum", "anonymous", "hidden")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$", re.ASCII)


def label(proposal: Proposal | int) -> str:
    return f"P-{proposal if isinstance(proposal, int) else proposal.id}"


# --- opening ---------------------------------------------------------------------------------


class Opening:
    """What ``proposal open`` was asked, read from its line."""

    def __init__(self) -> None:
        self.group: Group | None = None
        self.title = ""
        self.targets: list[Group] = []
        self.kind = CONSENT
        self.options: list[str] = []
        self.closes: dt.datetime | None = None
        self.quorum: int | None = None
        self.anonymous = False
        self.hidden = False


def sections(args: Args, keywords: Sequence[str] = KEYWORDS
             ) -> tuple[str, dict[str, list[str]]]:
    """The title (the words before the first keyword, or one quoted token) and each
    keyword's words. A keyword word inside a title must be quoted."""
    start = args.pos
    toks = args.tokens
    i = start
    while i < len(toks) and not (toks[i].value.lower() in keywords and not toks[i].quoted):
        i += 1
    title = args.text_between(start, i)
    found: dict[str, list[str]] = {}
    current: str | None = None
    for tok in toks[i:]:
        word = tok.value.lower()
        if word in keywords and not tok.quoted:
            if word in found:
                raise UserError(_("{keyword} is written twice.", keyword=word))
            current = word
            found[word] = []
        else:
            assert current is not None
            found[current].append(tok.value)
    args.pos = len(toks)
    return title, found


def _quorum(words: list[str]) -> int:
    raw = "".join(words).rstrip("%")
    value = ascii_int(raw, 3)
    if value is None or not 0 <= value <= 100:
        raise UserError(_("quorum is a percentage from 0 to 100, like 50%."))
    return value


def _closing(ctx: Ctx, group: Group, words: list[str]) -> dt.datetime:
    """``<date> [<HH:MM>]`` in the group's zone (the group's meeting hour when no time)."""
    zone = group_zone(group, ctx.settings)
    at = DEFAULT_HOUR if group.series is None else group.series.start_time
    if words and (m := _HHMM.match(words[-1])):
        at = dt.time(int(m.group(1)), int(m.group(2)))
        words = words[:-1]
    if not words:
        raise UserError(_("closes takes a date, and a time if you like: closes friday 17:00."))
    today = ctx.now.astimezone(ZoneInfo(zone)).date()
    day = parse_date(words, today)
    closes = place(dt.datetime.combine(day, at), zone)
    if closes <= ctx.now:
        raise UserError(_("{when} is past: a proposal closes later than now.",
                          when=When(closes, zone)))
    if closes - ctx.now > dt.timedelta(days=366):
        raise UserError(_("A proposal stays open a year at most."))
    return closes


def _read_opening(ctx: Ctx, args: Args) -> Opening:
    o = Opening()
    o.group = take_group(ctx, args)
    assert o.group is not None
    title, found = sections(args)
    return fill_opening(ctx, o, title, found)


def fill_opening(ctx: Ctx, o: Opening, title: str, found: dict[str, list[str]]) -> Opening:
    """The title and the keywords' words (:func:`sections`) read into ``o``, whose group is
    set: what ``proposal open`` and a meeting's ``#motion`` are asked."""
    assert o.group is not None
    title = title.strip().strip("\"“”").strip()
    if not title:
        raise UserError(_("Missing the title. Quote it if it holds one of the words {words}.",
                          words=", ".join(KEYWORDS)))
    o.title = check_length(title, TITLE_MAX, _("title"))
    if "kind" in found:
        kind = " ".join(found["kind"]).lower()
        if kind not in KINDS:
            raise UserError(_("kind is one of {kinds}.", kinds=", ".join(KINDS)))
        o.kind = kind
    if "options" in found:
        if o.kind != POLL:
            raise UserError(_("options are for a poll: kind poll options a | b."))
        names = [n.strip() for n in " ".join(found["options"]).split("|")]
        if any(not n for n in names) or len(names) < 2:
            raise UserError(_("A poll has two options at least, separated by |."))
        if len(names) > OPTIONS_MAX:
            raise UserError(_("A poll has {n} options at most.", n=OPTIONS_MAX))
        if len({n.lower() for n in names}) != len(names):
            raise UserError(_("Each option is named once."))
        for name in names:
            check_length(name, NAME_MAX, _("option"))
        o.options = names
    elif o.kind == POLL:
        raise UserError(_("A poll needs its options: options a | b | c."))
    if "for" in found:
        from handlers.decisions import parse_targets

        if o.group.slug != BOC:
            raise UserError(_("for is for the BoC's proposals: what passes becomes a decision "
                              "of the Board for those groups."))
        if o.kind == POLL:
            raise UserError(_("A poll has a winner, not a decision: for is for the other "
                              "kinds."))
        targets, rest = parse_targets(ctx, " ".join(found["for"]))
        if rest.strip():
            raise UserError(_("for takes groups separated by commas, not {words}.",
                              words=repr(rest.strip())))
        o.targets = targets
    if "closes" in found:
        o.closes = _closing(ctx, o.group, found["closes"])
    if "quorum" in found:
        o.quorum = _quorum(found["quorum"])
    for flag in ("anonymous", "hidden"):
        if flag in found:
            if found[flag]:
                raise UserError(_("{flag} takes no value.", flag=flag))
            setattr(o, flag, True)
    return o


OPENING = p.custom(
    "<group> <title...> [for <group>[,<group>...]] [kind consent|majority|consensus|poll] "
    "[options <a> | <b> | ...] [closes <date> [<HH:MM>]] [quorum <N>%] [anonymous] [hidden]",
    _read_opening, rest=False)


def may_open(ctx: Ctx, group: Group) -> bool:
    """BoC members and the secretariat for the BoC, a chair for their own group; admins."""
    if is_admin(ctx):
        return True
    if group.slug == BOC:
        return is_boc(ctx) or is_secretariat(ctx)
    return is_chair(ctx, group)


def _open_guard(ctx: Ctx, args: Args) -> None:
    """Checked before the line is read further: only the group is looked at."""
    try:
        group = take_group(ctx, Args(args.line, args.tokens))
    except UserError:
        return  # the handler says what is wrong with the line
    if group is not None and not may_open(ctx, group):
        what = _("proposal open in {group}", group=group.slug)
        if group.slug == BOC:
            raise Refused(_("a BoC member, the secretariat or an admin"), what)
        raise Refused(_("a chair of {group} or an admin", group=group.slug), what)


OPENERS = Policy(_("BoC members and the secretariat for boc, a chair for their own group"),
                 guard=_open_guard)


def default_closes(ctx: Ctx, group: Group) -> dt.datetime:
    """In 7 days, at the group's meeting hour (noon without a series), in its zone."""
    zone = group_zone(group, ctx.settings)
    at = DEFAULT_HOUR if group.series is None else group.series.start_time
    day = ctx.now.astimezone(ZoneInfo(zone)).date() + dt.timedelta(days=DEFAULT_DAYS)
    return place(dt.datetime.combine(day, at), zone)


def default_quorum(group: Group) -> int:
    return int(setting(group, "quorum").rstrip("%"))


def open_proposal(ctx: Ctx, o: Opening, *, meeting_id: int | None = None,
                  electorate: Sequence[tuple[int, str | None]] | None = None,
                  closes: dt.datetime | None = None) -> Proposal:
    """A proposal with its electorate frozen (the group's members, or ``electorate``:
    those present at a meeting), audited."""
    group = o.group
    assert group is not None
    if electorate is None:
        electorate = [(pid, project) for pid, project in ctx.session.execute(
            select(Membership.person_id, Membership.project)
            .where(Membership.group_id == group.id).order_by(Membership.person_id))]
    proposal = Proposal(
        group=group, title=o.title, kind=o.kind, options=o.options,
        quorum_pct=o.quorum if o.quorum is not None else default_quorum(group),
        anonymous=o.anonymous, hidden=o.hidden, status=OPEN, result={},
        opened_by_id=ctx.actor.id, opened_at=ctx.now,
        closes_at=closes or o.closes or default_closes(ctx, group), meeting_id=meeting_id)
    for g in o.targets:
        proposal.targets.append(ProposalTarget(group=g))
    for pid, project in electorate:
        proposal.electorate.append(ProposalVoter(person_id=pid, project=project))
    ctx.session.add(proposal)
    ctx.session.flush()
    ctx.audit("open", "proposal", proposal.id, group=group.slug, kind=o.kind,
              voters=len(electorate), targets=[g.slug for g in o.targets])
    return proposal


def choice_buttons(proposal: Proposal) -> Buttons:
    return Buttons(tuple(
        Button(name, f"vote {label(proposal)} {name}",
               "danger" if name == BLOCK else "primary" if i == 0 else "default")
        for i, name in enumerate(choices_of(proposal.kind, proposal.options))))


def opening_blocks(ctx: Ctx, proposal: Proposal) -> list[Block]:
    """What a group's channels (and its members by mail) get when a proposal opens."""
    zone = group_zone(proposal.group, ctx.settings)
    blocks: list[Block] = [
        text(_("Proposal {proposal} in {group}: {title}", proposal=label(proposal),
               group=proposal.group.name, title=proposal.title), style="heading"),
        text(_n("Rule: {rule}. Quorum: {quorum}% of {n} member. Closes {when}.",
                "Rule: {rule}. Quorum: {quorum}% of {n} members. Closes {when}.",
                len(proposal.electorate), rule=rule_of(proposal.kind),
                quorum=proposal.quorum_pct, when=When(proposal.closes_at, zone))),
    ]
    if proposal.targets:
        blocks.append(text(_("If it passes it becomes a decision for {groups}.",
                             groups=", ".join(t.group.slug for t in proposal.targets))))
    secrecy = []
    if proposal.anonymous:
        secrecy.append(_("Votes are anonymous: no one is shown who voted what."))
    if proposal.hidden:
        secrecy.append(_("The tally is hidden until the close."))
    blocks += [text(s) for s in secrecy]
    blocks.append(text(_("Vote with {command}, or a button below; you may change your vote "
                         "until the close.",
                         command=f"vote {label(proposal)} "
                                 + "|".join(choices_of(proposal.kind, proposal.options))
                                 + " [<reason...>]")))
    blocks.append(choice_buttons(proposal))
    blocks.append(topic(TOPIC, proposal.id))
    return blocks


def posts_to_group(ctx: Ctx, group: Group, blocks: list[Block]) -> list[Post]:
    chans = group_reach(group, ctx.settings.platforms)
    return [Post(group.slug, group.name, chans, blocks)] if chans else []


# --- votes and tallies -------------------------------------------------------------------------


def counts_of(session: Session, proposal_id: int) -> dict[str, int]:
    """The current votes by choice: one indexed count (``ix_votes_proposal_choice``)."""
    return {choice: int(n) for choice, n in session.execute(
        select(Vote.choice, func.count()).where(
            Vote.proposal_id == proposal_id, Vote.replaced_at.is_(None))
        .group_by(Vote.choice))}


def tally(session: Session, proposal: Proposal) -> Outcome:
    electorate = proposal.quorum_base
    if electorate is None:
        electorate = int(session.scalar(select(func.count()).select_from(ProposalVoter).where(
            ProposalVoter.proposal_id == proposal.id)) or 0)
    return decide(proposal.kind, proposal.options, counts_of(session, proposal.id),
                  electorate, proposal.quorum_pct)


def outcome_of(session: Session, proposal: Proposal) -> Outcome:
    """A closed proposal's outcome as it was closed (what was posted and decided), an open
    one's as it stands."""
    result = proposal.result or {}
    if proposal.status != CLOSED or "counts" not in result:
        return tally(session, proposal)
    counts = result["counts"]
    return Outcome(proposal.outcome or "", int(result.get("cast", 0)),
                   int(result.get("electorate", 0)), bool(result.get("quorum_met")),
                   tuple((c, int(counts.get(c, 0)))
                         for c in choices_of(proposal.kind, proposal.options)),
                   tuple(result.get("winners") or ()))


def counts_line(outcome: Outcome) -> Msg:
    parts = ", ".join(f"{n} {choice}" for choice, n in outcome.counts)
    return _("{counts}; {cast} of {electorate} voted", counts=parts, cast=outcome.cast,
             electorate=outcome.electorate)


def outcome_line(proposal: Proposal, outcome: Outcome) -> Msg:
    """The result, as the closing post and ``proposal show`` state it."""
    if outcome.result == NO_QUORUM:
        return _("Not decided: the quorum of {quorum}% was not met ({counts}).",
                 quorum=proposal.quorum_pct, counts=counts_line(outcome))
    if outcome.result == WINNER:
        return _("{option} wins ({counts}).", option=outcome.winners[0],
                 counts=counts_line(outcome))
    if outcome.result == TIE:
        return _("A tie between {options} ({counts}).", options=", ".join(outcome.winners),
                 counts=counts_line(outcome))
    if outcome.result == PASSED:
        return _("Passed ({counts}).", counts=counts_line(outcome))
    return _("Not passed ({counts}).", counts=counts_line(outcome))


def _option_of_words(choices: Sequence[str], raw: str, reason: str) -> tuple[str | None, str]:
    """A poll option of several words written without quotes (``vote P-3 New York``, as
    its button sends it): the longest option the line's words start with, any case, and
    the reason after it."""
    words = [raw, *reason.split()]
    for option in sorted(choices, key=lambda c: -len(c.split())):
        names = option.lower().split()
        if len(names) > 1 and [w.lower() for w in words[:len(names)]] == names:
            rest = reason.split(maxsplit=len(names) - 1)
            return option, rest[len(names) - 1] if len(rest) == len(names) else ""
    return None, reason


def cast_vote(ctx: Ctx, proposal: Proposal, raw: str, reason: str) -> Reply:
    # Read again under a lock (PostgreSQL; SQLite's write lock serialises anyway): the
    # proposal's row shared, so a close's UPDATE waits for this vote and counts it, or this
    # vote sees it closed; the voter's row exclusive, so two clicks of one voter take turns.
    still_open = ctx.session.scalar(
        select(Proposal.id).where(Proposal.id == proposal.id, Proposal.status == OPEN,
                                  Proposal.closes_at > ctx.now).with_for_update(read=True))
    if still_open is None:
        raise UserError(_("{proposal} is closed: it takes no more votes.",
                          proposal=label(proposal)), show_usage=False)
    voter = ctx.session.scalar(select(ProposalVoter).where(
        ProposalVoter.proposal_id == proposal.id,
        ProposalVoter.person_id == ctx.actor.id).with_for_update())
    if voter is None:
        raise UserError(_("Only those who were members of {group} when {proposal} opened may "
                          "vote on it.",
                          group=proposal.group.slug, proposal=label(proposal)),
                        show_usage=False)
    choices = choices_of(proposal.kind, proposal.options)
    by_lower = {c.lower(): c for c in choices}
    # the longest option the words start with first ("New York" before "New")
    choice, rest = _option_of_words(choices, raw, reason)
    if choice is not None:
        reason = rest
    else:
        choice = by_lower.get(raw.lower())
    if choice is None:
        raise UserError(_("{proposal} takes {choices}, not {word}.", proposal=label(proposal),
                          choices=p.either(choices), word=repr(raw)))
    reason = check_length(reason, TEXT_MAX, _("reason"))
    current = ctx.session.scalar(select(Vote).where(
        Vote.proposal_id == proposal.id, Vote.person_id == ctx.actor.id,
        Vote.replaced_at.is_(None)))
    if current is not None and current.choice == choice and current.reason == reason:
        return Reply().say(_("Your vote on {proposal} stays {choice}.",
                             proposal=label(proposal), choice=choice))
    was = None
    if current is not None:
        current.replaced_at = ctx.now
        was = current.choice
        ctx.session.flush()  # the old row leaves the partial unique index first
    ctx.session.add(Vote(proposal_id=proposal.id, person_id=ctx.actor.id, choice=choice,
                         reason=reason, via=ctx.platform, cast_at=ctx.now))
    ctx.session.flush()
    ctx.audit("vote", "proposal", proposal.id, changed=was is not None)
    if was is None:
        said = _("Your vote on {proposal}: {choice}.", proposal=label(proposal), choice=choice)
    elif was == choice:
        said = _("Your vote on {proposal} stays {choice}, with its new reason.",
                 proposal=label(proposal), choice=choice)
    else:
        said = _("Your vote on {proposal}: {choice} (was {was}).", proposal=label(proposal),
                 choice=choice, was=was)
    reply = Reply().say(said)
    if not proposal.hidden:
        reply = reply.say(counts_line(tally(ctx.session, proposal)))
    return reply


# --- closing -----------------------------------------------------------------------------------


def close_proposal(ctx: Ctx, proposal: Proposal, *, by: Person | None) -> list[Post] | None:
    """Close it now, once: None when another close (a tick, a command) got there first.
    Returns the posts: the outcome to the group, and a passed proposal's decision to its
    target groups (and the BoC), posted as ``decision post`` posts one."""
    done = ctx.session.execute(
        update(Proposal).where(Proposal.id == proposal.id, Proposal.status == OPEN)
        .values(status=CLOSED, closed_at=ctx.now, closed_by_id=by.id if by else None)
        .execution_options(synchronize_session=False))
    if getattr(done, "rowcount", 0) != 1:
        return None
    ctx.session.refresh(proposal)
    outcome = tally(ctx.session, proposal)
    proposal.outcome = outcome.result
    proposal.result = {"counts": dict(outcome.counts), "cast": outcome.cast,
                       "electorate": outcome.electorate, "winners": list(outcome.winners),
                       "quorum_met": outcome.quorum_met}
    ctx.audit("close", "proposal", proposal.id, outcome=outcome.result,
              by=by.id if by else None)
    blocks: list[Block] = [
        text(_("Proposal {proposal} is closed: {title}", proposal=label(proposal),
               title=proposal.title), style="heading"),
        text(outcome_line(proposal, outcome)),
        text(_("Rule: {rule}; quorum {quorum}%.", rule=rule_of(proposal.kind),
               quorum=proposal.quorum_pct)),
    ]
    if not proposal.anonymous:
        blocks += _who_voted(ctx.session, proposal)
    posts: list[Post] = []
    if outcome.passed and proposal.targets:
        targets = [t.group for t in proposal.targets]
        decision = record_decision(ctx, targets, proposal.title, proposal=proposal.id)
        decision.author_id = proposal.opened_by_id  # the Board's, as its opener put it
        ctx.session.flush()
        ctx.session.refresh(decision)
        proposal.decision_id = decision.id
        blocks.append(text(_("It is now decision {decision}, posted to {groups}.",
                             decision=f"D-{decision.id}",
                             groups=", ".join(g.slug for g in targets))))
        from handlers.decisions import decision_blocks

        decision_posts, _unlinked = fan_out(ctx, decision, decision_blocks(ctx, decision))
        posts += decision_posts
    blocks.append(topic(TOPIC, proposal.id))
    return posts_to_group(ctx, proposal.group, blocks) + posts


def _mentions(rows: Iterable[Any]) -> list[tuple[str, Mention]]:
    """(key, mention) from plain rows of (key, person id, name, platform, external id), in
    their order, one per key and person: a proposal may have a thousand voters, and reading
    them as ORM objects with their identities cost ten times the query."""
    found: dict[tuple[str, int], tuple[str, list[tuple[str, str]]]] = {}
    for key, pid, name, platform, ext in rows:
        ids = found.setdefault((key, pid), (name, []))[1]
        if platform is not None and ext is not None:
            ids.append((platform, ext))
    return [(key, Mention(pid, name, tuple(ids))) for (key, pid), (name, ids) in found.items()]


def _who_voted(session: Session, proposal: Proposal) -> list[Block]:
    rows = session.execute(
        select(Vote.choice, Person.id, Person.display_name, Identity.platform,
               Identity.external_id)
        .join(Person, Person.id == Vote.person_id)
        .outerjoin(Identity, Identity.person_id == Person.id)
        .where(Vote.proposal_id == proposal.id, Vote.replaced_at.is_(None))
        .order_by(Vote.choice, Person.display_name, Person.id, Identity.id)).all()
    by_choice: dict[str, list[Span]] = {}
    for choice, who in _mentions(rows):
        by_choice.setdefault(choice, []).append(who)
    offered = choices_of(proposal.kind, proposal.options)  # in the order they are offered
    return [text(_("{choice}: {people}", choice=choice, people=listed(by_choice[choice])))
            for choice in offered if choice in by_choice]


def _waiting(session: Session, proposal: Proposal) -> list[Span]:
    """Mentions of the electorate who have not voted, by person id (plain rows)."""
    voted = select(Vote.person_id).where(Vote.proposal_id == proposal.id,
                                         Vote.replaced_at.is_(None))
    rows = session.execute(
        select(Person.id, Person.display_name, Identity.platform, Identity.external_id)
        .join(ProposalVoter, ProposalVoter.person_id == Person.id)
        .outerjoin(Identity, Identity.person_id == Person.id)
        .where(ProposalVoter.proposal_id == proposal.id, Person.id.not_in(voted))
        .order_by(Person.id, Identity.id)).all()
    return [who for _key, who in _mentions(("", *row) for row in rows)]


# --- the commands ------------------------------------------------------------------------------


def _may_manage(ctx: Ctx, proposal: Proposal) -> bool:
    """The opener, a chair of its group, the secretariat or an admin."""
    return (proposal.opened_by_id == ctx.actor.id or is_chair(ctx, proposal.group)
            or staff(ctx))


def _found(ctx: Ctx, proposal_id: int) -> Proposal:
    proposal = ctx.session.get(Proposal, proposal_id)
    if proposal is None:
        raise UserError(_("No proposal {proposal}.", proposal=label(proposal_id)))
    return proposal


def _open_to_manage(ctx: Ctx, proposal_id: int, what: str) -> Proposal:
    """The proposal, for its opener, a chair or the staff, while it is open (past its
    deadline it is closed, whether or not a tick has posted it yet)."""
    proposal = _found(ctx, proposal_id)
    _require_manager(ctx, proposal, what)
    if proposal.status != OPEN or proposal.closes_at <= ctx.now:
        raise UserError(_("{proposal} is closed already.", proposal=label(proposal)),
                        show_usage=False)
    return proposal


def _require_manager(ctx: Ctx, proposal: Proposal, what: str) -> None:
    if not _may_manage(ctx, proposal):
        raise Refused(_("its opener, a chair of {group}, the secretariat or an admin",
                        group=proposal.group.slug), what)


PROPOSAL = p.ident("P", _("a proposal"), "<P-id>")
SCOPE = p.maybe_group(more=True)
STATE = p.choice(OPEN, CLOSED)
NEW_CLOSE = p.words("<date> [<HH:MM>]", missing=_("Missing the new closing date."))
CHOICE = p.word("<choice>")
REASON = p.text("[<reason...>]", TEXT_MAX, _("reason"), required=False)


def _show(ctx: Ctx, proposal: Proposal) -> Reply:
    zone = group_zone(proposal.group, ctx.settings)
    reply = Reply().say(_("Proposal {proposal} in {group}: {title}", proposal=label(proposal),
                          group=proposal.group.name, title=proposal.title), style="heading")
    reply = reply.say(_("Rule: {rule}; quorum {quorum}%.", rule=rule_of(proposal.kind),
                        quorum=proposal.quorum_pct))
    if proposal.status == OPEN:
        reply = reply.say(_("Open; closes {when}.", when=When(proposal.closes_at, zone)))
    else:
        assert proposal.closed_at is not None
        reply = reply.say(_("Closed {when}.", when=When(proposal.closed_at, zone)))
    outcome = outcome_of(ctx.session, proposal)
    if proposal.status == CLOSED:
        reply = reply.say(outcome_line(proposal, outcome))
        if proposal.decision_id is not None:
            reply = reply.say(_("It became decision {decision}.",
                                decision=f"D-{proposal.decision_id}"))
    elif proposal.hidden:
        reply = reply.say(_("{cast} of {electorate} voted; the tally is hidden until the "
                            "close.", cast=outcome.cast, electorate=outcome.electorate))
    else:
        reply = reply.say(counts_line(outcome))
    if proposal.targets:
        reply = reply.say(_("For: {groups}.",
                            groups=", ".join(t.group.slug for t in proposal.targets)))
    if not proposal.anonymous:
        if proposal.status == CLOSED or not proposal.hidden:
            reply = reply.add(*_who_voted(ctx.session, proposal))
        waiting = _waiting(ctx.session, proposal) if proposal.status == OPEN else []
        if waiting:
            reply = reply.say(_("Not voted yet: {people}.", people=listed(waiting)))
    if proposal.status == OPEN:
        reply = reply.add(choice_buttons(proposal))
    return reply


def register(reg: Registry) -> None:
    reg.noun("proposal", _("questions the Board or a group votes on: open, show, list, close, "
                           "extend, remind; vote with vote <P-id> <choice>"),
             common=("show", "list", "close"))  # short usages: the menu hint fits them

    @reg.command(
        "proposal", "open", p.spec(OPENING),
        _("put a question to a group's members (frozen when it opens). Rules: consent "
          "passes with quorum and no block; majority with quorum and more agree than "
          "disagree; consensus with quorum and no disagree or block; a poll's winner by "
          "plurality, ties reported as ties. Quorum counts votes cast, abstain included, "
          "over the electorate. Defaults: consent, closes in 7 days at the group's meeting "
          "hour, quorum from tg settings (50%)"),
        OPENERS,
    )
    def proposal_open(ctx: Ctx, v: Values) -> Reply:
        o: Opening = v[OPENING]
        assert o.group is not None
        if o.group.archived_at is not None:
            raise UserError(_("{group} is archived.", group=o.group.slug), show_usage=False)
        proposal = open_proposal(ctx, o)
        if not proposal.electorate:
            raise UserError(_("{group} has no members to vote.", group=o.group.slug),
                            show_usage=False)
        posts = posts_to_group(ctx, o.group, opening_blocks(ctx, proposal))
        reply = Reply(private=False, posts=posts).say(
            _n("Opened {proposal} in {group} for its {n} member: {title}",
               "Opened {proposal} in {group} for its {n} members: {title}",
               len(proposal.electorate), proposal=label(proposal), group=o.group.slug,
               title=proposal.title))
        if not posts:
            reply = reply.say(_("{group} has no channel linked: tell its members to vote "
                                "with {command}.", group=o.group.slug,
                                command=f"vote {label(proposal)} <choice>"))
        return reply

    reg.noun("vote", _("vote on a proposal: vote <P-id> agree|abstain|disagree|block, or a "
                       "poll's option"))

    @reg.command("vote", "", p.spec(PROPOSAL, CHOICE, REASON),
                 _("vote on a proposal (agree, abstain, disagree, block; a poll's option); "
                   "voting again replaces your vote until the close"),
                 Policy(_("its electorate")))
    def vote(ctx: Ctx, v: Values) -> Reply:
        proposal = _found(ctx, v[PROPOSAL])
        return cast_vote(ctx, proposal, v[CHOICE], v[REASON])

    @reg.command("proposal", "show", p.spec(PROPOSAL),
                 _("a proposal: its rule, tally and who has voted (unless anonymous; the "
                   "tally of a hidden one only once closed)"), ANYONE)
    def proposal_show(ctx: Ctx, v: Values) -> Reply:
        proposal = _found(ctx, v[PROPOSAL])
        return _show(ctx, proposal)

    @reg.command("proposal", "list", p.spec(SCOPE, STATE),
                 _("proposals, newest first: of a group, open or closed"), ANYONE)
    def proposal_list(ctx: Ctx, v: Values) -> Reply:
        group, state = v[SCOPE], v[STATE]
        stmt = select(Proposal).order_by(Proposal.id.desc()).limit(LIST_LIMIT)
        if group is not None:
            stmt = stmt.where(Proposal.group_id == group.id)
        if state is not None:
            stmt = stmt.where(Proposal.status == state)
        found = list(ctx.session.scalars(stmt))
        if not found:
            return Reply().say(_("No proposals."))
        rows: list[tuple[tuple[Span, ...], ...]] = []
        for prop in found:
            zone = group_zone(prop.group, ctx.settings)
            when = When(prop.closes_at if prop.status == OPEN else prop.closed_at
                        or prop.closes_at, zone)
            result: Span = _("open") if prop.status == OPEN else _result_word(prop)
            rows.append(((label(prop),), (prop.group.slug,), (prop.title,), (prop.kind,),
                         (when,), (result,)))
        # TRANSLATORS: the headers of the table of proposals
        headers = (_("id"), _("group"), _("title"), _("kind"), _("closes or closed"),
                   _("result"))
        return Reply().add(Table(headers, tuple(rows)))

    @reg.command("proposal", "close", p.spec(PROPOSAL),
                 _("close a proposal now, before its deadline, and post the outcome"),
                 Policy(_("its opener, a chair of its group, secretariat, admin")))
    def proposal_close(ctx: Ctx, v: Values) -> Reply:
        proposal = _found(ctx, v[PROPOSAL])
        _require_manager(ctx, proposal, "proposal close")
        posts = close_proposal(ctx, proposal, by=ctx.actor)
        if posts is None:
            raise UserError(_("{proposal} is closed already.", proposal=label(proposal)),
                            show_usage=False)
        return Reply(private=False, posts=posts).say(
            _("Closed {proposal}.", proposal=label(proposal))).say(
            outcome_line(proposal, outcome_of(ctx.session, proposal)))

    @reg.command("proposal", "extend", p.spec(PROPOSAL, NEW_CLOSE),
                 _("move an open proposal's deadline (later than now)"),
                 Policy(_("its opener, a chair of its group, secretariat, admin")))
    def proposal_extend(ctx: Ctx, v: Values) -> Reply:
        proposal = _open_to_manage(ctx, v[PROPOSAL], "proposal extend")
        closes = _closing(ctx, proposal.group, list(v[NEW_CLOSE]))
        old = proposal.closes_at
        # only while still open: a close in between wins, and says so
        moved = ctx.session.execute(
            update(Proposal).where(Proposal.id == proposal.id, Proposal.status == OPEN,
                                   Proposal.closes_at > ctx.now)
            .values(closes_at=closes, reminded_for=None)  # a reminder for the new deadline
            .execution_options(synchronize_session=False))
        if getattr(moved, "rowcount", 0) != 1:
            raise UserError(_("{proposal} is closed already.", proposal=label(proposal)),
                            show_usage=False)
        ctx.session.refresh(proposal)
        ctx.audit("extend", "proposal", proposal.id, old=old.astimezone(dt.UTC).isoformat(),
                  new=closes.astimezone(dt.UTC).isoformat())
        zone = group_zone(proposal.group, ctx.settings)
        notice: list[Block] = [text(_("Proposal {proposal} now closes {when}.",
                                      proposal=label(proposal),
                         when=When(closes, zone))), topic(TOPIC, proposal.id)]
        return Reply(private=False, posts=posts_to_group(ctx, proposal.group, notice)).say(
            _("{proposal} now closes {when}.", proposal=label(proposal),
              when=When(closes, zone)))

    @reg.command("proposal", "remind", p.spec(PROPOSAL),
                 _("remind those who have not voted yet, each by a personal message"),
                 Policy(_("its opener, a chair of its group, secretariat, admin")))
    def proposal_remind(ctx: Ctx, v: Values) -> Reply:
        proposal = _open_to_manage(ctx, v[PROPOSAL], "proposal remind")
        waiting = not_voted(ctx.session, proposal)
        if not waiting:
            return Reply().say(_("Everyone has voted on {proposal}.", proposal=label(proposal)))
        blocks = reminder_blocks(ctx, proposal)
        posts = [Post(proposal.group.slug, proposal.group.name,
                      [ChannelRef.direct(platform, ext) for platform, ext in targets], blocks)
                 for _person, targets in personal_targets(ctx.session, waiting, ctx.settings)
                 if targets]
        ctx.audit("remind", "proposal", proposal.id, people=len(posts))
        return Reply(posts=posts).say(_n(
            "Reminded {n} person who has not voted on {proposal}.",
            "Reminded {n} people who have not voted on {proposal}.", len(posts),
            proposal=label(proposal)))


def _result_word(proposal: Proposal) -> Msg:
    result = proposal.outcome or ""
    if result == PASSED:
        return _("passed")
    if result == NO_QUORUM:
        return _("no quorum")
    if result == WINNER:
        return _("won: {option}", option=", ".join(proposal.result.get("winners", [])))
    if result == TIE:
        return _("tie: {options}", options=", ".join(proposal.result.get("winners", [])))
    return _("not passed")


def not_voted(session: Session, proposal: Proposal) -> list[Person]:
    voted = select(Vote.person_id).where(Vote.proposal_id == proposal.id,
                                         Vote.replaced_at.is_(None))
    return list(session.scalars(
        select(Person).join(ProposalVoter, ProposalVoter.person_id == Person.id)
        .where(ProposalVoter.proposal_id == proposal.id, Person.id.not_in(voted))
        .order_by(Person.id)))


def reminder_blocks(ctx: Ctx, proposal: Proposal) -> list[Block]:
    zone = group_zone(proposal.group, ctx.settings)
    return [
        Text((_("You have not voted on {proposal} in {group} yet: {title}",
                proposal=label(proposal), group=proposal.group.name,
                title=proposal.title),), "heading"),
        Text((_("It closes {when}. Rule: {rule}.", when=When(proposal.closes_at, zone),
                rule=rule_of(proposal.kind)),)),
        choice_buttons(proposal),
        topic(TOPIC, proposal.id),
    ]
