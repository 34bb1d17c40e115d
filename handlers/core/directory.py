"""Finding people and groups from what users type."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from handlers.core.context import Ctx, utc_now
from handlers.core.grammar import Args, UserError
from handlers.core.i18n import _
from handlers.core.messages import Mention
from storage.models import NAME_MAX, SLUG_MAX, Group, Identity, Membership, Person


def find_identity(session: Session, platform: str, external_id: str) -> Person | None:
    return session.scalar(
        select(Person)
        .join(Identity)
        .where(Identity.platform == platform, Identity.external_id == external_id)
    )


# Built once: constructing the statement on every command cost more than running it.
# (person, identity) pairs, one per identity of the person who has this one: the same
# select as ``joinedload(Person.identities)``, without the eager loader's per-execution
# set-up, which cost twice the query itself.
_PERSON_BY_IDENTITY = (
    select(Person, Identity)
    .join(Identity, Identity.person_id == Person.id)
    .where(
        Person.id
        == select(Identity.person_id)
        .where(
            Identity.platform == bindparam("platform"),
            Identity.external_id == bindparam("external_id"),
        )
        .scalar_subquery()
    )
    .order_by(Identity.id)
)


def person_by_identity(session: Session, platform: str, external_id: str) -> Person | None:
    """:func:`find_identity` with the person's identities loaded in the same select (runs
    before every command: role checks and mentions read them)."""
    rows = session.execute(
        _PERSON_BY_IDENTITY, {"platform": platform, "external_id": external_id}).all()
    if not rows:
        return None
    person: Person = rows[0][0]
    set_committed_value(person, "identities", [identity for _, identity in rows])
    return person


def ensure_person(
    session: Session, platform: str, external_id: str, display_name: str | None = None
) -> Person:
    """The person behind a platform id, created on first sight.

    Runs before every command, so it is one indexed select that also loads the person's
    identities (role checks and mentions read them) instead of a lazy load later.
    """
    person = person_by_identity(session, platform, external_id)
    if person is None:
        name = (display_name or external_id)[:NAME_MAX]
        person = Person(display_name=name, created_at=utc_now())
        person.identities.append(Identity(platform=platform, external_id=external_id))
        session.add(person)
        session.flush()
    elif display_name and display_name != person.display_name and display_name != external_id:
        person.display_name = display_name[:NAME_MAX]
    return person


# the bot's own person row: the actor of the work it does on a schedule, so what that work
# reads or writes names a real person (never an admin, never typed by anyone: no platform
# reads mentions of "system")
SYSTEM_PLATFORM = "system"
SYSTEM_ID = "taskbot"


def system_person(session: Session) -> Person:
    """The bot's own person, made on first need. Several processes may need it first at
    the same moment (each ticking past a proposal's deadline): the insert that loses fails
    inside a savepoint, and the row the winner committed is read instead."""
    person = person_by_identity(session, SYSTEM_PLATFORM, SYSTEM_ID)
    if person is not None:
        return person
    try:
        with session.begin_nested():
            return ensure_person(session, SYSTEM_PLATFORM, SYSTEM_ID, "Taskbot")
    except IntegrityError:
        return ensure_person(session, SYSTEM_PLATFORM, SYSTEM_ID, "Taskbot")


def mention(person: Person) -> Mention:
    return Mention(
        person.id,
        person.display_name,
        tuple((i.platform, i.external_id) for i in person.identities),
    )


def all_groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.id)))


def find_group(session: Session, name: str) -> Group | None:
    key = name.strip().lower()
    if not key:
        return None
    return session.scalar(
        select(Group).where((Group.slug == key) | (func.lower(Group.name) == key))
    )


def take_group(ctx: Ctx, args: Args, *, optional: bool = False) -> Group | None:
    """Consume a group slug or full name (the longest run of tokens that names one).

    With ``optional`` and no group named, the group bound to the current channel is used.
    """
    toks = args.remaining()
    # no name is longer than NAME_MAX: a long line costs one lookup per word that fits,
    # not one per word of the line
    longest, length = 0, -1
    for tok in toks:
        length += len(tok) + 1
        if length > max(NAME_MAX, SLUG_MAX):
            break
        longest += 1
    for n in range(longest, 0, -1):
        candidate = " ".join(toks[:n])
        group = find_group(ctx.session, candidate)
        if group is not None:
            args.pos += n
            return group
    if optional:
        return None
    if not toks:
        raise UserError(_("Missing {what}.", what="<group>"))
    raise UserError(_("Unknown group {group}. `tg list` shows the groups.",
                      group=repr(toks[0])))


def optional_group(ctx: Ctx, args: Args) -> Group | None:
    """A group if the next words name one, None if nothing is left; a word left that names
    no group is reported as an unknown group (not as an unexpected word)."""
    group = take_group(ctx, args, optional=True)
    if group is None and not args.empty():
        take_group(ctx, args)
    return group


def group_or_channel(ctx: Ctx, group: Group | None) -> Group:
    if group is not None:
        return group
    bound = ctx.channel_group
    if bound is None:
        raise UserError(_("Name a group: this channel is not linked to one."))
    return bound


def membership(session: Session, group: Group, person: Person) -> Membership | None:
    return session.scalar(
        select(Membership).where(
            Membership.group_id == group.id, Membership.person_id == person.id
        )
    )
