"""A person's own page (the Slack Home tab, and any platform's like it): their open
actions, their groups' next meetings, the recent decisions.

Built from the same functions the commands answer with, in one unit of work
(``Router.view``), so the page says what ``action list mine``, ``meeting next <group>`` and
``decision list`` would, without running those commands as text.
"""

from __future__ import annotations

from handlers.actions import open_list
from handlers.core.context import Ctx
from handlers.core.i18n import _, localize, text_of
from handlers.core.messages import Block, Text
from handlers.core.readers import person_reader
from handlers.decisions import register_of
from handlers.meetings import next_of

MEETINGS_SHOWN = 10  # groups whose next meeting the page shows

Section = tuple[str, list[Block]]


def home(ctx: Ctx, prefix: str = "") -> list[Section]:
    """The page's sections, titled; ``prefix``: how the platform spells commands."""
    # TRANSLATORS: whose open actions a list shows ("Open actions for you").
    mine = open_list(ctx, group_id=None, person_id=ctx.actor.id, scope=_("for you"))
    groups = sorted((m.group for m in ctx.actor.memberships if m.group.archived_at is None),
                    key=lambda g: g.slug)
    meetings: list[Block] = []
    for group in groups[:MEETINGS_SHOWN]:
        if group.series is not None:  # a group with no schedule has nothing to show
            meetings.extend(next_of(ctx, group).blocks)
    if not groups:
        # TRANSLATORS: {prefix} is how the platform starts a command (/ on Slack), or nothing.
        meetings.append(Text((_("You are in no group yet: {prefix}tg list shows them, "
                                "{prefix}tg join <group> joins one.", prefix=prefix),)))
    elif not meetings:
        meetings.append(Text((_("No meetings scheduled for your groups."),)))
    # TRANSLATORS: whose decisions a list shows ("Decisions for all groups").
    decisions = register_of(ctx, None, _("all groups"), None)
    sections = [(_("Your open actions"), list(mine.blocks)),
                (_("Your groups' next meetings"), meetings),
                (_("Recent decisions"), list(decisions.blocks))]
    # the page is the person's own: in their language and zone
    reader = person_reader(ctx.actor, ctx.settings)
    return [(text_of(title, reader), localize(blocks, reader)) for title, blocks in sections]
