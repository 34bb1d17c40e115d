"""``admin``: admins beyond TASKBOT_ADMINS are made (and unmade) by other admins."""

from __future__ import annotations

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import mention
from handlers.core.grammar import UserError
from handlers.core.messages import Reply, Span
from handlers.core.params import Values
from handlers.core.roles import ADMIN, STAFF
from handlers.core.router import Registry
from storage.models import Person

USER = p.person()


def register(reg: Registry) -> None:
    reg.noun("admin", "who administers the bot", common=("list", "add", "remove"))

    # who holds the keys is itself worth guarding: not everyone needs the list of admins
    @reg.command("admin", "list", p.spec(), "admins made in chat (TASKBOT_ADMINS come on top)",
                 STAFF)
    def admin_list(ctx: Ctx, _v: Values) -> Reply:
        query = select(Person).where(Person.is_admin).order_by(Person.id)
        people = list(ctx.session.scalars(query))
        if not people:
            return Reply().say("No admins made in chat; TASKBOT_ADMINS names the others.")
        spans: list[Span] = ["Admins: "]
        for i, person in enumerate(people):
            spans.extend([", "] if i else [])
            spans.append(mention(person))
        return Reply().say(*spans)

    @reg.command("admin", "add", p.spec(USER), "make someone an admin", ADMIN)
    def admin_add(ctx: Ctx, v: Values) -> Reply:
        person = v[USER]
        if person.is_admin:
            return Reply().say(mention(person), " is an admin already.")
        person.is_admin = True
        ctx.audit("grant_admin", "person", person.id)
        return Reply().say(mention(person), " is now an admin.")

    @reg.command("admin", "remove", p.spec(USER), "take admin rights away", ADMIN)
    def admin_remove(ctx: Ctx, v: Values) -> Reply:
        person = v[USER]
        if not person.is_admin:
            raise UserError(f"{person.display_name} is not an admin made in chat.")
        person.is_admin = False
        ctx.audit("revoke_admin", "person", person.id)
        return Reply().say(mention(person), " is no longer an admin.")
