"""``me``: a chat member links an address with a code sent to it (only its owner can type
it back), chooses where personal messages go, and an address an admin had added as a
person of its own becomes theirs, with its groups and actions. Against a real SMTP server,
on both stores."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from bot.email.smtp import SmtpSender
from bot.textrender import render_reply
from storage.models import ActionAssignee, ContactCode, Identity, Membership, Outbox, Person
from tests.email.test_outgoing import engine, sender
from tests.support.dialog import Bot
from tests.support.mailserver import MailServer

DORA = "dora@city.eu"


@pytest.fixture
def mail(smtp_server: MailServer) -> SmtpSender:
    return sender(smtp_server)


def code_sent(bot: Bot, mail: SmtpSender, smtp: MailServer, to: str) -> str:
    engine(bot, mail).tick(bot.now)
    body = smtp.to(to)[-1].get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"\b(\d{6})\b", str(body.get_content()))
    assert found, body
    return found.group(1)


def test_a_member_links_an_address_with_the_code_sent_to_it(
        bot: Bot, mail: SmtpSender, smtp_server: MailServer) -> None:
    bot.admin("tg add replication @dora")
    out = bot.say("dora", None, f"me email {DORA}")
    assert f"A code is on its way to {DORA}" in out
    code = code_sent(bot, mail, smtp_server, DORA)
    with bot.sessions() as s:
        stored = s.scalar(select(ContactCode))
        assert stored is not None and code not in stored.code_hash  # only its hash is kept
    wrong = "000000" if code != "000000" else "111111"
    reply = bot.ask("dora", None, f"me email confirm {wrong}")
    assert reply.error and "4 more tries" in render_reply(reply)
    reply = bot.ask("dora", None, f"me email confirm {wrong}")
    assert "3 more tries" in render_reply(reply)  # the wrong tries are counted
    out = bot.say("dora", None, f"me email confirm {code}")
    assert f"Linked: {DORA} is yours." in out
    assert "Personal messages reach you by chat" in out  # she has a chat: it stays first
    me = bot.say("dora", None, "me")
    assert "replication" in me and f"email: {DORA}" in me and "shell: dora" in me
    # and no one else sees the address: others see her by her name
    assert DORA not in bot.say("root", None, "tg show replication")


def test_notify_chooses_where_personal_messages_and_group_posts_go(
        bot: Bot, mail: SmtpSender, smtp_server: MailServer) -> None:
    bot.admin("tg add replication @dora")
    refused = bot.ask("dora", None, "me notify email")
    assert refused.error and "Link an address first: me email <address>" in render_reply(refused)
    bot.say("dora", None, f"me email {DORA}")
    bot.say("dora", None, f"me email confirm {code_sent(bot, mail, smtp_server, DORA)}")
    assert "reach you by email" in bot.say("dora", None, "me notify email")
    bot.admin("action add @dora Send the kit due 2026-11-29 group replication")
    bot.admin("decision post replication Adopt the kit")
    bot.now = dt.datetime(2026, 11, 29, 8, 30, tzinfo=dt.UTC)  # the next morning's nudges
    engine(bot, mail).tick(bot.now)
    with bot.sessions() as s:
        rows = {(k.split(":")[0], p) for k, p in s.execute(
            select(Outbox.key, Outbox.platform).where(Outbox.channel_id.like("dm:%")))}
    assert ("nudge", "email") in rows and ("nudge", "shell") not in rows
    assert ("post", "email") in rows  # the decision reaches her mail too
    out = bot.say("dora", None, "me notify both")
    assert "reach you by chat and email" in out
    assert "reach you by chat." in bot.say("dora", None, "me notify chat")


def test_an_address_added_by_an_admin_becomes_the_person_who_proves_it(
        bot: Bot, mail: SmtpSender, smtp_server: MailServer) -> None:
    bot.admin(f"tg add replication {DORA} project Lighthouse One")
    bot.admin(f"tg add comms {DORA}")
    bot.admin("tg add comms @dora")  # the same person, already in comms under her chat name
    bot.admin(f"action add {DORA} Write the brief group replication")
    with bot.sessions() as s:
        old = s.scalar(select(Identity.person_id).where(Identity.external_id == DORA))
    bot.say("dora", None, f"me email {DORA}")
    out = bot.say("dora", None, f"me email confirm {code_sent(bot, mail, smtp_server, DORA)}")
    assert "its groups, actions and answers are yours now" in out
    with bot.sessions() as s:
        assert s.get(Person, old) is None
        dora = s.scalar(select(Identity.person_id).where(Identity.external_id == "dora"))
        assert s.scalar(select(Identity.person_id).where(Identity.external_id == DORA)) == dora
        groups = sorted((m.group.slug, m.project) for m in s.scalars(
            select(Membership).where(Membership.person_id == dora)))
        assert groups == [("comms", None), ("replication", "Lighthouse One")]  # comms once
        assert s.scalar(select(ActionAssignee.person_id)) == dora


@pytest.mark.parametrize(("line", "said"), [
    ("me email not-an-address", "is not an email address"),
    ("me email confirm 12ab56", "A code is six digits"),
    ("me email confirm 123456", "No email address is waiting for a code"),
    ("me email bob@city.eu", "belongs to someone else here"),
    ("me notify pigeon", "Expected chat or email or both"),
])
def test_refused_lines_write_nothing(bot: Bot, line: str, said: str) -> None:
    bot.admin("tg add replication @bob")
    with bot.sessions.begin() as s:  # bob, a chat member, also linked this address
        bob = s.scalar(select(Identity.person_id).where(Identity.external_id == "bob"))
        s.add(Identity(person_id=bob, platform="email", external_id="bob@city.eu"))
    bot.ask("dora", None, "me")
    before = bot.counts()
    reply = bot.ask("dora", None, line)
    assert reply.error and said in render_reply(reply)
    assert bot.counts() == before


def test_a_code_is_not_sent_twice_in_a_minute_and_dies_after_five_wrong_tries(
        bot: Bot, mail: SmtpSender, smtp_server: MailServer) -> None:
    bot.say("dora", None, f"me email {DORA}")
    again = bot.ask("dora", None, f"me email {DORA}")
    assert again.error and "wait a minute" in render_reply(again)
    code = code_sent(bot, mail, smtp_server, DORA)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        last = bot.ask("dora", None, f"me email confirm {wrong}")
    assert "that code is void" in render_reply(last)
    gone = bot.ask("dora", None, f"me email confirm {code}")
    assert gone.error and "No email address is waiting" in render_reply(gone)
    bot.now += dt.timedelta(minutes=2)
    bot.say("dora", None, f"me email {DORA}")
    bot.now += dt.timedelta(hours=1, minutes=1)  # a code lasts an hour
    expired = bot.ask("dora", None, f"me email confirm {code_sent(bot, mail, smtp_server, DORA)}")
    assert expired.error and "No email address is waiting" in render_reply(expired)
