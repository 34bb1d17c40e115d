"""What a meeting's captures share: who chairs it, and how a refusal names them."""

from __future__ import annotations

from handlers.core.context import Ctx
from handlers.core.i18n import Msg, _
from handlers.core.roles import chair_and_up
from storage.models import Meeting


def is_meeting_chair(ctx: Ctx, meeting: Meeting) -> bool:
    return ctx.actor.id in (meeting.chair_ids or []) or chair_and_up(ctx, meeting.group)


def chair_needed(meeting: Meeting) -> Msg:
    """Who may do what a chair of the meeting does (in "Only ... can do ...")."""
    return _("a chair of this meeting (or of {group})", group=meeting.group.slug)


__all__ = ["chair_needed", "is_meeting_chair"]
