"""A person's own page (the Slack Home tab, and any platform's like it): their open
actions, their groups' next meetings, the recent decisions.

Built from the same functions the commands answer with, in one unit of work
(``Router.view``), so the page says what ``action list mine``, ``meeting next <group>`` and
``decision list`` would, without running those commands as text.
"""

from __future__ import annotations

from handlers.actions import open_list
from handlers.core.context import Ctx
from handlers.core.messages import Block, Text
from handlers.decisions import register_of
from handlers.meetings import next_of

MEETINGS_SHOWN = 10  # groups whose next meeting the page shows

Section = tuple[str, list[Block]]


def home(ctx: Ctx, prefix: str = "") -> list[Section]:
    """The page's sections, titled; ``prefix``: how the platform spells commands."""
    mine = open_list(ctx, group_id=None, person_id=ctx.actor.id, scope="for you")
    groups = sorted((m.group for m in ctx.actor.memberships if m.group.archived_at is None),
                    key=lambda g: g.slug)
    meetings: list[Block] = []
    for group in groups[:MEETINGS_SHOWN]:
        if group.series is not None:  # a group with no schedule has nothing to show
            meetings.extend(next_of(ctx, group).blocks)
    if not groups:
        meetings.append(Text((f"You are in no group yet: {prefix}tg list shows them, "
                              f"{prefix}tg join <group> joins one.",)))
    elif not meetings:
        meetings.append(Text(("No meetings scheduled for your groups.",)))
    decisions = register_of(ctx, None, "all groups", None)
    return [("Your open actions", list(mine.blocks)),
            ("Your groups' next meetings", meetings),
            ("Recent decisions", list(decisions.blocks))]
