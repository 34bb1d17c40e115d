"""Who a ``<@user>`` argument names: the one resolver behind every command that takes one.

The core knows no platform's mention syntax. Each adapter registers how its people are
written (a :class:`MentionSyntax`: its patterns, whether the platform vouches for the ids,
whether the syntax is read on other platforms too) and the composition root hands the
table in through :class:`~handlers.context.CoreSettings`. So one spelling, typed on one
platform, names the same person, or gets the same refusal, in every command.

What makes a person known:

- an identity already in the store: anyone who has used the bot, was added to a group or
  was named in a governance file, whatever platform the mention was typed on;
- an id in the syntax of the platform it is typed on, where that platform vouches for its
  ids (its client writes the mention from a real account): created on first mention;
- a typed name on a platform that does not vouch for names (a terminal) only where the
  command exists to bring people in (``tg add``): elsewhere an unseen name is a typo;
- a portable id (a mail address), typed on any platform, where the command brings people
  in (``tg add``).

Any other id of another platform is never created from here: only its own platform vouches
for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.core.context import Ctx
from handlers.core.directory import ensure_person, person_by_identity
from handlers.core.grammar import UserError
from handlers.core.i18n import _
from storage.models import Person


def is_person(ctx: Ctx, raw: str) -> bool:
    """Whether a word in a mixed position (titles, options) is meant as a person."""
    return ctx.settings.mentions.attempted(raw, ctx.platform)


def resolve_person(ctx: Ctx, raw: str, *, create: bool = False) -> Person:
    """A ``<@user>`` argument as a person, or one line saying why it names no one.

    ``create`` (``tg add``) brings in a name typed on this platform that was never seen;
    an id the platform vouches for is created anyway. Nothing else creates anyone.
    """
    rules = ctx.settings.mentions
    ref = rules.read(raw, ctx.platform, bare=True)
    if ref is None:
        raise UserError(_("{raw} is not a user (mention them, like @name).", raw=repr(raw)))
    if ref in {(i.platform, i.external_id) for i in ctx.actor.identities}:
        return ctx.actor  # "@me" is common, and the actor is loaded already
    person = person_by_identity(ctx.session, *ref)
    if person is not None:
        return person
    platform, external_id = ref
    if ((platform == ctx.platform and (create or rules.vouched(platform, ctx.platform)))
            or (create and rules.portable(platform))):
        return ensure_person(ctx.session, platform, external_id,
                             rules.shown(platform, external_id))
    if platform != ctx.platform:
        raise UserError(_("Unknown user {user}: no one with that id has used the bot yet.",
                          user=raw))
    raise UserError(_(
        "Unknown user {user}: no one by that name has been seen here; "
        "add them to a group first with tg add.", user=raw))


def resolve_people(ctx: Ctx, raws: Sequence[str]) -> list[Person]:
    """:func:`resolve_person` for each, each person once, in the order named."""
    people: list[Person] = []
    for raw in raws:
        person = resolve_person(ctx, raw)
        if all(p.id != person.id for p in people):
            people.append(person)
    return people
