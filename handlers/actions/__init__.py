"""Action items: their commands and queries, and the nudges and digests that chase them."""

from __future__ import annotations

from handlers.actions import _commands, _nudges
from handlers.actions._commands import (
    CANCELLED,
    OPEN,
    OPEN_WORK_SHOWN,
    action_label,
    create_action,
    hand_over,
    labels_line,
    open_list,
    open_work,
)
from handlers.core.router import Registry


def register(reg: Registry) -> None:
    _commands.register(reg)
    _nudges.register(reg.kinds)
    # a mail reply to a nudge about one action: "done" closes it
    reg.reply_words(_nudges.TOPIC, "action",
                    ("done", "note", "due", "reopen", "cancel", "show"))


__all__ = [
    "CANCELLED", "OPEN", "OPEN_WORK_SHOWN", "action_label", "create_action", "hand_over",
    "labels_line", "open_list", "open_work", "register",
]
