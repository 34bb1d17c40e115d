"""``me``: what the bot knows of you, and the addresses it reaches you at.

``me <contact> <address>`` links an address of a platform without rooms (mail: ``me email
ana@city.eu``) once its owner proves it is theirs: a six-digit code goes to the address,
and ``me <contact> confirm <code>`` links it. Only a hash of the code is kept; it lasts an
hour and five wrong tries. An address an admin had added as a person of its own becomes
this person (``merge_person``). ``me notify chat|<contact>|both`` chooses where personal
messages go, and whether the group posts reach the address too.

The contact words come from the platforms' profiles (``Profile.contact``): the core names
no platform.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.directory import find_identity
from handlers.core.grammar import Args, UserError
from handlers.core.i18n import _, _n
from handlers.core.messages import ChannelRef, Day, File, Post, Reply, Table, text
from handlers.core.params import Values
from handlers.core.reach import BOTH, CHAT, away_until, notify_choice, personal_reach
from handlers.core.roles import ANYONE
from handlers.core.router import Registry
from handlers.people import _settings
from handlers.people._export import export_json
from handlers.people._merge import merge_person
from storage.models import ContactCode, Group, Identity, Membership, Person

CODE_LIFE = dt.timedelta(hours=1)
CODE_TRIES = 5
RESEND_AFTER = dt.timedelta(minutes=1)


def _hash(person_id: int, code: str) -> str:
    return hashlib.sha256(f"{person_id}:{code}".encode()).hexdigest()


def _contact_only(person: Person, roomless: frozenset[str]) -> bool:
    """Known by addresses alone (an admin added them by address): such a person may be
    claimed by whoever proves the address is theirs."""
    return not person.is_admin and all(i.platform in roomless for i in person.identities)


def _where(ctx: Ctx, person: Person) -> str:
    """Where personal messages reach ``person``, in words."""
    pairs = [(i.platform, i.external_id) for i in person.identities]
    targets = personal_reach(pairs, notify_choice(person.settings), ctx.settings.platforms)
    words = {name: word for word, name in ctx.settings.platforms.contacts.items()}
    # TRANSLATORS: where personal messages go ("reach you by chat"): the person's chat.
    places = [f"{words[plat]} ({ext})" if plat in words else _("chat")
              for plat, ext in targets]
    if not places:
        # TRANSLATORS: where personal messages go, when they reach the person nowhere.
        return _("nowhere yet")
    where = places[0]
    for place in places[1:]:
        # TRANSLATORS: two places personal messages go to: "chat and email (ana@city.eu)".
        where = _("{first} and {second}", first=where, second=place)
    return where


def register(reg: Registry) -> None:
    platforms = reg.platforms
    contacts = platforms.contacts  # word -> platform
    reg.noun("me", _("what the bot knows of you, and where it reaches you"),
             common=(*contacts, "notify") if contacts else ())

    @reg.command("me", "", p.spec(), _("what the bot knows of you: groups, roles, addresses, "
                                       "settings"), ANYONE)
    def me_show(ctx: Ctx, _v: Values) -> Reply:
        person = ctx.actor
        heading = (_("You are {name}, an admin.", name=person.display_name) if person.is_admin
                   else _("You are {name}.", name=person.display_name))
        reply = Reply().say(heading, style="heading")
        rows = ctx.session.execute(
            select(Group.slug, Membership.role, Membership.project)
            .join(Membership, Membership.group_id == Group.id)
            .where(Membership.person_id == person.id).order_by(Group.slug)).all()
        if rows:
            headers = (
                # TRANSLATORS: a table's column: a group (its id) you are in.
                _("group"),
                # TRANSLATORS: a table's column: your role in it (chair or member).
                _("role"),
                # TRANSLATORS: a table's column: the project you represent in it.
                _("project"),
            )
            reply = reply.add(Table(headers, tuple(
                ((slug,), (role,), (project or "-",)) for slug, role, project in rows)))
        else:
            reply = reply.say(_("You are in no group yet."))
        words = {name: word for word, name in contacts.items()}
        known = [f"{words.get(i.platform, i.platform)}: {i.external_id}"
                 for i in person.identities]
        reply = reply.say(_("Known as: {accounts}.", accounts="; ".join(known)))
        reply = reply.say(_("Personal messages reach you by {where}.",
                            where=_where(ctx, person)))
        reply = reply.say(_settings.shown(ctx, person))
        back = away_until(person.settings, ctx.now.astimezone(ctx.settings.zone).date())
        if back is not None:
            reply = reply.say(_("Away until {date} (me away off ends it).", date=Day(back)))
        if (person.settings or {}).get("digest") == "off":
            # TRANSLATORS: "off" is the setting's value and "me digest on" a command: keep them.
            reply = reply.say(_("Weekly digests: off (me digest on)."))
        pending = ctx.session.scalar(select(ContactCode).where(
            ContactCode.person_id == person.id, ContactCode.expires_at > ctx.now))
        if pending is not None:
            word = words.get(pending.platform, pending.platform)
            reply = reply.say(_("Waiting for the code sent to {address}: me {contact} confirm "
                                "<code>.", address=pending.external_id, contact=word))
        return reply

    for word, platform in contacts.items():
        _register_contact(reg, word, platform)
    if contacts:
        _register_notify(reg)

    @reg.command("me", "export", p.spec(),
                 _("everything the bot keeps about you, as a JSON file (to you alone)"), ANYONE)
    def me_export(ctx: Ctx, _v: Values) -> Reply:
        person = ctx.actor
        content = export_json(ctx.session, person, ctx.now)
        ctx.audit("export", "person", person.id)
        name = f"taskbot-me-{ctx.now:%Y%m%d}.json"
        # TRANSLATORS: the title of the file of a person's data (me export).
        title = _("Your data")
        return Reply(private=True, secret=True).say(_(
            "Everything the bot keeps about you: your accounts and addresses, groups, "
            "actions, notes, answers, acknowledgements and the audit rows that name you."
        )).add(File(name, "application/json", content, title))

    @reg.command("me", "away", p.spec(AWAY),
                 _("away from <date> to <date> (no nudges meanwhile; your chairs see it), or "
                   "off"),
                 ANYONE)
    def me_away(ctx: Ctx, v: Values) -> Reply:
        window = v[AWAY]
        person = ctx.actor
        settings = dict(person.settings or {})
        if window is None:
            settings.pop("away", None)
            person.settings = settings
            ctx.audit("away", "person", person.id, away="off")
            return Reply().say(_("Not away: nudges come again."))
        first, last = window
        settings["away"] = {"from": first.isoformat(), "to": last.isoformat()}
        person.settings = settings
        ctx.audit("away", "person", person.id, away=f"{first}..{last}")
        return Reply().say(_("Away from {first} to {last}: no nudges meanwhile, and your "
                             "groups' chairs see you as away.", first=Day(first),
                             last=Day(last)))

    switch = p.choice("on", "off", optional=False)

    @reg.command("me", "digest", p.spec(switch),
                 _("your own copy of your groups' weekly digests (by mail): on or off"),
                 ANYONE)
    def me_digest(ctx: Ctx, v: Values) -> Reply:
        chosen = v[switch]
        person = ctx.actor
        person.settings = {**(person.settings or {}), "digest": chosen}
        ctx.audit("digest", "person", person.id, digest=chosen)
        if chosen == "off":
            return Reply().say(_("Your groups' weekly digests no longer come to you on their "
                                 "own (their channels still have them); me digest on brings "
                                 "them back."))
        return Reply().say(_("Your groups' weekly digests come to you again."))


AWAY_MAX = dt.timedelta(days=366)


def _away(ctx: Ctx, args: Args) -> tuple[dt.date, dt.date] | None:
    """``<date> to <date>`` (in the bot's zone), or ``off``."""
    words = args.remaining()
    args.pos = len(args.tokens)
    if [w.lower() for w in words] == ["off"]:
        return None
    lowered = [w.lower() for w in words]
    if "to" not in lowered:
        raise UserError(_("Expected <date> to <date>, or off."))
    cut = lowered.index("to")
    today = ctx.now.astimezone(ctx.settings.zone).date()
    first = parse_date(words[:cut], today) if words[:cut] else today
    if not words[cut + 1:]:
        raise UserError(_("Missing the last day: <date> to <date>."))
    last = parse_date(words[cut + 1:], today)
    if last < first:
        raise UserError(_("{last} is before {first}.", last=Day(last), first=Day(first)))
    if last < today:
        raise UserError(_("{date} is past.", date=Day(last)))
    if last - first > AWAY_MAX:
        raise UserError(_("An absence lasts a year at most."))
    return first, last


AWAY = p.custom("<date> to <date>|off", _away)


def _register_contact(reg: Registry, word: str, platform: str) -> None:
    def read(ctx: Ctx, args: Args) -> tuple[str, str]:
        first = args.next("<address>")
        if first.lower() == "confirm":
            code = args.next("<code>")
            if not (code.isascii() and code.isdigit() and len(code) == 6):
                raise UserError(_("A code is six digits, not {code}.", code=repr(code[:20])))
            return "confirm", code
        syntax = ctx.settings.mentions.own(platform)
        address = syntax.read(first, bare=True) if syntax is not None else None
        if address is None:
            # TRANSLATORS: {contact} is a platform's word, like email.
            raise UserError(_("{address} is not an {contact} address.",
                              address=repr(first[:80]), contact=word))
        return "link", address

    what = p.custom("<address>|confirm <code>", read, rest=False)

    @reg.command("me", word, p.spec(what),
                 # TRANSLATORS: {contact} is a platform's word, like email.
                 _("link an {contact} address to you: a code is sent to it, then confirm it",
                   contact=word),
                 ANYONE)
    def me_contact(ctx: Ctx, v: Values) -> Reply:
        step, value = v[what]
        if step == "confirm":
            return _confirm(ctx, word, platform, value)
        return _send_code(ctx, word, platform, value)


def _send_code(ctx: Ctx, word: str, platform: str, address: str) -> Reply:
    person = ctx.actor
    if any(i.platform == platform and i.external_id == address for i in person.identities):
        return Reply().say(_("{address} is yours already.", address=address))
    owner = find_identity(ctx.session, platform, address)
    if owner is not None and not _contact_only(owner, ctx.settings.platforms.roomless):
        raise UserError(_("{address} belongs to someone else here; ask the secretariat.",
                          address=address), show_usage=False)
    row = ctx.session.scalar(select(ContactCode).where(ContactCode.person_id == person.id))
    if row is not None and ctx.now - row.created_at < RESEND_AFTER:
        raise UserError(_("A code was sent a moment ago; wait a minute before asking for "
                          "another."), show_usage=False)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    if row is None:
        row = ContactCode(person_id=person.id)
        ctx.session.add(row)
    row.platform, row.external_id, row.code_hash = platform, address, _hash(person.id, code)
    row.attempts, row.created_at, row.expires_at = 0, ctx.now, ctx.now + CODE_LIFE
    ctx.audit("contact_code", "person", person.id, platform=platform)
    message = Post("", "", (ChannelRef.direct(platform, address),), (
        text(_("Your Taskbot code"), style="heading"),
        text(code, style="code"),
        text(_("{name} asked to link this address to their Taskbot account. Type me {contact} "
               "confirm {code} where you asked, within an hour. If it was not you, ignore "
               "this: nothing changes.", name=person.display_name, contact=word, code=code)),
    ))
    return Reply().say(_("A code is on its way to {address}. Type me {contact} confirm <code> "
                         "here within an hour.", address=address, contact=word)).post(message)


def _confirm(ctx: Ctx, word: str, platform: str, code: str) -> Reply:
    person = ctx.actor
    row = ctx.session.scalar(select(ContactCode).where(ContactCode.person_id == person.id,
                                                       ContactCode.platform == platform))
    if row is None or row.expires_at <= ctx.now:
        # TRANSLATORS: {contact} is a platform's word, like email.
        raise UserError(_("No {contact} address is waiting for a code; me {contact} <address> "
                          "sends one.", contact=word), show_usage=False)
    if not hmac.compare_digest(row.code_hash, _hash(person.id, code)):
        # the wrong try is kept (the reply is an error, the count is written)
        row.attempts += 1
        if row.attempts >= CODE_TRIES:
            ctx.session.delete(row)
            return Reply(error=True).say(_n(
                "Wrong code, {n} time: that code is void. me {contact} <address> sends a new "
                "one.",
                "Wrong code, {n} times: that code is void. me {contact} <address> sends a new "
                "one.", CODE_TRIES, contact=word))
        return Reply(error=True).say(_n("Wrong code ({n} more try).",
                                        "Wrong code ({n} more tries).",
                                        CODE_TRIES - row.attempts))
    address = row.external_id
    ctx.session.delete(row)
    owner = find_identity(ctx.session, platform, address)
    merged = ""
    if owner is not None and owner.id != person.id:
        if not _contact_only(owner, ctx.settings.platforms.roomless):
            raise UserError(_("{address} belongs to someone else here; ask the secretariat.",
                              address=address), show_usage=False)
        merged = owner.display_name
        merge_person(ctx.session, person, owner)
    elif owner is None:
        ctx.session.add(Identity(person_id=person.id, platform=platform, external_id=address))
    ctx.session.flush()
    ctx.session.refresh(person)
    ctx.audit("link_contact", "person", person.id, platform=platform,
              merged=bool(merged))
    reply = Reply().say(
        _("Linked: {address} is yours (its groups, actions and answers are yours now).",
          address=address) if merged
        else _("Linked: {address} is yours.", address=address))
    return reply.say(_("Personal messages reach you by {where}; me notify {contact} or both "
                       "changes that.", where=_where(ctx, person), contact=word))


def _register_notify(reg: Registry) -> None:
    contacts = reg.platforms.contacts
    choices = (CHAT, *contacts, BOTH)
    which = p.choice(*choices, optional=False)

    @reg.command("me", "notify", p.spec(which),
                 _("where personal messages go (chat, an address, or both); with an address, "
                   "your groups' posts reach it too"), ANYONE)
    def me_notify(ctx: Ctx, v: Values) -> Reply:
        chosen = v[which]
        assert chosen is not None
        person = ctx.actor
        roomless = ctx.settings.platforms.roomless
        has_chat = any(i.platform not in roomless for i in person.identities)
        wanted = [contacts[chosen]] if chosen in contacts else (
            list(contacts.values()) if chosen == BOTH else [])
        if chosen in (CHAT, BOTH) and not has_chat:
            raise UserError(_("You have no chat account here yet, so personal messages can "
                              "only go to your address."), show_usage=False)
        if wanted and not any(i.platform in wanted for i in person.identities):
            word = chosen if chosen in contacts else next(iter(contacts))
            raise UserError(_("Link an address first: me {contact} <address>.",
                              contact=word), show_usage=False)
        stored = contacts.get(chosen, chosen)
        person.settings = {**(person.settings or {}), "notify": stored}
        ctx.audit("notify", "person", person.id, notify=stored)
        return Reply().say(_("Personal messages reach you by {where}.",
                             where=_where(ctx, person)))
