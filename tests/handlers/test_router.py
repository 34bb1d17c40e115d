"""The router: help from the declarations, errors with usage, apologies with an error id."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import Engine

from handlers.core.context import Ctx
from handlers.core.messages import Reply
from handlers.core.params import Values, spec
from handlers.core.roles import ANYONE
from handlers.core.router import Incoming
from storage.models import Group
from tests.conftest import DEFAULT_NOW
from tests.support.dialog import Bot


def test_help_lists_every_noun_and_usage(bare_bot: Bot) -> None:
    out = bare_bot.say("anyone", None, "help")
    for noun in ("tg", "meeting", "action", "decision", "secretariat"):
        assert noun in out
    detail = bare_bot.say("anyone", None, "help tg")
    assert "tg add <group> <@user> [project <name...>] [as chair|member]" in detail
    assert "admin, secretariat, chair" in detail
    assert "tg add <group> <@user>" in bare_bot.say("x", None, "help tg add")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("frobnicate", "Unknown command 'frobnicate'."),
        ("tg", "tg needs a subcommand."),
        ("help nothing", "No command 'nothing'."),
        ("tg list " + "x" * 5000, "too long"),
    ],
)
def test_bad_lines(bare_bot: Bot, line: str, expected: str) -> None:
    reply = bare_bot.ask("someone", None, line)
    assert reply.error and reply.private
    assert expected in bare_bot.say("someone", None, line)


def test_prefixes_are_accepted(bare_bot: Bot) -> None:
    bare_bot.admin("/tg create repl Replication")
    assert "repl" in bare_bot.say("x", None, "!tg list")


def test_unexpected_error_is_an_apology_with_id_and_rolls_back(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    bot = Bot(engine, now=DEFAULT_NOW, preset=False)

    def broken(ctx: Ctx, _values: Values) -> Reply:
        ctx.session.add(Group(slug="half", name="Half written", created_at=ctx.now))
        ctx.session.flush()
        raise RuntimeError("boom")

    bot.router.registry.command("tg", "explode", spec(), "fails on purpose", ANYONE)(broken)
    before = bot.counts()
    with caplog.at_level(logging.ERROR):
        reply = bot.router.handle(Incoming("shell", "root", "tg explode", "#x"))
    out = "\n".join(b.spans[0] for b in reply.blocks if hasattr(b, "spans"))  # type: ignore[union-attr]
    m = re.search(r"error id ([0-9a-f]{8})", out)
    assert reply.error and m, out
    assert "boom" not in out and "Traceback" not in out
    assert m.group(1) in caplog.text and "RuntimeError: boom" in caplog.text
    assert bot.counts() == before


@pytest.mark.parametrize("bad", ["\x00", "\x1b[2J", "\x7f"])
def test_control_characters_are_refused_on_both_stores(bare_bot: Bot, bad: str) -> None:
    bare_bot.admin("tg create repl Replication")
    before = bare_bot.counts()
    reply = bare_bot.ask("root", "#x", f"tg create x{bad}y Name{bad}")
    assert reply.error
    assert "control character" in bare_bot.say("root", "#x", f"action add A{bad} group repl")
    assert bare_bot.counts() == before


def test_names_a_command_knows_every_command_and_no_talk(bare_bot: Bot) -> None:
    """What the shell reads as a command while a meeting runs: every registered command in
    any case, help, and any prefixed line; talk that merely starts with a noun is not."""
    router = bare_bot.router
    for noun, verbs in router.registry.commands.items():
        for verb in verbs:
            if not verb:  # a noun that is a command on its own: itself, alone
                assert router.names_a_command(noun.upper()), noun
                continue
            assert router.names_a_command(f"{noun.upper()} {verb} x"), (noun, verb)
    for line in ("help", "HELP action", "/meeting frobnicate", "!hello"):
        assert router.names_a_command(line), line
    for line in ("", "   ", "Hello all", "Meeting notes later?", "action items first",
                 "decision: we wait", "tg"):
        assert not router.names_a_command(line), line
