"""``admin``: admins beyond TASKBOT_ADMINS are made (and unmade) by other admins."""

from __future__ import annotations

from sqlalchemy import select

from handlers.core.context import Ctx
from handlers.core.directory import mention
from handlers.core.grammar import Args, Refused, UserError
from handlers.core.messages import Reply, Span
from handlers.core.people import resolve_person
from handlers.core.roles import is_admin
from handlers.core.router import Registry
from storage.models import Person


def _require_admin(ctx: Ctx, what: str) -> None:
    if not is_admin(ctx):
        raise Refused("an admin", what)


def register(reg: Registry) -> None:
    reg.noun("admin", "who administers the bot", common=("list", "add", "remove"))

    # who holds the keys is itself worth guarding: not everyone needs the list of admins
    @reg.command("admin", "list", "", "admins made in chat (TASKBOT_ADMINS come on top)",
                 "admin, secretariat")
    def admin_list(ctx: Ctx, args: Args) -> Reply:
        args.done()
        query = select(Person).where(Person.is_admin).order_by(Person.id)
        people = list(ctx.session.scalars(query))
        if not people:
            return Reply().say("No admins made in chat; TASKBOT_ADMINS names the others.")
        spans: list[Span] = ["Admins: "]
        for i, p in enumerate(people):
            spans.extend([", "] if i else [])
            spans.append(mention(p))
        return Reply().say(*spans)

    @reg.command("admin", "add", "<@user>", "make someone an admin", "admin")
    def admin_add(ctx: Ctx, args: Args) -> Reply:
        raw = args.next("<@user>")
        args.done()
        _require_admin(ctx, "admin add")
        person = resolve_person(ctx, raw)
        if person.is_admin:
            return Reply().say(mention(person), " is an admin already.")
        person.is_admin = True
        ctx.audit("grant_admin", "person", person.id)
        return Reply().say(mention(person), " is now an admin.")

    @reg.command("admin", "remove", "<@user>", "take admin rights away", "admin")
    def admin_remove(ctx: Ctx, args: Args) -> Reply:
        raw = args.next("<@user>")
        args.done()
        _require_admin(ctx, "admin remove")
        person = resolve_person(ctx, raw)
        if not person.is_admin:
            raise UserError(f"{person.display_name} is not an admin made in chat.")
        person.is_admin = False
        ctx.audit("revoke_admin", "person", person.id)
        return Reply().say(mention(person), " is no longer an admin.")
