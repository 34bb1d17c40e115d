"""The BoC's decisions: the register, the fan-out to the target groups, acknowledgements
and the reminders about missing ones."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.decisions import _acks, _commands
from handlers.decisions._commands import (
    boc_group,
    decision_blocks,
    fan_out,
    linked_action_counts,
    local_day_start,
    parse_targets,
    past_date,
    record_decision,
    register_of,
)


def register(reg: Registry) -> None:
    _commands.register(reg)
    _acks.register(reg.kinds)
    # a mail reply to a decision or its reminder: "ack" acknowledges it
    reg.reply_words(_commands.TOPIC, "decision", ("ack", "show"))


__all__ = [
    "boc_group",
    "decision_blocks",
    "fan_out",
    "linked_action_counts",
    "local_day_start",
    "parse_targets",
    "past_date",
    "record_decision",
    "register",
    "register_of",
]
