"""``admin forget``: a person erased on request. After it, no table and no export holds
their name or any of their ids, their feed key is refused, and the records they were part
of are whole under a pseudonym; it asks for a confirmation first, and refuses strangers."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import JSON, String, Text, cast, select

from bot.textrender import render_reply
from handlers.core.messages import File
from handlers.reports import feed_holder
from storage.models import Action, ActionAssignee, Base, Identity, LinkKey, Person
from tests.support.dialog import Bot

WORD = re.compile(r"(?<![\w.-])@?(ana|ana@city\.eu)(?![\w-])", re.IGNORECASE)


def everything_that_names_her(bot: Bot) -> list[str]:
    found = []
    with bot.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | Text | JSON):
                    continue
                expr = cast(column, Text) if isinstance(column.type, JSON) else column
                for (value,) in conn.execute(select(expr).where(expr.ilike("%ana%"))):
                    if value and WORD.search(str(value)):
                        found.append(f"{table.name}.{column.name}: {str(value)[:80]}")
    return found


def test_forget_erases_her_everywhere_and_keeps_the_records(bot: Bot) -> None:
    bot.admin("tg add replication @ana project Lighthouse One as chair")
    bot.admin("tg add replication @bob")
    with bot.sessions.begin() as s:
        ana_id = s.scalar(select(Identity.person_id).where(Identity.external_id == "ana"))
        s.add(Identity(person_id=ana_id, platform="email", external_id="ana@city.eu"))
    bot.say("ana", None, "action add @bob Ask @ana about the kit group replication")
    bot.say("ana", None, "action add Write the guide group replication")
    bot.say("ana", None, "action note A-2 Ana's draft is on the drive")
    bot.say("bob", None, "action add Buy a banana for ana's desk group replication")
    bot.say("ana", None, "meeting rsvp replication yes")
    token = re.search(r"token=([\w-]+)", bot.say("ana", None, "meeting feed replication"))
    assert everything_that_names_her(bot)  # the test can find her before
    before = bot.counts()
    asked = bot.say("root", None, "admin forget @ana")
    assert "This erases ana" in asked and "former member #" in asked
    assert bot.counts()["people"] == before["people"]  # asking changed nothing of hers
    done = bot.say("root", None, "admin forget @ana confirm")
    assert "Erased: former member #" in done
    assert everything_that_names_her(bot) == []
    with bot.sessions() as s:
        her = s.get(Person, ana_id)
        assert her is not None and her.display_name == f"former member #{ana_id}"
        assert s.scalar(select(Identity).where(Identity.person_id == ana_id)) is None
        assert s.scalar(select(LinkKey).where(LinkKey.person_id == ana_id)) is None
        titles = list(s.scalars(select(Action.title).order_by(Action.id)))
        assert titles == [f"Ask former member #{ana_id} about the kit", "Write the guide",
                          f"Buy a banana for former member #{ana_id}'s desk"]
        assert s.scalar(select(ActionAssignee.person_id).where(
            ActionAssignee.action_id == 2)) == ana_id  # the record is whole
        if token is not None:
            assert feed_holder(s, bot.settings, bot.now, token.group(1)) is None
    csv = bot.ask("root", None, "secretariat actions all csv")
    [file] = [b for b in csv.blocks if isinstance(b, File)]
    assert not WORD.search(file.content.decode()) and "banana" in file.content.decode()
    assert "Unknown user @ana" in bot.say("root", None, "admin forget @ana")


def test_forget_asks_first_and_refuses_strangers_and_oneself(bot: Bot) -> None:
    bot.admin("tg add replication @ana")
    bot.admin("tg add replication @bob")
    before = bot.counts()
    refused = bot.ask("bob", None, "admin forget @ana confirm")
    assert refused.error and render_reply(refused).startswith("Only ")
    early = bot.ask("root", None, "admin forget @ana confirm")
    assert early.error and "Ask first" in render_reply(early)
    assert bot.counts() == before
    bot.say("root", None, "admin forget @ana")
    bot.now += dt.timedelta(minutes=11)
    late = bot.ask("root", None, "admin forget @ana confirm")
    assert late.error and "Ask first" in render_reply(late)
    own = bot.ask("root", None, "admin forget @root")
    assert own.error and "cannot erase yourself" in render_reply(own)


def test_forget_leaves_other_people_and_what_only_looks_like_her(bot: Bot) -> None:
    """Another person shown as "ana" (added by an address whose local part is hers), an
    address that only starts with her name, and a mark whose key holds "ana" inside a
    longer word: none of them is hers, and all of them are there afterwards."""
    from storage import kv

    bot.admin("tg add replication @ana")
    bot.admin("tg add replication ana@other.eu")  # shown as @ana too: not her
    bot.say("ana", None, "action add Write to ana@other.eu and bob@ana.eu group replication")
    with bot.sessions.begin() as s:
        kv.put(s, "test:seen:Ev0banana1", "x")  # a mark, by chance holding "ana"
        other = s.scalar(select(Identity.person_id).where(
            Identity.external_id == "ana@other.eu"))
    bot.say("root", None, "admin forget @ana")
    bot.say("root", None, "admin forget @ana confirm")
    with bot.sessions() as s:
        them = s.get(Person, other)
        assert them is not None and them.display_name == "ana"
        assert s.scalar(select(Identity.external_id).where(
            Identity.person_id == other)) == "ana@other.eu"
        assert s.scalar(select(Action.title)) == "Write to ana@other.eu and bob@ana.eu"
        assert kv.get(s, "test:seen:Ev0banana1") == "x"
