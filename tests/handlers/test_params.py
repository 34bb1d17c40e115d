"""Typed argument specs (handlers.core.params): a command declares its parameters once; the
usage is generated from them, the router checks the policy before parsing, and the handler
gets typed values or is not run at all."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.textrender import render_reply
from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.messages import Reply
from handlers.core.params import Values
from handlers.core.roles import CHAIR_AND_UP
from storage.models import Group, Person
from tests.support.dialog import Bot

GROUP = p.group()
LOUD = p.choice("loud")
TEXT = p.text("<text...>", 40, "note")
DUE = p.option("due", "<date>", lambda ctx, words: parse_date(words, ctx.today))
WHO = p.person()

Seen = list[dict[str, Any]]


def _with_probe(bot: Bot) -> Seen:
    """``tg probe`` and ``tg poke``, declared as features declare theirs, recording what
    their handlers were given."""
    seen: Seen = []

    @bot.router.registry.command("tg", "probe", p.spec(GROUP, LOUD, TEXT, DUE),
                                 "a test command", CHAIR_AND_UP)
    def probe(_ctx: Ctx, v: Values) -> Reply:
        seen.append({"group": v[GROUP], "loud": v[LOUD], "text": v[TEXT], "due": v[DUE]})
        return Reply().say("probed")

    @bot.router.registry.command("tg", "poke", p.spec(WHO), "another", CHAIR_AND_UP)
    def poke(_ctx: Ctx, v: Values) -> Reply:
        seen.append({"who": v[WHO]})
        return Reply().say("poked")

    bot.admin("tg create repl Replication")
    bot.admin("tg add repl @chair as chair")
    return seen


def test_the_usage_is_generated_from_the_declaration(bare_bot: Bot) -> None:
    _with_probe(bare_bot)
    registry = bare_bot.router.registry
    assert registry.usage("tg", "probe") == "Usage: tg probe <group> [loud] <text...> [due <date>]"
    assert "tg probe <group> [loud] <text...> [due <date>]" in bare_bot.say("root", None, "help tg")
    out = bare_bot.say("root", None, "tg probe repl")
    assert out.splitlines() == ["Missing <text...>.",
                                "Usage: tg probe <group> [loud] <text...> [due <date>]"]


def test_the_handler_is_given_typed_values(bare_bot: Bot) -> None:
    seen = _with_probe(bare_bot)
    assert bare_bot.say("chair", None, "tg probe Replication loud fix the roof due 2026-12-20") == (
        "probed")
    got = seen.pop()
    assert isinstance(got["group"], Group) and got["group"].slug == "repl"
    assert got["loud"] == "loud" and got["text"] == "fix the roof"
    assert got["due"] == dt.date(2026, 12, 20)
    # an option is taken only when its value reads; the text keeps what it typed
    bare_bot.say("chair", None, 'tg probe repl report  "due" to the weather')
    again = seen.pop()
    assert again["group"].id == got["group"].id
    assert (again["loud"], again["text"], again["due"]) == (
        None, 'report  "due" to the weather', None)
    bare_bot.say("root", None, "tg poke @chair")
    who = seen.pop()["who"]
    assert isinstance(who, Person) and who.display_name == "chair"


def test_a_stranger_is_refused_before_the_line_is_read(bare_bot: Bot) -> None:
    seen = _with_probe(bare_bot)
    before = bare_bot.counts()
    out = bare_bot.say("mallory", None, "tg probe repl loud x due 31 February")
    assert out.startswith("Only a chair of repl, the secretariat or an admin can do tg probe.")
    assert "Usage: tg probe" in out
    assert seen == [] and bare_bot.counts() == before


@pytest.mark.parametrize("line, first", [
    ("tg probe", "Missing <group>."),
    ("tg probe repl " + "x" * 41, "The note is too long (41 characters; at most 40)."),
    ("tg poke", "Missing <@user>."),
    ("tg poke @nobody-known", None),
    ("tg poke @chair @chair", "Unexpected '@chair'."),
])
def test_a_bad_line_is_one_message_and_the_usage(bare_bot: Bot, line: str,
                                                 first: str | None) -> None:
    seen = _with_probe(bare_bot)
    before = bare_bot.counts()
    reply = bare_bot.ask("root", None, line)
    out = render_reply(reply).splitlines()
    assert reply.error and len(out) == 2 and out[1].startswith("Usage: tg "), out
    if first is not None:
        assert out[0] == first
    assert seen == [] and bare_bot.counts() == before


_WORDS = st.sampled_from(["repl", "Replication", "loud", "due", "tomorrow", "2026-12-20",
                          "31", "February", "@chair", "@x", '"', "“q”", "<@U1>", "-", "all"])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(words=st.lists(_WORDS | st.text(max_size=6), max_size=8))
def test_any_line_runs_typed_or_answers_with_the_usage(bare_bot: Bot, words: list[str]) -> None:
    """The family: whatever follows the command words, the handler runs with values of
    the declared types, or it does not run and the answer is an error with the usage;
    nothing crashes."""
    key = id(bare_bot)
    if key not in _SEEN:
        _SEEN.clear()
        _SEEN[key] = _with_probe(bare_bot)
    seen = _SEEN[key]
    seen.clear()
    before = bare_bot.counts()
    reply = bare_bot.ask("chair", None, "tg probe " + " ".join(words))
    out = render_reply(reply)
    if reply.error:
        assert seen == [] and "Usage: tg probe" in out and "error id" not in out, out
    else:
        got = seen.pop()
        assert isinstance(got["group"], Group) and isinstance(got["text"], str) and got["text"]
        assert got["loud"] in (None, "loud")
        assert got["due"] is None or isinstance(got["due"], dt.date)
    assert bare_bot.counts() == before


_SEEN: dict[int, Seen] = {}
