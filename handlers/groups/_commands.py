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
from handlers.core.i18n import Msg, _, _n, listed
from handlers.core.mentions import MentionRules
from handlers.core.messages import (
    Block,
    ChannelRef,
    Day,
    Mention,
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


def next_meeting_when(ctx: Ctx, group: Group) -> When | Msg:
    """The group's next meeting, as a time for the reader, or words saying there is none."""
    from handlers.meetings import next_meeting

    occ = next_meeting(ctx, group)
    if occ is None:
        # TRANSLATORS: shown as a group's next meeting when it has none.
        return _("none scheduled")
    return When(occ.start, occ.zone)


def next_meeting_span(ctx: Ctx, group: Group) -> tuple[Span, ...]:
    return (next_meeting_when(ctx, group),)


def mention_list(people: list[Person]) -> Mention | Msg:
    """``@ana, @bo``: several people as one argument of a message, each kept a mention
    (a list, not a sentence: nothing in it to translate)."""
    found = listed([mention(person) for person in people])
    assert isinstance(found, Mention | Msg)
    return found


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
    # TRANSLATORS: what the join policy "open" means (tg join, tg add are commands).
    "open": _("anyone joins with tg join"),
    # TRANSLATORS: what the join policy "request" means.
    "request": _("tg join asks the chairs, who approve or decline it"),
    # TRANSLATORS: what the join policy "closed" means.
    "closed": _("members are only added (tg add)"),
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
            # TRANSLATORS: {what} is what the group does not take, like "new members".
            _("{group} is archived, so it takes no {what}; an admin or the secretariat can "
              "bring it back with tg unarchive {group}.", group=group.slug, what=what),
            show_usage=False,
        )


def set_join(ctx: Ctx, group: Group, raw: str) -> Reply:
    """``tg settings <group> join open|request|closed``."""
    require_chair(ctx, group, "tg settings")
    value = " ".join(raw.lower().split())
    if value not in JOIN_POLICIES:
        # TRANSLATORS: "join" is a setting's name, {choices} its values: keep them as is.
        raise UserError(_("join is {choices}, not {value}.", choices=JOIN_HELP,
                          value=repr(raw)))
    old = join_policy(group)
    if grants_role(group) and value != "closed":
        raise UserError(
            _("{group} is always closed: its membership is a role, so its members are "
              "only added (tg add).", group=group.slug)
        )
    if old == value and group.join_policy == value:
        # TRANSLATORS: "join" is a setting's name, {policy} its value (open, request, closed).
        return Reply().say(_("{group}: join is {policy} already.", group=group.slug,
                             policy=value))
    set_join_policy(group, value)
    ctx.audit("settings", "group", group.id, key=JOIN, old=old, new=value)
    # TRANSLATORS: "join" is a setting's name, {policy} and {old} its values (open, request,
    # closed); {meaning} says what the new one means.
    reply = Reply(private=False).say(_("{group}: join is now {policy} (was {old}): "
                                       "{meaning}.", group=group.slug, policy=value, old=old,
                                       meaning=JOIN_WORDS[value]))
    pending = _pending(ctx, group)
    if value != "request" and pending:
        reply = reply.say(_n("{n} pending request stays: tg requests {group} lists them, "
                             "tg approve or tg deny settles each.",
                             "{n} pending requests stay: tg requests {group} lists them, "
                             "tg approve or tg deny settles each.",
                             len(pending), group=group.slug))
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
        return Reply().say(_(
            "You asked to join {group} on {date}; its chairs decide (tg approve). tg leave "
            "withdraws the request.", group=group.slug, date=When(req.created_at, zone)))
    if req is not None and req.status == "denied":
        # the name as text: an error names them, it does not ping them
        who = plain_name((mention(req.decided_by),)) if req.decided_by else _("a chair")
        assert req.decided_at is not None
        declined = Day(req.decided_at.date(), form="short")
        raise UserError(
            _("Your request to join {group} was declined on {date}; ask {who} or the "
              "secretariat, who can add you (tg add).", group=group.slug, date=declined,
              who=who),
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
        text(_("{who} asks to join {name} ({group}).", who=mention(ctx.actor),
               name=group.name, group=group.slug)),
        text(_("Approve: tg approve {group} {who} — or decline: tg deny {group} {who}",
               group=group.slug, who=mention(ctx.actor))),
    ]
    reply = Reply()
    heads = chairs(group)
    rules = ctx.settings.mentions
    refs = [ref for ref in (direct_ref(p, rules) for p in heads) if ref is not None]
    if refs:
        reply = reply.post(Post(group.slug, group.name, refs, notice))
        reply = reply.say(_n("Asked to join {group}: its chair {chairs} will approve or "
                             "decline. tg leave withdraws the request.",
                             "Asked to join {group}: its chairs {chairs} will approve or "
                             "decline. tg leave withdraws the request.",
                             len(heads), group=group.slug, chairs=mention_list(heads)))
        return reply
    channels = group_reach(group, ctx.settings.platforms)
    if channels:
        reply = reply.post(Post(group.slug, group.name, channels, notice))
    reply = reply.say(_("Asked to join {group}. It has no chair yet, so the secretariat or an "
                        "admin will approve or decline (tg requests lists it). "
                        "tg leave withdraws the request.", group=group.slug))
    return reply


def plain_name(spans: tuple[Span, ...]) -> str:
    from handlers.core.messages import plain_spans

    return plain_spans(spans)


def _request_named(ctx: Ctx, v: Values) -> tuple[Group, Person, JoinRequest]:
    """The group, person and pending request that ``<group> <@user>`` name."""
    group, person = v[GROUP], v[USER]
    req = request_of(ctx, group, person)
    if req is None or req.status != "pending":
        raise UserError(
            _("{who} has no pending request to join {group}. `tg requests {group}` lists the "
              "pending ones.", who=person.display_name, group=group.slug),
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
            raise UserError(_("Role must be chair or member, not {role}.",
                              role=repr(rest[-1])))
        args.tokens = args.tokens[:-2]
    if args.accept("project"):
        # TRANSLATORS: what is missing or too long ("Missing project name.").
        what = _("project name")
        project = check_length(args.rest_text(what), PROJECT_MAX, what)
    if len(args) >= 2 and args.peek() == "as":
        args.pos += 1
        # TRANSLATORS: what is missing ("Missing role."): a member's role in a group.
        role = args.next(_("role")).lower()
        if role not in ("chair", "member"):
            raise UserError(_("Role must be chair or member, not {role}.", role=repr(role)))
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
    # TRANSLATORS: what is missing; <@user> and reassign are typed as they are.
    return args.next(_("<@user> after reassign"))


GROUP = p.group()
HERE = p.group_or_here()
SETTINGS_GROUP = p.group_or_here(more=True)
MAYBE_GROUP = p.maybe_group()
USER = p.person()
NEW_USER = p.person(create=True)
NEW_SLUG = p.word("<group>")
# TRANSLATORS: what is too long ("The name is too long"): a group's full name.
NAME = p.text("<name...>", NAME_MAX, _("name"))
ALL = p.choice("all")
MEMBER_TAIL = p.custom("[project <name...>] [as chair|member]", _member_tail)
SETTING = p.custom("[<setting> <value...>]", _setting_change)
REASSIGN = p.custom("[reassign <@user>]", _reassign)


def register(reg: Registry) -> None:
    reg.noun("tg", _("task groups: channels, members, projects and roles"),
             common=("list", "show", "add", "link"))

    @reg.command(
        "tg", "list", p.spec(ALL),
        _("groups: channels, chair, members, next meeting, open actions (all: archived too)"),
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
                    (_("{name} (archived)", name=g.name) if g.archived_at is not None
                     else g.name,),
                    (", ".join(channel_label(c) for c in g.channels) or "-",),
                    chairs_of(g),
                    (str(len(g.memberships)),),
                    # TRANSLATORS: in the "next meeting" column, for an archived group.
                    (_("archived"),) if g.archived_at is not None
                    else next_meeting_span(ctx, g),
                    (str(counts.get(g.id, 0)),),
                )
            )
        reply = Reply()
        if not rows and not hidden:
            return reply.say(_("No groups yet. An admin can create one with tg create."))
        headers = (
            # TRANSLATORS: a table's column: the group's id (slug).
            _("group"),
            # TRANSLATORS: a table's column: the group's full name.
            _("name"),
            # TRANSLATORS: a table's column: the chat channels linked to the group.
            _("channels"),
            # TRANSLATORS: a table's column: the group's chairs.
            _("chair"),
            # TRANSLATORS: a table's column: how many members the group has.
            _("members"),
            # TRANSLATORS: a table's column: when the group meets next.
            _("next meeting"),
            # TRANSLATORS: a table's column: how many open actions the group has.
            _("open"),
        )
        if rows:
            reply = reply.add(Table(headers, tuple(rows)))
        if hidden:
            reply = reply.say(_n("{n} archived group not shown: tg list all shows it.",
                                 "{n} archived groups not shown: tg list all shows them.",
                                 hidden))
        return reply

    @reg.command("tg", "show", p.spec(HERE), _("one group in full"), ANYONE)
    def tg_show(ctx: Ctx, v: Values) -> Reply:
        group = v[HERE]
        reply = Reply()
        reply = reply.say(f"{group.name} ({group.slug})", style="heading")
        if group.mandate:
            reply = reply.say(group.mandate, style="quote")
        reply = reply.say(_(
            "Channels: {channels}",
            channels=", ".join(channel_label(c) for c in group.channels) or _("none linked")))
        if group.archived_at is not None:
            reply = reply.say(_("Archived on {date}: nothing is scheduled for it; its records "
                                "are kept.", date=When(group.archived_at, ctx.settings.timezone,
                                                       with_time=False)))
        policy = join_policy(group)
        # TRANSLATORS: {policy} is a value (open, request, closed); {meaning} says what it means.
        reply = reply.say(_("Joining: {policy} ({meaning})", policy=policy,
                            meaning=JOIN_WORDS[policy]))
        reply = reply.say(_("Next meeting: {when}", when=next_meeting_when(ctx, group)))
        if group.series is not None:
            s = group.series
            series = {"rule": s.rule_text, "time": f"{s.start_time:%H:%M}", "zone": s.timezone,
                      "offsets": s.remind_offsets}
            reply = reply.say(
                # TRANSLATORS: {rule} is the schedule as it was typed (every 2nd tuesday),
                # {time} its time of day, {zone} a time zone, {offsets} when reminders go.
                _("Series: {rule} at {time} {zone}, reminders {offsets}, link {link}",
                  link=s.link, **series) if s.link
                # TRANSLATORS: as above, for a series with no meeting link.
                else _("Series: {rule} at {time} {zone}, reminders {offsets}", **series))
        reply = reply.say(_("Open actions: {count}",
                            count=open_action_counts(ctx).get(group.id, 0)))
        if group.memberships:
            # who is away (me away) is for the group's chairs and the staff to see
            today = ctx.now.astimezone(ctx.settings.zone).date()
            sees = is_chair(ctx, group) or staff(ctx)

            def role(m: Membership) -> str:
                back = away_until(m.person.settings, today) if sees else None
                if back is None:
                    return m.role
                until = Day(back, form="daymonth")
                # TRANSLATORS: {role} is chair or member (as typed in commands).
                return _("{role}, away until {date}", role=m.role, date=until)

            rows = tuple(
                ((mention(m.person),), (role(m),), (m.project or "-",))
                for m in sorted(group.memberships, key=lambda m: (m.role != "chair", m.id))
            )
            headers = (
                # TRANSLATORS: a table's column: a member of the group.
                _("member"),
                # TRANSLATORS: a table's column: a member's role (chair or member).
                _("role"),
                # TRANSLATORS: a table's column: the project a member represents.
                _("project"),
            )
            reply = reply.add(Table(headers, rows))
        else:
            reply = reply.say(_("No members yet."))
        return reply

    @reg.command("tg", "create", p.spec(NEW_SLUG, NAME), _("a new group"), STAFF)
    def tg_create(ctx: Ctx, v: Values) -> Reply:
        slug, name = v[NEW_SLUG].lower(), v[NAME]
        if not SLUG.match(slug):
            raise UserError(
                _("{slug} is not a valid group id: lowercase letters, digits and '-', "
                  "starting with a letter, 2 to {limit} characters.", slug=repr(slug),
                  limit=SLUG_MAX)
            )
        if find_group(ctx.session, slug) or find_group(ctx.session, name):
            raise UserError(_("A group named {slug} or {name} exists already.",
                              slug=repr(slug), name=repr(name)))
        group = Group(slug=slug, name=name, mandate="", restricted=slug in ROLE_GROUPS,
                      join_policy="closed" if slug in ROLE_GROUPS else "request",
                      created_at=ctx.now)
        ctx.session.add(group)
        ctx.session.flush()
        ctx.audit("create", "group", group.id, slug=slug, name=name)
        return Reply(private=False).say(_("Created group {group}: {name}.", group=slug,
                                          name=name))

    @reg.command(
        "tg", "rename", p.spec(GROUP, NAME),
        _("change a group's full name (its id, the slug, stays: scripts, files and feed "
          "links use it)"),
        STAFF,
    )
    def tg_rename(ctx: Ctx, v: Values) -> Reply:
        group, name = v[GROUP], v[NAME]
        if len(name) >= 2 and name[0] in "\"“" and name[-1] in "\"”":
            name = name[1:-1].strip()
        if not name:
            raise UserError(_("Missing {what}.", what="<name...>"))
        other = find_group(ctx.session, name)
        if other is not None and other.id != group.id:
            raise UserError(_("{name} is the name or id of group {group} already.",
                              name=repr(name), group=other.slug))
        if name == group.name:
            return Reply().say(_("{group} is called {name} already.", group=group.slug,
                                 name=repr(name)))
        old = group.name
        group.name = name
        ctx.audit("rename", "group", group.id, old=old, new=name)
        return Reply(private=False).say(
            _("Renamed {group}: {old} is now {name} (its id stays {group}).",
              group=group.slug, old=old, name=name))

    @reg.command(
        "tg", "archive", p.spec(GROUP),
        _("retire a group: nothing scheduled for it, left out of lists; its records kept"),
        STAFF,
    )
    def tg_archive(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if grants_role(group):
            raise UserError(_("{group} cannot be archived: its membership is a role.",
                              group=group.slug), show_usage=False)
        if group.archived_at is not None:
            return Reply().say(_("{group} is archived already.", group=group.slug))
        group.archived_at = ctx.now
        ctx.audit("archive", "group", group.id)
        open_n = open_action_counts(ctx).get(group.id, 0)
        reply = Reply(private=False).say(_(
            "Archived {group}: no meeting reminders, digests, nudges or acknowledgement "
            "reminders for it, and tg list leaves it out (tg list all shows it). Its members, "
            "actions, decisions and minutes are kept and still reported.", group=group.slug))
        if open_n:
            reply = reply.say(_n("{n} open action stays open: action list {group} lists it.",
                                 "{n} open actions stay open: action list {group} lists them.",
                                 open_n, group=group.slug))
        return reply.say(_("tg unarchive {group} brings it back.", group=group.slug))

    @reg.command("tg", "unarchive", p.spec(GROUP), _("bring an archived group back"),
                 STAFF)
    def tg_unarchive(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if group.archived_at is None:
            return Reply().say(_("{group} is not archived.", group=group.slug))
        group.archived_at = None
        group.next_digest_at = None  # the delivery engine plans the group afresh
        if group.series is not None:
            group.series.next_reminder_at = ctx.now  # from now: nothing missed is sent
        ctx.audit("unarchive", "group", group.id)
        return Reply(private=False).say(
            _("{group} is back: its reminders, digests and nudges resume from now.",
              group=group.slug))

    @reg.command(
        "tg", "link", p.spec(GROUP), _("bind this channel or room to the group"),
        CHAIR_AND_UP,
    )
    def tg_link(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if ctx.channel_id is None:
            raise UserError(_("tg link works in a channel or room, not in a direct message."))
        existing = ctx.session.scalar(
            select(Channel).where(
                Channel.platform == ctx.platform, Channel.channel_id == ctx.channel_id
            )
        )
        if existing is not None:
            if existing.group_id == group.id:
                return Reply().say(_("This channel is already linked to {group}.",
                                     group=group.slug))
            raise UserError(
                _("This channel is linked to {group}; tg unlink it there first.",
                  group=existing.group.slug), show_usage=False,
            )
        ch = Channel(
            group=group, platform=ctx.platform, channel_id=ctx.channel_id,
            created_at=ctx.now,
        )
        ctx.session.add(ch)
        ctx.session.flush()
        ctx.audit("link", "group", group.id, platform=ctx.platform, channel=ctx.channel_id)
        return Reply(private=False).say(_("This channel is now linked to {name}.",
                                          name=group.name))

    @reg.command(
        "tg", "settings", p.spec(SETTINGS_GROUP, SETTING),
        _("show or change what is scheduled for a group (reminders, nudges, digest, ...) and "
          "how it is joined (join open|request|closed)"),
        Policy(_("anyone reads; admin, secretariat, chair change")),
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
            reply = Reply().say(_("Settings of {group}", group=group.slug), style="heading")
            headers = (
                # TRANSLATORS: a table's column: a setting's name.
                _("setting"),
                # TRANSLATORS: a table's column: a setting's value now.
                _("value"),
                # TRANSLATORS: a table's column: the values a setting may take.
                _("values"),
            )
            return reply.add(Table(headers, rows))
        key, raw = change
        if key == JOIN:
            return set_join(ctx, group, raw)
        if key not in DEFAULTS:
            raise UserError(_("No setting {key}. Settings: {settings}.", key=repr(key),
                              settings=", ".join([*DEFAULTS, JOIN])))
        value = validate_setting(key, raw)
        require_chair(ctx, group, "tg settings")
        if key == FOLLOW and value == "on" and grants_role(group):
            raise UserError(
                _("{group} cannot follow its channel: its membership is a role, so its "
                  "members are only added (tg add).", group=group.slug)
            )
        old = setting(group, key)
        group.settings = {**(group.settings or {}), key: value}
        group.next_digest_at = None  # the delivery engine plans the group afresh
        if group.series is not None:
            group.series.next_reminder_at = ctx.now  # planned afresh from now
        ctx.audit("settings", "group", group.id, key=key, old=old, new=value)
        # TRANSLATORS: {key} is a setting's name, {value} and {old} its values.
        return Reply(private=False).say(_("{group}: {key} is now {value} (was {old}).",
                                          group=group.slug, key=key, value=value, old=old))

    @reg.command("tg", "unlink", p.spec(), _("unbind this channel or room"),
                 CHAIR_AND_UP)
    def tg_unlink(ctx: Ctx, _v: Values) -> Reply:
        group = ctx.channel_group
        if group is None:
            raise UserError(_("This channel is not linked to a group."))
        ch = ctx.session.scalar(
            select(Channel).where(
                Channel.platform == ctx.platform, Channel.channel_id == ctx.channel_id
            )
        )
        assert ch is not None
        ctx.session.delete(ch)
        ctx.audit("unlink", "group", group.id, platform=ctx.platform, channel=ctx.channel_id)
        return Reply(private=False).say(_("This channel is no longer linked to {name}.",
                                          name=group.name))

    @reg.command(
        "tg", "add", p.spec(GROUP, NEW_USER, MEMBER_TAIL),
        _("add or update a member, with the project they represent"), CHAIR_AND_UP,
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
            added = True
        else:
            if role:
                m.role = role
            if project is not None:
                m.project = project
            added = False
        settle_request(ctx, group, person, "approved")  # being added answers a request
        ctx.session.flush()
        ctx.audit(
            "add_member", "group", group.id, person=person.id, role=m.role, project=m.project
        )
        who = mention(person)
        if added and m.project:
            # TRANSLATORS: {role} is chair or member (as typed in commands); {project} a name.
            done = _("Added {who} in {group} as {role}, representing {project}.",
                     who=who, group=group.slug, role=m.role, project=m.project)
        elif added:
            # TRANSLATORS: {role} is chair or member (as typed in commands).
            done = _("Added {who} in {group} as {role}.", who=who, group=group.slug,
                     role=m.role)
        elif m.project:
            # TRANSLATORS: {role} is chair or member (as typed in commands); {project} a name.
            done = _("Updated {who} in {group} as {role}, representing {project}.",
                     who=who, group=group.slug, role=m.role, project=m.project)
        else:
            # TRANSLATORS: {role} is chair or member (as typed in commands).
            done = _("Updated {who} in {group} as {role}.", who=who, group=group.slug,
                     role=m.role)
        return Reply(private=False).say(done)

    @reg.command(
        "tg", "remove", p.spec(GROUP, USER, REASSIGN),
        _("remove a member; reassign: their open actions in the group go to that member"),
        CHAIR_AND_UP,
    )
    def tg_remove(ctx: Ctx, v: Values) -> Reply:
        group, person, raw_to = v[GROUP], v[USER], v[REASSIGN]
        m = membership(ctx.session, group, person)
        if m is None:
            raise UserError(_("{who} is not a member of {group}.", who=person.display_name,
                              group=group.slug))
        to = _reassignee(ctx, group, person, raw_to)
        ctx.session.delete(m)
        ctx.audit("remove_member", "group", group.id, person=person.id)
        reply = Reply(private=False).say(_("Removed {who} from {group}.", who=mention(person),
                                           group=group.slug))
        return _open_work_said(ctx, reply, group, person, to, "tg remove")

    @reg.command(
        "tg", "join", p.spec(GROUP),
        _("join a group: at once if it is open, by a chair's approval if it takes requests"),
        ANYONE.said(_("anyone (open and request groups; closed ones, boc and secretariat only "
                      "by tg add)")),
    )
    def tg_join(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        if grants_role(group):
            # for everyone, staff included: a role is given by someone, on purpose
            raise UserError(
                _("{group} is joined only by being added: its membership is a role. "
                  "Ask the secretariat or an admin (tg add).", group=group.slug)
            )
        if membership(ctx.session, group, ctx.actor) is not None:
            return Reply().say(_("You are already a member of {group}.", group=group.slug))
        # TRANSLATORS: what an archived group takes none of ("... so it takes no {what}").
        refuse_archived(group, _("new members"))
        policy = join_policy(group)
        # staff may add anyone, themselves included, so their join needs nobody's approval
        if policy == "open" or staff(ctx):
            ctx.session.add(
                Membership(group=group, person=ctx.actor, role="member",
                           created_at=ctx.now))
            settle_request(ctx, group, ctx.actor, "approved")
            ctx.session.flush()
            ctx.audit("join", "group", group.id, person=ctx.actor.id)
            return Reply(private=False).say(_("{who} joined {group}.", who=mention(ctx.actor),
                                              group=group.slug))
        if policy == "closed":
            raise UserError(
                _("{group} is closed: people join it only by being added (tg add) by a "
                  "chair, the secretariat or an admin.", group=group.slug),
                show_usage=False,
            )
        return request_to_join(ctx, group)

    @reg.command(
        "tg", "requests", p.spec(MAYBE_GROUP),
        _("pending requests to join (without a group: every group you chair)"), CHAIR_AND_UP,
    )
    def tg_requests(ctx: Ctx, v: Values) -> Reply:
        group = v[MAYBE_GROUP] or ctx.channel_group
        if group is not None:
            groups = [group]
        else:
            groups = [g for g in all_groups(ctx.session) if chair_and_up(ctx, g)]
            if not groups:
                raise Refused(_("a chair of a group, the secretariat or an admin"),
                              "tg requests")
        rows = []
        for g in groups:
            for req in _pending(ctx, g):
                rows.append(((g.slug,), (mention(req.person),),
                             (When(req.created_at, ctx.settings.timezone),)))
        heading = (_("Requests to join {group}", group=group.slug) if group is not None
                   else _("Requests to join your groups"))
        reply = Reply().say(heading, style="heading")
        if not rows:
            return reply.say(_("None pending."))
        headers = (
            # TRANSLATORS: a table's column: the group asked to join (its id).
            _("group"),
            # TRANSLATORS: a table's column: the person who asked to join.
            _("who"),
            # TRANSLATORS: a table's column: when they asked.
            _("asked"),
        )
        reply = reply.add(Table(headers, tuple(rows)))
        example = rows[0][0][0]
        return reply.say(_("Settle each with tg approve {group} <@user> or "
                           "tg deny {group} <@user>.", group=example))

    @reg.command(
        "tg", "approve", p.spec(GROUP, USER),
        _("approve a request to join: they become a member"),
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
        reply = reply.say(_("Approved: {who} is now a member of {group}.", who=mention(person),
                            group=group.slug))
        reply = _tell(ctx, reply, group, person, [text(_(
            "Your request to join {name} ({group}) was approved by {chair}: you are a member "
            "now.", name=group.name, group=group.slug, chair=mention(ctx.actor)))])
        return reply

    @reg.command(
        "tg", "deny", p.spec(GROUP, USER), _("decline a request to join"), CHAIR_AND_UP,
    )
    def tg_deny(ctx: Ctx, v: Values) -> Reply:
        group, person, req = _request_named(ctx, v)
        req.status = "denied"
        req.decided_at = ctx.now
        req.decided_by_id = ctx.actor.id
        ctx.audit("deny_join", "group", group.id, person=person.id)
        reply = Reply().say(_("Declined the request of {who} to join {group}.",
                              who=mention(person), group=group.slug))
        reply = _tell(ctx, reply, group, person, [text(_(
            "Your request to join {name} ({group}) was declined by {chair}. Ask them, or the "
            "secretariat, if you think it should not have been.", name=group.name,
            group=group.slug, chair=mention(ctx.actor)))])
        return reply

    @reg.command(
        "tg", "leave", p.spec(GROUP, REASSIGN),
        _("leave a group; reassign: your open actions in it go to that member"), MEMBERS,
    )
    def tg_leave(ctx: Ctx, v: Values) -> Reply:
        group, raw_to = v[GROUP], v[REASSIGN]
        m = membership(ctx.session, group, ctx.actor)
        if m is None:
            if settle_request(ctx, group, ctx.actor, "withdrawn"):
                ctx.audit("withdraw_join", "group", group.id, person=ctx.actor.id)
                return Reply().say(_("You withdrew your request to join {group}.",
                                     group=group.slug))
            raise UserError(_("You are not a member of {group}.", group=group.slug))
        to = _reassignee(ctx, group, ctx.actor, raw_to)
        ctx.session.delete(m)
        ctx.audit("leave", "group", group.id, person=ctx.actor.id)
        reply = Reply(private=False).say(_("{who} left {group}.", who=mention(ctx.actor),
                                           group=group.slug))
        return _open_work_said(ctx, reply, group, ctx.actor, to, "tg leave")


# --- open work left behind by someone leaving a group --------------------------------------




def _reassignee(ctx: Ctx, group: Group, leaving: Person, raw: str | None) -> Person | None:
    """Who takes over the open actions: another member of the group (checked before
    anything is written, so a bad name removes no one)."""
    if raw is None:
        return None
    to = resolve_person(ctx, raw)
    if to.id == leaving.id:
        raise UserError(_("Reassign to someone other than {who}.",
                          who=at_name(leaving.display_name)))
    if membership(ctx.session, group, to) is None:
        raise UserError(
            _("{who} is not a member of {group}: add them first (tg add {group} {who}).",
              who=at_name(to.display_name), group=group.slug)
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
            reply = reply.say(_n("{n} open action in {group} ({ids}) now for {who}.",
                                 "{n} open actions in {group} ({ids}) now for {who}.",
                                 len(moved), group=group.slug, ids=ids, who=mention(to)))
        return reply
    total, labels = open_work(ctx, group, person)
    if total:
        reply = reply.say(_n(
            "{n} open action in {group} still assigned to {who}: {ids}. Give each to someone "
            "else with `action assign <id> @someone`.",
            "{n} open actions in {group} still assigned to {who}: {ids}. Give each to "
            "someone else with `action assign <id> @someone`.",
            total, group=group.slug, who=mention(person), ids=labels_line(total, labels)))
    return reply
