"""Mail addresses as people: read wherever a ``<@user>`` is, validated before anything is
stored, one mailbox one person, and never mistaken for another platform's mention."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.email.address import ADDRESS_MAX, EMAIL, LOCAL_MAX, parse_address
from handlers.core.router import Incoming
from tests.support.dialog import Bot, parser

VALID = [
    ("ana@city.eu", "ana@city.eu"),
    ("Ana.Lopez@City.EU", "ana.lopez@city.eu"),
    ("<ana@city.eu>", "ana@city.eu"),
    ("mailto:ana@city.eu", "ana@city.eu"),
    ("o'brien+tg@mail.example-city.org", "o'brien+tg@mail.example-city.org"),
]
INVALID = [
    "ana@city", "ana@@city.eu", "@ana:city.eu", "ana.@city.eu", ".ana@city.eu",
    "ana..b@city.eu", "ana@-city.eu", "ana@city-.eu", "ana@city.e", "ana@city.eu.",
    "a b@city.eu", "ana@ci ty.eu", "ana@city.eu\r\nBcc: x@y.eu", "ana@city.eu>",
    "<ana@city.eu", "ana@xn--.eu", "é@city.eu", "ana@cité.eu",
    "a" * (LOCAL_MAX + 1) + "@city.eu", "ana@" + "b" * 250 + ".eu",
]


@pytest.mark.parametrize(("raw", "address"), VALID)
def test_valid_addresses_are_read_in_lower_case(raw: str, address: str) -> None:
    assert parse_address(raw) == address


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_addresses_are_refused(raw: str) -> None:
    assert parse_address(raw) is None


_SHAPE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9.-]+\.[a-z]{2,63}")


@given(st.text(max_size=300))
def test_any_text_is_an_address_of_the_right_shape_or_none(raw: str) -> None:
    got = parse_address(raw)
    if got is not None:
        assert len(got) <= ADDRESS_MAX and _SHAPE.fullmatch(got), got
        assert "\r" not in got and "\n" not in got and ".." not in got
        assert parse_address(got) == got  # read again, the same mailbox


@given(st.from_regex(r"[a-z][a-z0-9._+-]{0,30}@[a-z][a-z0-9-]{0,20}\.[a-z]{2,8}",
                     fullmatch=True))
def test_every_address_of_the_common_shape_is_read_whatever_its_case(raw: str) -> None:
    if ".." in raw or ".@" in raw or "-." in raw:
        return
    assert parse_address(raw.upper()) == raw


@pytest.mark.parametrize("raw", ["<@U0123ABCD>", "@bob:example.org", "@Émile",
                                 "https://matrix.to/#/@bob:example.org"])
def test_other_platforms_mentions_are_not_read_as_addresses(raw: str) -> None:
    syntax = EMAIL.mentions
    assert not syntax.attempts(raw) and syntax.read(raw, bare=True) is None


def test_the_person_is_named_by_the_local_part_not_the_address() -> None:
    assert EMAIL.mentions.shown("ana.lopez@city.eu") == "ana.lopez"


def test_tg_add_brings_in_an_address_typed_on_any_platform(bot: Bot) -> None:
    """An address names the same mailbox wherever it is typed: a chair may add it from
    the shell, Slack or Matrix, and it is the one person after."""
    out = bot.admin("tg add replication Ana@City.EU project Lighthouse One as chair")
    assert "Added @ana" in out and "ana@city.eu" not in out.lower()
    bot.admin("tg add comms ana@city.eu")  # the same person, in a second group
    shown = bot.admin("tg show replication")
    assert "@ana" in shown and "@city.eu" not in shown  # the address is not for everyone
    with bot.sessions() as s:
        from sqlalchemy import select

        from storage.models import Identity

        ids = s.execute(select(Identity.platform, Identity.external_id)
                        .where(Identity.platform == "email")).all()
    assert [tuple(i) for i in ids] == [("email", "ana@city.eu")]


def test_an_address_typed_in_slack_is_added_too(bot: Bot) -> None:
    from handlers.core.directory import ensure_person

    with bot.sessions.begin() as session:
        ensure_person(session, "slack", "U0SEC", "Sam")  # as Slack's own events make them
    bot.admin("tg add secretariat <@U0SEC>")
    reply = bot.router.handle(Incoming(platform="slack", user_id="U0SEC",
                                       text="tg add replication ben@follower.eu",
                                       channel_id="C0REPL"))
    assert not reply.error, reply
    assert "@ben" in bot.admin("tg show replication")


def test_an_unknown_address_elsewhere_is_refused_not_created(bot: Bot) -> None:
    before = bot.counts()
    reply = bot.ask("root", None, "action add zed@nowhere.eu write the plan group replication")
    assert reply.error and "Unknown user zed@nowhere.eu" in str(reply.blocks)
    assert bot.counts() == before


@pytest.mark.parametrize("raw", ["ana@city", "ana@@city.eu", "ana..b@city.eu",
                                 "<ana@city.eu"])
def test_a_malformed_address_gets_the_usage_and_writes_nothing(bot: Bot, raw: str) -> None:
    before = bot.counts()
    reply = bot.ask("root", None, f"tg add replication {raw}")
    assert reply.error
    from bot.textrender import render_reply

    assert "Usage: tg add" in render_reply(reply)
    assert bot.counts() == before


def test_an_address_is_read_as_a_person_by_the_parser() -> None:
    router = parser()
    cmd = router.resolve(Incoming(platform="shell", user_id="x",
                                  text="tg add replication ana@city.eu"))
    assert cmd is not None
