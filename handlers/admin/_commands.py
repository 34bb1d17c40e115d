"""``admin``: admins beyond TASKBOT_ADMINS are made (and unmade) by other admins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import SYSTEM_PLATFORM, mention
from handlers.core.grammar import UserError
from handlers.core.i18n import _, _n
from handlers.core.messages import Reply
from handlers.core.params import Values
from handlers.core.roles import ADMIN, STAFF
from handlers.core.router import Registry
from handlers.groups import mention_list
from handlers.people import forget_person, pseudonym
from storage import kv
from storage.models import Person

USER = p.person()
CONFIRM = p.choice("confirm")
FORGET_WINDOW = dt.timedelta(minutes=10)


def register(reg: Registry) -> None:
    reg.noun("admin", _("who administers the bot"), common=("list", "add", "remove"))

    # who holds the keys is itself worth guarding: not everyone needs the list of admins
    @reg.command("admin", "list", p.spec(),
                 _("admins made in chat (TASKBOT_ADMINS come on top)"), STAFF)
    def admin_list(ctx: Ctx, _v: Values) -> Reply:
        query = select(Person).where(Person.is_admin).order_by(Person.id)
        people = list(ctx.session.scalars(query))
        if not people:
            return Reply().say(_("No admins made in chat; TASKBOT_ADMINS names the others."))
        return Reply().say(_("Admins: {people}", people=mention_list(people)))

    @reg.command("admin", "add", p.spec(USER), _("make someone an admin"), ADMIN)
    def admin_add(ctx: Ctx, v: Values) -> Reply:
        person = v[USER]
        if person.is_admin:
            return Reply().say(_("{who} is an admin already.", who=mention(person)))
        person.is_admin = True
        ctx.audit("grant_admin", "person", person.id)
        return Reply().say(_("{who} is now an admin.", who=mention(person)))

    @reg.command("admin", "forget", p.spec(USER, CONFIRM),
                 _("erase a person (their data rights): accounts and addresses deleted, their "
                   "name replaced in every record by a pseudonym; then confirm"), STAFF)
    def admin_forget(ctx: Ctx, v: Values) -> Reply:
        person, confirmed = v[USER], v[CONFIRM] is not None
        if person.id == ctx.actor.id:
            raise UserError(_("You cannot erase yourself: another admin or the secretariat "
                              "must."), show_usage=False)
        if person.identities and all(i.platform == SYSTEM_PLATFORM for i in person.identities):
            raise UserError(_("That is the bot itself."), show_usage=False)
        key = f"forget:{ctx.actor.id}:{person.id}"
        asked = kv.get(ctx.session, key)
        if not confirmed:
            kv.put(ctx.session, key, (ctx.now + FORGET_WINDOW).isoformat())
            # TRANSLATORS: {pseudonym} is the name records will show (former member #12);
            # confirm is a word to type as is.
            return Reply(secret=True).say(_(
                "This erases {who}: their accounts and addresses, groups, feed links and "
                "settings are deleted, and every record that names them (actions, notes, "
                "minutes, decisions, the audit log) names {pseudonym} instead. It cannot be "
                "undone. To do it, type the same command with confirm at the end within 10 "
                "minutes.", who=person.display_name, pseudonym=pseudonym(person.id)))
        if asked is None or dt.datetime.fromisoformat(asked) < ctx.now:
            raise UserError(_("Ask first (without confirm), then confirm within 10 minutes."),
                            show_usage=False)
        kv.drop(ctx.session, key)
        changed = forget_person(ctx.session, person, ctx.settings.mentions)
        ctx.audit("forget", "person", person.id, records=changed)
        return Reply(secret=True).say(_n(
            "Erased: {pseudonym} stands in their place in {n} record; nothing left names them.",
            "Erased: {pseudonym} stands in their place in {n} records; nothing left names "
            "them.", changed, pseudonym=pseudonym(person.id)))

    @reg.command("admin", "remove", p.spec(USER), _("take admin rights away"), ADMIN)
    def admin_remove(ctx: Ctx, v: Values) -> Reply:
        person = v[USER]
        if not person.is_admin:
            raise UserError(_("{who} is not an admin made in chat.", who=person.display_name))
        person.is_admin = False
        ctx.audit("revoke_admin", "person", person.id)
        return Reply().say(_("{who} is no longer an admin.", who=mention(person)))
