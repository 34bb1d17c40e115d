"""``tg``: the task groups, their channels, members and the projects they represent."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from handlers.actions import OPEN_WORK_SHOWN, action_label, hand_over, labels_line, open_work
from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import (
    all_groups,
    find_group,
    membership,
    mention,
)
from handlers.core.grammar import Args, Refused, UserError, check_length
from handlers.core.mentions import MentionRules
from handlers.core.messages import (
    Block,
    ChannelRef,
    Post,
    Reply,
    Span,
    Table,
    When,
    at_name,
    text,
)
from handlers.core.params import Values
from handlers.core.people import resolve_person
from handlers.core.reach import away_until, group_reach
from handlers.core.roles import (
    ANYONE,
    CHAIR_AND_UP,
    MEMBERS,
    ROLE_GROUPS,
    STAFF,
    Policy,
    chair_and_up,
    grants_role,
    is_chair,
    require_chair,
    staff,
)
from handlers.core.router import Registry
from storage.models import (
    JOIN_POLICIES,
    NAME_MAX,
    PROJECT_MAX,
    SLUG_MAX,
    Action,
    Channel,
    Group,
    JoinRequest,
    Membership,
    Person,
)

SLUG = re.compile(rf"^[a-z][a-z0-9-]{{1,{SLUG_MAX - 1}}}$")


def open_action_counts(ctx: Ctx) -> dict[int, int]:
    rows = ctx.session.execute(
        select(Action.group_id, func.count())
        .where(Action.status == "open", Action.group_id.is_not(None))
        .group_by(Action.group_id)
    )
    return {gid: n for gid, n in rows if gid is not None}


def next_meeting_span(ctx: Ctx, group: Group) -> tuple[Span, ...]:
    from handlers.meetings import next_meeting

    occ = next_meeting(ctx, group)
    if occ is None:
        return ("none scheduled",)
    return (When(occ.start, occ.zone),)


def chairs_of(group: Group) -> tuple[Span, ...]:
    chairs = [m.person for m in group.memberships if m.role == "chair"]
    if not chairs:
        return ("-",)
    spans: list[Span] = []
    for i, person in enumerate(chairs):
        if i:
            spans.append(", ")
        spans.append(mention(person))
    return tuple(spans)


def channel_label(ch: Channel) -> str:
    return f"{ch.platform}:{ch.channel_id}"


JOIN = "join"
JOIN_HELP = "open|request|closed"
JOIN_WORDS = {
    "open": "anyone joins with tg join",
    "request": "tg join asks the chairs, who approve or decline it",
    "closed": "members are only added (tg add)",
}


def join_policy(group: Group) -> str:
    """How ``tg join`` treats ``group``: ``open``, ``request`` or ``closed``.

    boc and secretariat are closed whatever is stored (their membership is a role), and so
    is a group flagged ``restricted`` (the older spelling of closed, still read from files).
    """
    if grants_role(group) or group.restricted:
        return "closed"
    return group.join_policy if group.join_policy in JOIN_POLICIES else "request"


def set_join_policy(group: Group, policy: str) -> None:
    """Store ``policy``, keeping ``restricted`` (what older readers look at) in step."""
    group.join_policy = policy
    group.restricted = policy == "closed"


def chairs(group: Group) -> list[Person]:
    return [m.person for m in group.memberships if m.role == "chair"]


def direct_ref(person: Person, rules: MentionRules) -> ChannelRef | None:
    """Where a direct message to ``person`` goes: their preferred platform's chat (the
    order the adapters registered their platforms in)."""
    ids = sorted(person.identities, key=lambda i: (rules.dm_rank(i.platform), i.id))
    return ChannelRef.direct(ids[0].platform, ids[0].external_id) if ids else None


def request_of(ctx: Ctx, group: Group, person: Person) -> JoinRequest | None:
    return ctx.session.scalar(select(JoinRequest).where(
        JoinRequest.group_id == group.id, JoinRequest.person_id == person.id))


def settle_request(ctx: Ctx, group: Group, person: Person, status: str) -> bool:
    """Close ``person``'s pending request to join ``group`` (approved, denied, withdrawn);
    False when there was none."""
    req = request_of(ctx, group, person)
    if req is None or req.status != "pending":
        return False
    req.status = status
    req.decided_at = ctx.now
    req.decided_by_id = ctx.actor.id
    return True


def refuse_archived(group: Group, what: str) -> None:
    if group.archived_at is not None:
        raise UserError(
            f"{group.slug} is archived, so it takes no {what}; "
            f"an admin or the secretariat can bring it back with tg unarchive {group.slug}.",
            show_usage=False,
        )


def set_join(ctx: Ctx, group: Group, raw: str) -> Reply:
    """``tg settings <group> join open|request|closed``."""
    require_chair(ctx, group, "tg settings")
    value = " ".join(raw.lower().split())
    if value not in JOIN_POLICIES:
        raise UserError(f"join is {JOIN_HELP}, not {raw!r}.")
    old = join_policy(group)
    if grants_role(group) and value != "closed":
        raise UserError(
            f"{group.slug} is always closed: its membership is a role, so its members are "
            "only added (tg add)."
        )
    if old == value and group.join_policy == value:
        return Reply().say(f"{group.slug}: join is {value} already.")
    set_join_policy(group, value)
    ctx.audit("settings", "group", group.id, key=JOIN, old=old, new=value)
    reply = Reply(private=False).say(f"{group.slug}: join is now {value} (was {old}): "
                                     f"{JOIN_WORDS[value]}.")
    pending = _pending(ctx, group)
    if value != "request" and pending:
        reply = reply.say(f"{len(pending)} pending request{'s' if len(pending) != 1 else ''} "
                          f"stay{'s' if len(pending) == 1 else ''}: tg requests {group.slug} lists "
                          "them, tg approve or tg deny settles each.")
    return reply


def _pending(ctx: Ctx, group: Group) -> list[JoinRequest]:
    return list(ctx.session.scalars(
        select(JoinRequest)
        .where(JoinRequest.group_id == group.id, JoinRequest.status == "pending")
        .options(selectinload(JoinRequest.person).selectinload(Person.identities))
        .order_by(JoinRequest.created_at, JoinRequest.id)))


def request_to_join(ctx: Ctx, group: Group) -> Reply:
    """Record ``tg join`` of a ``request`` group as pending and tell its chairs (each in a
    direct message; the group's channels when it has no chair)."""
    req = request_of(ctx, group, ctx.actor)
    zone = ctx.settings.timezone
    if req is not None and req.status == "pending":
        return Reply().say(
            f"You asked to join {group.slug} on ",
            When(req.created_at, zone),
            "; its chairs decide (tg approve). tg leave withdraws the request.")
    if req is not None and req.status == "denied":
        who: tuple[Span, ...] = (mention(req.decided_by),) if req.decided_by else ("a chair",)
        assert req.decided_at is not None
        raise UserError(
            f"Your request to join {group.slug} was declined on "
            f"{req.decided_at:%d %b %Y}; ask {plain_name(who)} or the secretariat, who can "
            "add you (tg add).",
            show_usage=False,
        )
    if req is None:
        req = JoinRequest(group=group, person=ctx.actor, created_at=ctx.now)
        ctx.session.add(req)
    else:  # approved before (and left since), or withdrawn: ask again
        req.status, req.created_at = "pending", ctx.now
        req.decided_at = req.decided_by_id = None
    ctx.session.flush()
    ctx.audit("request_join", "group", group.id, person=ctx.actor.id)
    notice: list[Block] = [
        text(mention(ctx.actor), f" asks to join {group.name} ({group.slug})."),
        text(f"Approve: tg approve {group.slug} ", mention(ctx.actor),
             f" — or decline: tg deny {group.slug} ", mention(ctx.actor)),
    ]
    reply = Reply()
    heads = chairs(group)
    rules = ctx.settings.mentions
    refs = [ref for ref in (direct_ref(p, rules) for p in heads) if ref is not None]
    if refs:
        reply = reply.post(Post(group.slug, group.name, refs, notice))
        reply = reply.say(f"Asked to join {group.slug}: its chair{'s' if len(heads) != 1 else ''} ",
                          *_join_mentions(heads), " will approve or decline. "
                          "tg leave withdraws the request.")
        return reply
    channels = group_reach(group, ctx.settings.platforms)
    if channels:
        reply = reply.post(Post(group.slug, group.name, channels, notice))
    reply = reply.say(f"Asked to join {group.slug}. It has no chair yet, so the secretariat or an "
                      "admin will approve or decline (tg requests lists it). "
                      "tg leave withdraws the request.")
    return reply


def plain_name(spans: tuple[Span, ...]) -> str:
    from handlers.core.messages import plain_spans

    return plain_spans(spans)


def _join_mentions(people: list[Person]) -> tuple[Span, ...]:
    spans: list[Span] = []
    for i, person in enumerate(people):
        if i:
            spans.append(", ")
        spans.append(mention(person))
    return tuple(spans)


def _request_named(ctx: Ctx, v: Values) -> tuple[Group, Person, JoinRequest]:
    """The group, person and pending request that ``<group> <@user>`` name."""
    group, person = v[GROUP], v[USER]
    req = request_of(ctx, group, person)
    if req is None or req.status != "pending":
        raise UserError(
            f"{person.display_name} has no pending request to join {group.slug}. "
            f"`tg requests {group.slug}` lists the pending ones.",
            show_usage=False,
        )
    return group, person, req


def _tell(ctx: Ctx, reply: Reply, group: Group, person: Person, blocks: list[Block]) -> Reply:
    """``reply`` with a direct message to ``person`` about their request."""
    ref = direct_ref(person, ctx.settings.mentions)
    if ref is None:
        return reply
    return reply.post(Post(group.slug, group.name, [ref], blocks))


def _member_tail(_ctx: Ctx, args: Args) -> tuple[str | None, str | None]:
    """``[project <name...>] [as chair|member]``, in either order: (project, role)."""
    role: str | None = None
    project: str | None = None
    rest = args.remaining()
    if len(rest) >= 2 and rest[-2].lower() == "as":
        role = rest[-1].lower()
        if role not in ("chair", "member"):
            raise UserError(f"Role must be chair or member, not {rest[-1]!r}.")
        args.tokens = args.tokens[:-2]
    if args.accept("project"):
        project = check_length(args.rest_text("project name"), PROJECT_MAX, "project name")
    if len(args) >= 2 and args.peek() == "as":
        args.pos += 1
        role = args.next("role").lower()
        if role not in ("chair", "member"):
            raise UserError(f"Role must be chair or member, not {role!r}.")
    return project, role


def _setting_change(_ctx: Ctx, args: Args) -> tuple[str, str] | None:
    """``[<setting> <value...>]``: the setting's name (folded) and the value as typed."""
    if args.empty():
        return None
    return args.next("<setting>").lower(), args.rest_text("<value>")


def _reassign(_ctx: Ctx, args: Args) -> str | None:
    """The ``<@user>`` of a trailing ``reassign <@user>``, if one is given (checked
    against the group by :func:`_reassignee`)."""
    if args.accept("reassign") is None:
        return None
    return args.next("<@user> after reassign")


GROUP = p.group()
HERE = p.group_or_here()
SETTINGS_GROUP = p.group_or_here(more=True)
MAYBE_GROUP = p.maybe_group()
USER = p.person()
NEW_USER = p.person(create=True)
NEW_SLUG = p.word("<group>")
NAME = p.text("<name...>", NAME_MAX, "name")
ALL = p.choice("all")
MEMBER_TAIL = p.custom("[project <name...>] [as chair|member]", _member_tail)
SETTING = p.custom("[<setting> <value...>]", _setting_change)
REASSIGN = p.custom("[reassign <@user>]", _reassign)


def register(reg: Registry) -> None:
    reg.noun("tg", "task groups: channels, members, projects and roles",
             common=("list", "show", "add", "link"))

    @reg.command(
        "tg", "list", p.spec(ALL),
        "groups: channels, chair, members, next meeting, open actions (all: archived too)",
        ANYONE,
    )
    def tg_list(ctx: Ctx, v: Values) -> Reply:
        with_archived = v[ALL] is not None
        counts = open_action_counts(ctx)
        rows = []
        hidden = 0
        for g in all_groups(ctx.session):
            if g.archived_at is not None and not with_archived:
                hidden += 1
                continue
            rows.append(
                (
                    (g.slug,),
                    (g.name + (" (archived)" if g.archived_at is not None else ""),),
                    (", ".join(channel_label(c) for c in g.channels) or "-",),
                    chairs_of(g),
                    (str(len(g.memberships)),),
                    ("archived",) if g.archived_at is not None else next_meeting_span(ctx, g),
                    (str(counts.get(g.id, 0)),),
                )
            )
        reply = Reply()
        if not rows and not hidden:
            return reply.say("No groups yet. An admin can create one with tg create.")
        headers = ("group", "name", "channels", "chair", "members", "next meeting", "open")
        if rows:
            reply = reply.add(Table(headers, tuple(rows)))
        if hidden:
            reply = reply.say(f"{hidden} archived group{'s' if hidden != 1 else ''} not shown: "
                              f"tg list all shows {'them' if hidden != 1 else 'it'}.")
        return reply

    @reg.command("tg", "show", p.spec(HERE), "one group in full", ANYONE)
    def tg_show(ctx: Ctx, v: Values) -> Reply:
        group = v[HERE]
        reply = Reply()
        reply = reply.say(f"{group.name} ({group.slug})", style="heading")
        if group.mandate:
            reply = reply.say(group.mandate, style="quote")
        reply = reply.say(
            "Channels: ", ", ".join(channel_label(c) for c in group.channels) or "none linked"
        )
        if group.archived_at is not None:
            reply = reply.say("Archived on ", When(group.archived_at, ctx.settings.timezone,
                                                   with_time=False),
                              ": nothing is scheduled for it; its records are kept.")
        policy = join_policy(group)
        reply = reply.say(f"Joining: {policy} ({JOIN_WORDS[policy]})")
        reply = reply.say("Next meeting: ", *next_meeting_span(ctx, group))
        if group.series is not None:
            s = group.series
            reply = reply.say(
                f"Series: {s.rule_text} at {s.start_time:%H:%M} {s.timezone}, "
                f"reminders {s.remind_offsets}" + (f", link {s.link}" if s.link else "")
            )
        reply = reply.say(f"Open actions: {open_action_counts(ctx).get(group.id, 0)}")
        if group.memberships:
            # who is away (me away) is for the group's chairs and the staff to see
            today = ctx.now.astimezone(ctx.settings.zone).date()
            sees = is_chair(ctx, group) or staff(ctx)

            def role(m: Membership) -> str:
                back = away_until(m.person.settings, today) if sees else None
                return m.role + (f", away until {back:%d %b}" if back else "")

            rows = tuple(
                ((mention(m.person),), (role(m),), (m.project or "-",))
                for m in sorted(group.memberships, key=lambda m: (m.role != "chair", m.id))
            )
            reply = reply.add(Table(("member", "role", "project"), rows))
        else:
            reply = reply.say("No members yet.")
        return reply

    @reg.command("tg", "create", p.spec(NEW_SLUG, NAME), "a new group", STAFF)
    def tg_create(ctx: Ctx, v: Values) -> Reply:
        slug, name = v[NEW_SLUG].lower(), v[NAME]
        if not SLUG.match(slug):
            raise UserError(
                f"{slug!r} is not a valid group id: lowercase letters, digits and '-', "
                f"starting with a letter, 2 to {SLUG_MAX} characters."
            )
        if find_group(ctx.session, slug) or find_group(ctx.session, name):
            raise UserError(f"A group named {slug!r} or {name!r} exists already.")
        group = Group(slug=slug, name=name, mandate="", restricted=slug in ROLE_GROUPS,
                      join_policy="closed" if slug in ROLE_GROUPS else "request",
                      created_at=ctx.now)
        ctx.session.add(group)
        ctx.session.flush()
        ctx.audit("create", "group", group.id, slug=slug, name=name)
        return Reply(private=False).say(f"Created group {slug}: {name}.")

    @reg.command(
        "tg", "rename", p.spec(GROUP, NAME),
        "change a group's full name (its id, the slug, stays: scripts, files and feed "
        "links use it)",
        STAFF,
    )
    def tg_rename(ctx: Ctx, v: Values) -> Reply:
        group, name = v[GROUP], v[NAME]
        if len(name) >= 2 and name[0] in "\"“" and name[-1] in "\"”":
            name = name[1:-1].strip()
        if not name:
            raise UserError("Missing <name...>.")
        other = find_group(ctx.session, name)
        if other is not None and other.id != group.id:
            raise UserError(f"{name!r} is the name or id of group {other.slug} already.")
        if name == group.name:
            return Reply().say(f"{group.slug} is called {name!r} already.")
        old = group.name
        group.name = name
        ctx.audit("rename", "group", group.id, old=old, new=name)
        return Reply(private=False).say(
            f"Renamed {group.slug}: {old} is now {name} (its id stays {group.slug}).")

    @reg.command(
        "tg", "archive", p.spec(GROUP),
        "retire a group: nothing scheduled for it, left out of lists; its records kept",
        STAFF,
    )
    def tg_archive(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if grants_role(group):
            raise UserError(f"{group.slug} cannot be archived: its membership is a role.",
                            show_usage=False)
        if group.archived_at is not None:
            return Reply().say(f"{group.slug} is archived already.")
        group.archived_at = ctx.now
        ctx.audit("archive", "group", group.id)
        open_n = open_action_counts(ctx).get(group.id, 0)
        reply = Reply(private=False).say(
            f"Archived {group.slug}: no meeting reminders, digests, nudges or "
            "acknowledgement reminders for it, and tg list leaves it out (tg list all shows "
            "it). Its members, actions, decisions and minutes are kept and still reported.")
        if open_n:
            one = open_n == 1
            reply = reply.say(f"{open_n} open action{'' if one else 's'} stay{'s' if one else ''} "
                              f"open: action list {group.slug} lists {'it' if one else 'them'}.")
        return reply.say(f"tg unarchive {group.slug} brings it back.")

    @reg.command("tg", "unarchive", p.spec(GROUP), "bring an archived group back", STAFF)
    def tg_unarchive(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if group.archived_at is None:
            return Reply().say(f"{group.slug} is not archived.")
        group.archived_at = None
        group.next_digest_at = None  # the delivery engine plans the group afresh
        if group.series is not None:
            group.series.next_reminder_at = ctx.now  # from now: nothing missed is sent
        ctx.audit("unarchive", "group", group.id)
        return Reply(private=False).say(
            f"{group.slug} is back: its reminders, digests and nudges resume from now.")

    @reg.command(
        "tg", "link", p.spec(GROUP), "bind this channel or room to the group", CHAIR_AND_UP,
    )
    def tg_link(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if ctx.channel_id is None:
            raise UserError("tg link works in a channel or room, not in a direct message.")
        existing = ctx.session.scalar(
            select(Channel).where(
                Channel.platform == ctx.platform, Channel.channel_id == ctx.channel_id
            )
        )
        if existing is not None:
            if existing.group_id == group.id:
                return Reply().say(f"This channel is already linked to {group.slug}.")
            raise UserError(
                f"This channel is linked to {existing.group.slug}; "
                f"tg unlink it there first.", show_usage=False,
            )
        ch = Channel(
            group=group, platform=ctx.platform, channel_id=ctx.channel_id,
            created_at=ctx.now,
        )
        ctx.session.add(ch)
        ctx.session.flush()
        ctx.audit("link", "group", group.id, platform=ctx.platform, channel=ctx.channel_id)
        return Reply(private=False).say(f"This channel is now linked to {group.name}.")

    @reg.command(
        "tg", "settings", p.spec(SETTINGS_GROUP, SETTING),
        "show or change what is scheduled for a group (reminders, nudges, digest, ...) and "
        "how it is joined (join open|request|closed)",
        Policy("anyone reads; admin, secretariat, chair change"),
    )
    def tg_settings(ctx: Ctx, v: Values) -> Reply:
        from handlers.core.scheduling import DEFAULTS, SETTING_HELP, setting, validate_setting
        from handlers.groups._sync import FOLLOW

        group, change = v[SETTINGS_GROUP], v[SETTING]
        if change is None:
            rows = (
                *(((key,), (setting(group, key),), (SETTING_HELP[key],)) for key in DEFAULTS),
                ((JOIN,), (join_policy(group),), (JOIN_HELP,)),
            )
            reply = Reply().say(f"Settings of {group.slug}", style="heading")
            return reply.add(Table(("setting", "value", "values"), rows))
        key, raw = change
        if key == JOIN:
            return set_join(ctx, group, raw)
        if key not in DEFAULTS:
            raise UserError(f"No setting {key!r}. Settings: {', '.join([*DEFAULTS, JOIN])}.")
        value = validate_setting(key, raw)
        require_chair(ctx, group, "tg settings")
        if key == FOLLOW and value == "on" and grants_role(group):
            raise UserError(
                f"{group.slug} cannot follow its channel: its membership is a role, so its "
                "members are only added (tg add)."
            )
        old = setting(group, key)
        group.settings = {**(group.settings or {}), key: value}
        group.next_digest_at = None  # the delivery engine plans the group afresh
        if group.series is not None:
            group.series.next_reminder_at = ctx.now  # planned afresh from now
        ctx.audit("settings", "group", group.id, key=key, old=old, new=value)
        return Reply(private=False).say(f"{group.slug}: {key} is now {value} (was {old}).")

    @reg.command("tg", "unlink", p.spec(), "unbind this channel or room", CHAIR_AND_UP)
    def tg_unlink(ctx: Ctx, _v: Values) -> Reply:
        group = ctx.channel_group
        if group is None:
            raise UserError("This channel is not linked to a group.")
        ch = ctx.session.scalar(
            select(Channel).where(
                Channel.platform == ctx.platform, Channel.channel_id == ctx.channel_id
            )
        )
        assert ch is not None
        ctx.session.delete(ch)
        ctx.audit("unlink", "group", group.id, platform=ctx.platform, channel=ctx.channel_id)
        return Reply(private=False).say(f"This channel is no longer linked to {group.name}.")

    @reg.command(
        "tg", "add", p.spec(GROUP, NEW_USER, MEMBER_TAIL),
        "add or update a member, with the project they represent", CHAIR_AND_UP,
    )
    def tg_add(ctx: Ctx, v: Values) -> Reply:
        group, person = v[GROUP], v[NEW_USER]
        project, role = v[MEMBER_TAIL]
        m = membership(ctx.session, group, person)
        if m is None:
            m = Membership(
                group=group, person=person, role=role or "member", project=project,
                created_at=ctx.now,
            )
            ctx.session.add(m)
            verb = "Added"
        else:
            if role:
                m.role = role
            if project is not None:
                m.project = project
            verb = "Updated"
        settle_request(ctx, group, person, "approved")  # being added answers a request
        ctx.session.flush()
        ctx.audit(
            "add_member", "group", group.id, person=person.id, role=m.role, project=m.project
        )
        return Reply(private=False).say(
            f"{verb} ", mention(person), f" in {group.slug} as {m.role}"
            + (f", representing {m.project}" if m.project else "") + "."
        )

    @reg.command(
        "tg", "remove", p.spec(GROUP, USER, REASSIGN),
        "remove a member; reassign: their open actions in the group go to that member",
        CHAIR_AND_UP,
    )
    def tg_remove(ctx: Ctx, v: Values) -> Reply:
        group, person, raw_to = v[GROUP], v[USER], v[REASSIGN]
        m = membership(ctx.session, group, person)
        if m is None:
            raise UserError(f"{person.display_name} is not a member of {group.slug}.")
        to = _reassignee(ctx, group, person, raw_to)
        ctx.session.delete(m)
        ctx.audit("remove_member", "group", group.id, person=person.id)
        reply = Reply(private=False).say("Removed ", mention(person), f" from {group.slug}.")
        return _open_work_said(ctx, reply, group, person, to, "tg remove")

    @reg.command(
        "tg", "join", p.spec(GROUP),
        "join a group: at once if it is open, by a chair's approval if it takes requests",
        ANYONE.said(
            "anyone (open and request groups; closed ones, boc and secretariat only by tg add)"),
    )
    def tg_join(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if grants_role(group):
            # for everyone, staff included: a role is given by someone, on purpose
            raise UserError(
                f"{group.slug} is joined only by being added: its membership is a role. "
                "Ask the secretariat or an admin (tg add)."
            )
        if membership(ctx.session, group, ctx.actor) is not None:
            return Reply().say(f"You are already a member of {group.slug}.")
        refuse_archived(group, "new members")
        policy = join_policy(group)
        # staff may add anyone, themselves included, so their join needs nobody's approval
        if policy == "open" or staff(ctx):
            ctx.session.add(
                Membership(group=group, person=ctx.actor, role="member",
                           created_at=ctx.now))
            settle_request(ctx, group, ctx.actor, "approved")
            ctx.session.flush()
            ctx.audit("join", "group", group.id, person=ctx.actor.id)
            return Reply(private=False).say(mention(ctx.actor), f" joined {group.slug}.")
        if policy == "closed":
            raise UserError(
                f"{group.slug} is closed: people join it only by being added (tg add) by a "
                "chair, the secretariat or an admin.",
                show_usage=False,
            )
        return request_to_join(ctx, group)

    @reg.command(
        "tg", "requests", p.spec(MAYBE_GROUP),
        "pending requests to join (without a group: every group you chair)", CHAIR_AND_UP,
    )
    def tg_requests(ctx: Ctx, v: Values) -> Reply:
        group = v[MAYBE_GROUP] or ctx.channel_group
        if group is not None:
            groups = [group]
        else:
            groups = [g for g in all_groups(ctx.session) if chair_and_up(ctx, g)]
            if not groups:
                raise Refused("a chair of a group, the secretariat or an admin", "tg requests")
        rows = []
        for g in groups:
            for req in _pending(ctx, g):
                rows.append(((g.slug,), (mention(req.person),),
                             (When(req.created_at, ctx.settings.timezone),)))
        scope = group.slug if group is not None else "your groups"
        reply = Reply().say(f"Requests to join {scope}", style="heading")
        if not rows:
            return reply.say("None pending.")
        reply = reply.add(Table(("group", "who", "asked"), tuple(rows)))
        example = rows[0][0][0]
        return reply.say(f"Settle each with tg approve {example} <@user> or "
                         f"tg deny {example} <@user>.")

    @reg.command(
        "tg", "approve", p.spec(GROUP, USER), "approve a request to join: they become a member",
        CHAIR_AND_UP,
    )
    def tg_approve(ctx: Ctx, v: Values) -> Reply:
        group, person, req = _request_named(ctx, v)
        reply = Reply(private=False)
        req.status = "approved"
        req.decided_at = ctx.now
        req.decided_by_id = ctx.actor.id
        if membership(ctx.session, group, person) is None:
            ctx.session.add(Membership(group=group, person=person, role="member",
                                       created_at=ctx.now))
        ctx.session.flush()
        ctx.audit("approve_join", "group", group.id, person=person.id)
        reply = reply.say("Approved: ", mention(person), f" is now a member of {group.slug}.")
        reply = _tell(ctx, reply, group, person, [text(
            f"Your request to join {group.name} ({group.slug}) was approved by ",
            mention(ctx.actor), ": you are a member now.")])
        return reply

    @reg.command(
        "tg", "deny", p.spec(GROUP, USER), "decline a request to join", CHAIR_AND_UP,
    )
    def tg_deny(ctx: Ctx, v: Values) -> Reply:
        group, person, req = _request_named(ctx, v)
        req.status = "denied"
        req.decided_at = ctx.now
        req.decided_by_id = ctx.actor.id
        ctx.audit("deny_join", "group", group.id, person=person.id)
        reply = Reply().say("Declined the request of ", mention(person),
                            f" to join {group.slug}.")
        reply = _tell(ctx, reply, group, person, [text(
            f"Your request to join {group.name} ({group.slug}) was declined by ",
            mention(ctx.actor), ". Ask them, or the secretariat, if you think it should "
            "not have been.")])
        return reply

    @reg.command(
        "tg", "leave", p.spec(GROUP, REASSIGN),
        "leave a group; reassign: your open actions in it go to that member", MEMBERS,
    )
    def tg_leave(ctx: Ctx, v: Values) -> Reply:
        group, raw_to = v[GROUP], v[REASSIGN]
        m = membership(ctx.session, group, ctx.actor)
        if m is None:
            if settle_request(ctx, group, ctx.actor, "withdrawn"):
                ctx.audit("withdraw_join", "group", group.id, person=ctx.actor.id)
                return Reply().say(f"You withdrew your request to join {group.slug}.")
            raise UserError(f"You are not a member of {group.slug}.")
        to = _reassignee(ctx, group, ctx.actor, raw_to)
        ctx.session.delete(m)
        ctx.audit("leave", "group", group.id, person=ctx.actor.id)
        reply = Reply(private=False).say(mention(ctx.actor), f" left {group.slug}.")
        return _open_work_said(ctx, reply, group, ctx.actor, to, "tg leave")


# --- open work left behind by someone leaving a group --------------------------------------




def _reassignee(ctx: Ctx, group: Group, leaving: Person, raw: str | None) -> Person | None:
    """Who takes over the open actions: another member of the group (checked before
    anything is written, so a bad name removes no one)."""
    if raw is None:
        return None
    to = resolve_person(ctx, raw)
    if to.id == leaving.id:
        raise UserError(f"Reassign to someone other than {at_name(leaving.display_name)}.")
    if membership(ctx.session, group, to) is None:
        raise UserError(
            f"{at_name(to.display_name)} is not a member of {group.slug}: add them first "
            f"(tg add {group.slug} {at_name(to.display_name)})."
        )
    return to


def _open_work_said(ctx: Ctx, reply: Reply, group: Group, person: Person,
                    to: Person | None, why: str) -> Reply:
    """Add to a removal's reply what becomes of the person's open actions in the group:
    handed over to ``to``, or left open with the first ids and how to reassign them."""
    if to is not None:
        moved = hand_over(ctx, group, person, to, why)
        if moved:
            ids = labels_line(len(moved), [action_label(a) for a in moved[:OPEN_WORK_SHOWN]])
            n = len(moved)
            reply = reply.say(f"{n} open action{'s' if n != 1 else ''} in {group.slug} "
                              f"({ids}) now for ", mention(to), ".")
        return reply
    total, labels = open_work(ctx, group, person)
    if total:
        reply = reply.say(
            f"{total} open action{'s' if total != 1 else ''} in {group.slug} still "
            f"assigned to ", mention(person), f": {labels_line(total, labels)}. "
            "Give each to someone else with `action assign <id> @someone`."
        )
    return reply
