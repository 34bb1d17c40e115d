"""Proposals and votes: questions put to the Board or a group, decided by a rule and a
quorum at a deadline; a passed one becomes a decision for its target groups."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.proposals import _commands, _schedule
from handlers.proposals._commands import (
    KEYWORDS,
    Opening,
    cast_vote,
    choice_buttons,
    close_proposal,
    fill_opening,
    label,
    open_proposal,
    outcome_line,
    outcome_of,
    sections,
    tally,
)
from handlers.proposals._rules import STANCES, Outcome, choices_of, decide, rule_of


def register(reg: Registry) -> None:
    _commands.register(reg)
    _schedule.register(reg.kinds)
    # a mail reply to a proposal or its reminder: "agree" votes agree on it
    reg.reply_words(_commands.TOPIC, "vote", STANCES, after_id=True)


__all__ = [
    "KEYWORDS",
    "STANCES",
    "Opening",
    "Outcome",
    "cast_vote",
    "choice_buttons",
    "choices_of",
    "close_proposal",
    "decide",
    "fill_opening",
    "label",
    "open_proposal",
    "outcome_line",
    "outcome_of",
    "register",
    "rule_of",
    "sections",
    "tally",
]
