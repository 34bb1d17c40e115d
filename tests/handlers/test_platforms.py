"""A platform is a profile its adapter registers: the core reads people and commands the
way the table says, for a platform it has never heard of as for the ones that ship."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.platforms import SHELL, registered_platforms
from handlers.core.mentions import NameSyntax, PatternSyntax
from handlers.core.platforms import Platforms, Profile
from handlers.core.router import Incoming
from tests.support.dialog import parser

# a platform the core was never told of: people by address, commands after a '%'
POST = Profile("post", PatternSyntax(
    platform="post", patterns=(re.compile(r"(?P<id>[a-z]+@[a-z]+\.[a-z]+)"),),
    attempt=re.compile(r"[^\s@]+@")), sigil="%")


def test_a_new_platforms_sigil_and_people_are_read_without_a_core_edit() -> None:
    platforms = Platforms((POST, SHELL))
    cmd = parser(platforms).resolve(Incoming("shell", "root", "%tg link repl", "#x"))
    assert cmd is not None and (cmd.noun, cmd.verb) == ("tg", "link")
    assert parser(platforms).names_a_command("%tg list")
    assert platforms.mentions.read("ann@city.eu", "post") == ("post", "ann@city.eu")
    # not local: an address typed in the shell names the post account too
    assert platforms.mentions.read("ann@city.eu", "shell") == ("post", "ann@city.eu")
    assert platforms.mentions.dm_rank("post") == 0 and platforms.mentions.dm_rank("shell") == 1


def test_an_unregistered_sigil_is_part_of_the_line() -> None:
    """With only the shell registered, no character is a sigil: ``/tg`` is no command."""
    router = parser(Platforms((SHELL,)))
    assert router.resolve(Incoming("shell", "root", "/tg link repl", "#x")) is None
    assert not router.names_a_command("/tg list")


def test_help_names_a_command_as_any_registered_platform_spells_it() -> None:
    router = parser(Platforms((POST, SHELL)))
    for line in ("help %tg add", "help tg add", "%help %tg add"):
        reply = router.parse(Incoming("shell", "root", line, "#x"))
        assert not isinstance(reply, tuple) and not reply.error, line
        assert "tg add <group> <@user>" in str(reply), line
    refused = router.parse(Incoming("shell", "root", "help /tg", "#x"))  # '/' is no sigil here
    assert not isinstance(refused, tuple) and refused.error
    assert "No command '/tg'" in str(refused)


@given(sigil=st.characters(categories=["P", "S"]), words=st.sampled_from(
    ["tg list", "action list all", "meeting next", "help"]))
def test_any_registered_sigil_is_stripped_once(sigil: str, words: str) -> None:
    platforms = Platforms((Profile("x", NameSyntax("x"), sigil=sigil),))
    assert platforms.strip_sigil(sigil + words) == words
    assert platforms.strip_sigil(sigil + sigil + words) == sigil + words
    assert platforms.strip_sigil(words) == words


def test_the_shipped_table_knows_each_platform_once_with_its_own_mentions() -> None:
    table = registered_platforms()
    assert len({p.name for p in table.profiles}) == len(table.profiles)
    assert all(p.mentions.platform == p.name for p in table.profiles)


@pytest.mark.parametrize("bad", [
    lambda: Profile("x", NameSyntax("y")),
    lambda: Profile("x", NameSyntax("x"), sigil="ab"),
    lambda: Profile("x", NameSyntax("x"), sigil="a"),
    lambda: Profile("x", NameSyntax("x"), sigil=" "),
    lambda: Platforms((SHELL, SHELL)),
])
def test_a_malformed_profile_is_refused_at_start(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]
