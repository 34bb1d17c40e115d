"""Check-ins: before each BoC meeting each Task Group tells the Board, in words, what moved,
what is blocked and what it asks; the answers are compiled for the Board at the close."""

from __future__ import annotations

from handlers.checkins import _commands, _schedule
from handlers.checkins._form import Form, form_for
from handlers.checkins._rounds import (
    DEFAULT_BLOCKERS,
    QUESTIONS_KEY,
    QUESTIONS_MAX,
    TOPIC,
    Compiled,
    Questions,
    compile_round,
    configured,
    latest_round,
    participation,
    round_blocks,
    rounds_between,
    store_questions,
    task_groups,
)
from handlers.checkins._schedule import close_round, plan_checkins, round_times
from handlers.core.router import Registry


def register(reg: Registry) -> None:
    _commands.register(reg)
    _schedule.register(reg.kinds)
    # a reply to a prompt (a mail, a chat reply): each line answers the next question
    reg.reply_text(TOPIC, "checkin")


__all__ = [
    "DEFAULT_BLOCKERS",
    "QUESTIONS_KEY",
    "QUESTIONS_MAX",
    "TOPIC",
    "Compiled",
    "Form",
    "Questions",
    "close_round",
    "compile_round",
    "configured",
    "form_for",
    "latest_round",
    "participation",
    "plan_checkins",
    "register",
    "round_blocks",
    "round_times",
    "rounds_between",
    "store_questions",
    "task_groups",
]
