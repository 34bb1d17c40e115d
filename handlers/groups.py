"""``tg``: the task groups, their channels, members and the projects they represent."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from handlers.actions import OPEN_WORK_SHOWN, action_label, hand_over, labels_line, open_work
from handlers.context import Ctx
from handlers.directory import (
    all_groups,
    find_group,
    group_or_channel,
    membership,
    mention,
    resolve_user,
    take_group,
)
from handlers.grammar import Args, Refused, UserError, check_length
from handlers.messages import Reply, Span, Table, When
from handlers.roles import ROLE_GROUPS, grants_role, require_chair, require_staff, staff
from handlers.router import Registry
from storage.models import (
    NAME_MAX,
    PROJECT_MAX,
    SLUG_MAX,
    Action,
    Channel,
    Group,
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


def register(reg: Registry) -> None:
    reg.noun("tg", "task groups: channels, members, projects and roles")

    @reg.command("tg", "list", "", "groups: channels, chair, members, next meeting, open actions")
    def tg_list(ctx: Ctx, args: Args) -> Reply:
        args.done()
        counts = open_action_counts(ctx)
        rows = []
        for g in all_groups(ctx.session):
            rows.append(
                (
                    (g.slug,),
                    (g.name,),
                    (", ".join(channel_label(c) for c in g.channels) or "-",),
                    chairs_of(g),
                    (str(len(g.memberships)),),
                    next_meeting_span(ctx, g),
                    (str(counts.get(g.id, 0)),),
                )
            )
        reply = Reply()
        if not rows:
            return reply.say("No groups yet. An admin can create one with tg create.")
        headers = ("group", "name", "channels", "chair", "members", "next meeting", "open")
        return reply.add(Table(headers, tuple(rows)))

    @reg.command("tg", "show", "[<group>]", "one group in full")
    def tg_show(ctx: Ctx, args: Args) -> Reply:
        group = group_or_channel(ctx, take_group(ctx, args, optional=True))
        args.done()
        reply = Reply()
        reply.say(f"{group.name} ({group.slug})", style="heading")
        if group.mandate:
            reply.say(group.mandate, style="quote")
        reply.say(
            "Channels: ", ", ".join(channel_label(c) for c in group.channels) or "none linked"
        )
        reply.say("Next meeting: ", *next_meeting_span(ctx, group))
        if group.series is not None:
            s = group.series
            reply.say(
                f"Series: {s.rule_text} at {s.start_time:%H:%M} {s.timezone}, "
                f"reminders {s.remind_offsets}" + (f", link {s.link}" if s.link else "")
            )
        reply.say(f"Open actions: {open_action_counts(ctx).get(group.id, 0)}")
        if group.memberships:
            rows = tuple(
                ((mention(m.person),), (m.role,), (m.project or "-",))
                for m in sorted(group.memberships, key=lambda m: (m.role != "chair", m.id))
            )
            reply.add(Table(("member", "role", "project"), rows))
        else:
            reply.say("No members yet.")
        return reply

    @reg.command("tg", "create", "<group> <name...>", "a new group", "admin, secretariat")
    def tg_create(ctx: Ctx, args: Args) -> Reply:
        slug = args.next("<group>").lower()
        name = check_length(args.rest_text("<name...>"), NAME_MAX, "name")
        require_staff(ctx, "tg create")
        if not SLUG.match(slug):
            raise UserError(
                f"{slug!r} is not a valid group id: lowercase letters, digits and '-', "
                f"starting with a letter, 2 to {SLUG_MAX} characters."
            )
        if find_group(ctx.session, slug) or find_group(ctx.session, name):
            raise UserError(f"A group named {slug!r} or {name!r} exists already.")
        group = Group(slug=slug, name=name, mandate="", restricted=slug in ROLE_GROUPS,
                      created_at=ctx.now_naive)
        ctx.session.add(group)
        ctx.session.flush()
        ctx.audit("create", "group", group.id, slug=slug, name=name)
        return Reply(private=False).say(f"Created group {slug}: {name}.")

    @reg.command(
        "tg", "link", "<group>", "bind this channel or room to the group",
        "admin, secretariat, chair",
    )
    def tg_link(ctx: Ctx, args: Args) -> Reply:
        group = take_group(ctx, args)
        assert group is not None
        args.done()
        require_chair(ctx, group, "tg link")
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
            created_at=ctx.now_naive,
        )
        ctx.session.add(ch)
        ctx.session.flush()
        ctx.audit("link", "group", group.id, platform=ctx.platform, channel=ctx.channel_id)
        return Reply(private=False).say(f"This channel is now linked to {group.name}.")

    @reg.command(
        "tg", "settings", "[<group>] [<setting> <value...>]",
        "show or change what is scheduled for a group (reminders, nudges, digest, ...)",
        "anyone reads; admin, secretariat, chair change",
    )
    def tg_settings(ctx: Ctx, args: Args) -> Reply:
        from handlers.membership_sync import FOLLOW
        from handlers.schedules import DEFAULTS, SETTING_HELP, setting, validate_setting

        group = group_or_channel(ctx, take_group(ctx, args, optional=True))
        if args.empty():
            rows = tuple(
                ((key,), (setting(group, key),), (SETTING_HELP[key],)) for key in DEFAULTS
            )
            reply = Reply().say(f"Settings of {group.slug}", style="heading")
            return reply.add(Table(("setting", "value", "values"), rows))
        key = args.next("<setting>").lower()
        value = validate_setting(key, args.rest_text("<value>"))
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
            group.series.next_reminder_at = ctx.now_naive  # planned afresh from now
        ctx.audit("settings", "group", group.id, key=key, old=old, new=value)
        return Reply(private=False).say(f"{group.slug}: {key} is now {value} (was {old}).")

    @reg.command("tg", "unlink", "", "unbind this channel or room", "admin, secretariat, chair")
    def tg_unlink(ctx: Ctx, args: Args) -> Reply:
        args.done()
        group = ctx.channel_group
        if group is None:
            raise UserError("This channel is not linked to a group.")
        require_chair(ctx, group, "tg unlink")
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
        "tg", "add", "<group> <@user> [project <name...>] [as chair|member]",
        "add or update a member, with the project they represent",
        "admin, secretariat, chair",
    )
    def tg_add(ctx: Ctx, args: Args) -> Reply:
        group = take_group(ctx, args)
        assert group is not None
        raw_user = args.next("<@user>")
        role: str | None = None
        project: str | None = None
        # [project <name...>] [as chair|member], in either order
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
        args.done()
        require_chair(ctx, group, "tg add")
        person = resolve_user(ctx, raw_user, create=True)
        m = membership(ctx.session, group, person)
        if m is None:
            m = Membership(
                group=group, person=person, role=role or "member", project=project,
                created_at=ctx.now_naive,
            )
            ctx.session.add(m)
            verb = "Added"
        else:
            if role:
                m.role = role
            if project is not None:
                m.project = project
            verb = "Updated"
        ctx.session.flush()
        ctx.audit(
            "add_member", "group", group.id, person=person.id, role=m.role, project=m.project
        )
        return Reply(private=False).say(
            f"{verb} ", mention(person), f" in {group.slug} as {m.role}"
            + (f", representing {m.project}" if m.project else "") + "."
        )

    @reg.command(
        "tg", "remove", "<group> <@user> [reassign <@user>]",
        "remove a member; reassign: their open actions in the group go to that member",
        "admin, secretariat, chair",
    )
    def tg_remove(ctx: Ctx, args: Args) -> Reply:
        group = take_group(ctx, args)
        assert group is not None
        raw_user = args.next("<@user>")
        raw_to = _take_reassign(args)
        args.done()
        require_chair(ctx, group, "tg remove")
        person = resolve_user(ctx, raw_user)
        m = membership(ctx.session, group, person)
        if m is None:
            raise UserError(f"{person.display_name} is not a member of {group.slug}.")
        to = _reassignee(ctx, group, person, raw_to)
        ctx.session.delete(m)
        ctx.audit("remove_member", "group", group.id, person=person.id)
        reply = Reply(private=False).say("Removed ", mention(person), f" from {group.slug}.")
        return _open_work_said(ctx, reply, group, person, to, "tg remove")

    @reg.command(
        "tg", "join", "<group>", "join a group as a member",
        "anyone (open groups; boc and secretariat only by tg add)",
    )
    def tg_join(ctx: Ctx, args: Args) -> Reply:
        group = take_group(ctx, args)
        assert group is not None
        args.done()
        if grants_role(group):
            # for everyone, staff included: a role is given by someone, on purpose
            raise UserError(
                f"{group.slug} is joined only by being added: its membership is a role. "
                "Ask the secretariat or an admin (tg add)."
            )
        if group.restricted and not staff(ctx):
            raise Refused(
                "the secretariat or an admin (with tg add)", f"adding members to {group.slug}"
            )
        if membership(ctx.session, group, ctx.actor) is not None:
            return Reply().say(f"You are already a member of {group.slug}.")
        ctx.session.add(
            Membership(group=group, person=ctx.actor, role="member", created_at=ctx.now_naive)
        )
        ctx.session.flush()
        ctx.audit("join", "group", group.id, person=ctx.actor.id)
        return Reply(private=False).say(mention(ctx.actor), f" joined {group.slug}.")

    @reg.command(
        "tg", "leave", "<group> [reassign <@user>]",
        "leave a group; reassign: your open actions in it go to that member", "members",
    )
    def tg_leave(ctx: Ctx, args: Args) -> Reply:
        group = take_group(ctx, args)
        assert group is not None
        raw_to = _take_reassign(args)
        args.done()
        m = membership(ctx.session, group, ctx.actor)
        if m is None:
            raise UserError(f"You are not a member of {group.slug}.")
        to = _reassignee(ctx, group, ctx.actor, raw_to)
        ctx.session.delete(m)
        ctx.audit("leave", "group", group.id, person=ctx.actor.id)
        reply = Reply(private=False).say(mention(ctx.actor), f" left {group.slug}.")
        return _open_work_said(ctx, reply, group, ctx.actor, to, "tg leave")


# --- open work left behind by someone leaving a group --------------------------------------


def _take_reassign(args: Args) -> str | None:
    """The ``<@user>`` of a trailing ``reassign <@user>``, if one is given."""
    if args.accept("reassign") is None:
        return None
    return args.next("<@user> after reassign")


def _reassignee(ctx: Ctx, group: Group, leaving: Person, raw: str | None) -> Person | None:
    """Who takes over the open actions: another member of the group (checked before
    anything is written, so a bad name removes no one)."""
    if raw is None:
        return None
    to = resolve_user(ctx, raw)
    if to.id == leaving.id:
        raise UserError(f"Reassign to someone other than @{leaving.display_name}.")
    if membership(ctx.session, group, to) is None:
        raise UserError(
            f"@{to.display_name} is not a member of {group.slug}: add them first "
            f"(tg add {group.slug} @{to.display_name})."
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
            reply.say(f"{n} open action{'s' if n != 1 else ''} in {group.slug} "
                      f"({ids}) now for ", mention(to), ".")
        return reply
    total, labels = open_work(ctx, group, person)
    if total:
        reply.say(
            f"{total} open action{'s' if total != 1 else ''} in {group.slug} still "
            f"assigned to ", mention(person), f": {labels_line(total, labels)}. "
            "Give each to someone else with `action assign <id> @someone`."
        )
    return reply
