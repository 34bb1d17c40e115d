"""``admin``: admins beyond TASKBOT_ADMINS are made (and unmade) by other admins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import SYSTEM_PLATFORM, mention
from handlers.core.grammar import UserError
from handlers.core.messages import Reply, Span
from handlers.core.params import Values
from handlers.core.roles import ADMIN, STAFF
from handlers.core.router import Registry
from handlers.people import forget_person, pseudonym
from storage import kv
from storage.models import Person

USER = p.person()
CONFIRM = p.choice("confirm")
FORGET_WINDOW = dt.timedelta(minutes=10)


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

    @reg.command("admin", "forget", p.spec(USER, CONFIRM),
                 "erase a person (their data rights): accounts and addresses deleted, their "
                 "name replaced in every record by a pseudonym; then confirm", STAFF)
    def admin_forget(ctx: Ctx, v: Values) -> Reply:
        person, confirmed = v[USER], v[CONFIRM] is not None
        if person.id == ctx.actor.id:
            raise UserError("You cannot erase yourself: another admin or the secretariat "
                            "must.", show_usage=False)
        if person.identities and all(i.platform == SYSTEM_PLATFORM for i in person.identities):
            raise UserError("That is the bot itself.", show_usage=False)
        key = f"forget:{ctx.actor.id}:{person.id}"
        asked = kv.get(ctx.session, key)
        if not confirmed:
            kv.put(ctx.session, key, (ctx.now + FORGET_WINDOW).isoformat())
            return Reply(secret=True).say(
                f"This erases {person.display_name}: their accounts and addresses, groups, "
                "feed links and settings are deleted, and every record that names them (actions, "
                "notes, minutes, decisions, the audit log) names "
                f"{pseudonym(person.id)} instead. It cannot be undone. To do it, type "
                "the same command with confirm at the end within 10 minutes.")
        if asked is None or dt.datetime.fromisoformat(asked) < ctx.now:
            raise UserError("Ask first (without confirm), then confirm within 10 minutes.",
                            show_usage=False)
        kv.drop(ctx.session, key)
        changed = forget_person(ctx.session, person, ctx.settings.mentions)
        ctx.audit("forget", "person", person.id, records=changed)
        return Reply(secret=True).say(
            f"Erased: {pseudonym(person.id)} stands in their place in {changed} record"
            f"{'s' if changed != 1 else ''}; nothing left names them.")

    @reg.command("admin", "remove", p.spec(USER), "take admin rights away", ADMIN)
    def admin_remove(ctx: Ctx, v: Values) -> Reply:
        person = v[USER]
        if not person.is_admin:
            raise UserError(f"{person.display_name} is not an admin made in chat.")
        person.is_admin = False
        ctx.audit("revoke_admin", "person", person.id)
        return Reply().say(mention(person), " is no longer an admin.")
