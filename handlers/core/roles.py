"""Roles come from membership: boc and secretariat groups, chairs, and admins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from handlers.core.context import Ctx
from handlers.core.grammar import Args, Refused, UserError
from handlers.core.i18n import _
from handlers.core.params import Spec
from storage.models import Group, Membership

BOC = "boc"
SECRETARIAT = "secretariat"
# The groups whose membership is a role. They are joined only by being added (``tg add`` by
# someone allowed to, or a governance file's ``members``): never by ``tg join``, a followed
# channel or any flag or setting, since one stored value would otherwise hand out the role.
ROLE_GROUPS = frozenset({BOC, SECRETARIAT})


def grants_role(group: Group) -> bool:
    """Whether membership of ``group`` is a role (decided by the slug, never by a flag)."""
    return group.slug in ROLE_GROUPS


def is_admin(ctx: Ctx) -> bool:
    if ctx.actor.is_admin:
        return True
    admins = ctx.settings.admins
    return any(
        i.external_id in admins or f"{i.platform}:{i.external_id}" in admins
        for i in ctx.actor.identities
    )


# Built once (role checks run in most commands): see handlers.context.
_MEMBER_OF_SLUG = (
    select(Membership.id).join(Group)
    .where(Group.slug == bindparam("slug"), Membership.person_id == bindparam("person_id"))
)
_ROLE_IN = select(Membership.role).where(
    Membership.group_id == bindparam("group_id"), Membership.person_id == bindparam("person_id")
)


def _member_of_slug(ctx: Ctx, slug: str) -> bool:
    found = ctx.session.scalar(_MEMBER_OF_SLUG, {"slug": slug, "person_id": ctx.actor.id})
    return found is not None


def is_secretariat(ctx: Ctx) -> bool:
    return _member_of_slug(ctx, SECRETARIAT)


def is_boc(ctx: Ctx) -> bool:
    return _member_of_slug(ctx, BOC)


def role_in(ctx: Ctx, group: Group) -> str | None:
    """``chair``, ``member`` or None."""
    role: str | None = ctx.session.scalar(
        _ROLE_IN, {"group_id": group.id, "person_id": ctx.actor.id})
    return role


def is_chair(ctx: Ctx, group: Group) -> bool:
    return role_in(ctx, group) == "chair"


def is_member(ctx: Ctx, group: Group) -> bool:
    return role_in(ctx, group) is not None


def staff(ctx: Ctx) -> bool:
    """Admin or secretariat: the people who may act on any group."""
    return is_admin(ctx) or is_secretariat(ctx)


def chair_and_up(ctx: Ctx, group: Group | None) -> bool:
    return staff(ctx) or (group is not None and is_chair(ctx, group))


def require_staff(ctx: Ctx, what: str) -> None:
    if not staff(ctx):
        raise Refused(_("an admin or the secretariat"), what)


def require_chair(ctx: Ctx, group: Group, what: str) -> None:
    if not chair_and_up(ctx, group):
        raise Refused(_("a chair of {group}, the secretariat or an admin", group=group.slug),
                      what)


def require_member(ctx: Ctx, group: Group, what: str) -> None:
    if not (is_member(ctx, group) or staff(ctx)):
        raise Refused(_("a member of {group} (or the secretariat)", group=group.slug), what)


# --- permission policies, declared with each command and checked by the router before the
# line is parsed (handlers.core.router): a guard raises Refused and never writes

Guard = Callable[[Ctx, Args], None]

ANYONE_LEVEL, STAFF_LEVEL, ADMIN_LEVEL, BOC_LEVEL, CHAIR_LEVEL = (
    "anyone", "staff", "admin", "boc", "chair")


@dataclass(frozen=True)
class Policy:
    """Who may run a command, declared with it: ``who`` is what help shows, ``level`` the
    check the router makes before the line is parsed. ``anyone`` leaves the check to the
    handler, after a cheap lookup, where it depends on what the command finds (an action's
    assignees, a meeting's chairs): ``guard`` may then do it first instead."""

    who: str
    level: str = ANYONE_LEVEL
    guard: Guard | None = None

    def said(self, who: str) -> Policy:
        """The same check, described in other words."""
        return Policy(who, self.level, self.guard)

    def check(self, spec: Spec, what: str) -> Guard | None:
        if self.guard is not None:
            return self.guard
        if self.level == STAFF_LEVEL:
            return lambda ctx, _args: require_staff(ctx, what)
        if self.level == ADMIN_LEVEL:
            def admin_only(ctx: Ctx, _args: Args) -> None:
                if not is_admin(ctx):
                    raise Refused(_("an admin"), what)
            return admin_only
        if self.level == BOC_LEVEL:
            def boc_or_staff(ctx: Ctx, _args: Args) -> None:
                if not (is_boc(ctx) or staff(ctx)):
                    raise Refused(_("a BoC member, the secretariat or an admin"), what)
            return boc_or_staff
        if self.level == CHAIR_LEVEL:
            param = spec.group_param

            def chair(ctx: Ctx, args: Args) -> None:
                if staff(ctx):
                    return
                if param is None:
                    group = ctx.channel_group if not spec.params else None
                else:
                    assert param.read is not None
                    try:
                        found = param.read(ctx, args)
                    except UserError:
                        return  # the handler's parse says what is wrong with the line
                    group = found if isinstance(found, Group) else ctx.channel_group
                if group is not None:
                    require_chair(ctx, group, what)
            return chair
        return None


# TRANSLATORS: who may run a command, in the "who" column of help.
ANYONE = Policy(_("anyone"))
# TRANSLATORS: who may run a command, in the "who" column of help.
MEMBERS = Policy(_("members"))
# TRANSLATORS: who may run a command, in the "who" column of help.
STAFF = Policy(_("admin, secretariat"), STAFF_LEVEL)
# TRANSLATORS: who may run a command, in the "who" column of help.
ADMIN = Policy(_("admin"), ADMIN_LEVEL)
# TRANSLATORS: who may run a command, in the "who" column of help.
BOC_AND_STAFF = Policy(_("BoC members, secretariat, admin"), BOC_LEVEL)
# TRANSLATORS: who may run a command, in the "who" column of help.
CHAIR_AND_UP = Policy(_("admin, secretariat, chair"), CHAIR_LEVEL)
