"""The router's hooks for adapters: the parsed command before it runs, and an idempotency
key written in the command's own transaction."""

from __future__ import annotations

import os
import tempfile
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.core.messages import Reply
from handlers.core.router import Command, Incoming
from storage import kv
from storage.models import Action, KvState
from tests.support.dialog import ADMIN, Bot, parser, reader_router

# every spelling of one command: prefixes, quotes, case, spacing
LINK_SPELLINGS = [
    "tg link repl", "/tg link repl", "!tg link repl", '"tg" link repl', "tg \"link\" repl",
    "“tg” link repl", "TG LINK repl", "Tg Link repl", "  tg   link   repl  ", "\ttg\tlink repl",
    '"TG" "LINK" repl', "/TG link", "!tg link",
]


@pytest.mark.parametrize("line", LINK_SPELLINGS)
def test_every_spelling_resolves_to_the_one_command(bare_bot: Bot, line: str) -> None:
    cmd = bare_bot.router.resolve(Incoming("shell", ADMIN, line, "#x"))
    assert cmd is not None and (cmd.noun, cmd.verb) == ("tg", "link")


@pytest.mark.parametrize("line", LINK_SPELLINGS)
def test_the_guard_sees_the_parsed_command_and_can_refuse(bare_bot: Bot, line: str) -> None:
    bare_bot.admin("tg create repl Replication")
    seen: list[Command] = []

    def guard(cmd: Command) -> Reply | None:
        seen.append(cmd)
        return Reply(error=True).say("refused by the platform")

    before = bare_bot.counts()
    reply = bare_bot.router.handle(Incoming("shell", ADMIN, line, "#x"), guard)
    assert reply.error and "refused by the platform" in str(reply.blocks)
    assert [(c.noun, c.verb) for c in seen] == [("tg", "link")]
    assert bare_bot.counts() == before


_PARSER = parser()
_ROUTER = reader_router(os.path.join(tempfile.mkdtemp(prefix="hooks-"), "store.db"))


@settings(max_examples=150, deadline=None)
@given(line=st.text(max_size=60))
def test_resolve_agrees_with_what_runs(line: str) -> None:
    """For any line, the command ``resolve`` names is the one a guard is shown, and
    parsing reads no store (answering a bad line reads the caller's language)."""
    msg = Incoming("shell", ADMIN, line, "#x")
    named = _PARSER.resolve(msg)
    shown: list[Command] = []

    def guard(cmd: Command) -> Reply | None:
        shown.append(cmd)
        return Reply(error=True)

    _ROUTER.handle(msg, guard)
    # the two routers have registries of their own: the same command, not the same object
    assert [(c.noun, c.verb) for c in shown] == (
        [(named.noun, named.verb)] if named is not None else [])


def _actions(bot: Bot) -> int:
    with Session(bot.engine) as s:
        return int(s.scalar(select(func.count()).select_from(Action)) or 0)


def test_a_run_with_a_written_key_is_not_repeated(bare_bot: Bot) -> None:
    bare_bot.admin("tg create repl Replication")
    msg = Incoming("shell", ADMIN, "action add write the plan group repl", None, once="test:event-1")
    first = bare_bot.router.handle(msg)
    assert not first.error
    with Session(bare_bot.engine) as s:
        assert kv.get(s, "test:event-1") == ""  # committed with the action
    again = bare_bot.router.handle(msg)
    assert not again.error and "carried out the first time" in str(again.blocks)
    assert _actions(bare_bot) == 1


def test_a_failed_run_leaves_its_key_unwritten(bare_bot: Bot) -> None:
    msg = Incoming("shell", ADMIN, "action done A-999", None, once="test:event-2")
    assert bare_bot.router.handle(msg).error
    with Session(bare_bot.engine) as s:
        assert s.get(KvState, "test:event-2") is None  # so a retry may run it


def test_concurrent_runs_of_one_key_act_once(bare_bot: Bot) -> None:
    bare_bot.admin("tg create repl Replication")
    msg = Incoming("shell", ADMIN, "action add only once group repl", None, once="test:event-3")
    replies: list[Reply] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        replies.append(bare_bot.router.handle(msg))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _actions(bare_bot) == 1
    assert sum("carried out the first time" in str(r.blocks) for r in replies) == 3
