"""Proposals and votes: questions put to the Board or a group, decided by a rule and a
quorum at a deadline; a passed one becomes a decision for its target groups."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.proposals import _commands, _schedule
from handlers.proposals._commands import (
    Opening,
    cast_vote,
    close_proposal,
    label,
    open_proposal,
    outcome_line,
    tally,
)
from handlers.proposals._rules import STANCES, Outcome, decide, rule_of


def register(reg: Registry) -> None:
    _commands.register(reg)
    _schedule.register(reg.kinds)
    # a mail reply to a proposal or its reminder: "agree" votes agree on it
    reg.reply_words(_commands.TOPIC, "vote", STANCES, after_id=True)


__all__ = [
    "STANCES",
    "Opening",
    "Outcome",
    "cast_vote",
    "close_proposal",
    "decide",
    "label",
    "open_proposal",
    "outcome_line",
    "register",
    "rule_of",
    "tally",
]
