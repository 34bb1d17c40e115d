"""``tg rename`` and ``tg archive`` / ``tg unarchive`` (issue 12, item 19): a new full name
with the slug kept; an archived group gets nothing scheduled, is left out of lists, and
keeps its records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.core.router import Incoming
from handlers.delivery._engine import DeliveryEngine
from storage.models import Group
from tests.handlers.test_delivery import RecordingSender
from tests.support.dialog import Bot

UTC = dt.UTC


def names(bot: Bot) -> dict[str, str]:
    with Session(bot.engine) as s:
        return dict(s.execute(select(Group.slug, Group.name)).all())  # type: ignore[arg-type]


def test_rename_keeps_the_slug(bot: Bot) -> None:
    out = bot.admin("tg rename finance Finance and Funding")
    assert "Renamed finance: Business Models and Financing is now Finance and Funding" in out
    assert names(bot)["finance"] == "Finance and Funding"
    # found by its slug and its new name; the old name is free again
    assert "Finance and Funding (finance)" in bot.say("bob", None, "tg show finance")
    assert "Finance and Funding (finance)" in bot.say("bob", None,
                                                      "tg show finance and funding")
    assert bot.ask("bob", None, "tg show Business Models and Financing").error
    assert "called 'Finance and Funding' already" in bot.admin(
        "tg rename finance Finance and Funding")


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("root", "tg rename finance Replication", "'Replication' is the name or id of group "
                                                   "replication already."),
        ("root", "tg rename finance data", "is the name or id of group data already"),
        ("root", "tg rename finance", "Missing <name...>."),
        ("root", "tg rename finance " + "n" * 121, "The name is too long"),
        ("root", "tg rename nowhere New", "Unknown group 'nowhere'."),
        ("carol", "tg rename finance New", "Only an admin or the secretariat can do tg rename."),
        ("carol", "tg archive finance", "Only an admin or the secretariat can do tg archive."),
        ("carol", "tg unarchive finance", "Only an admin or the secretariat can do "
                                          "tg unarchive."),
        ("root", "tg archive boc", "boc cannot be archived: its membership is a role."),
        ("root", "tg archive secretariat", "secretariat cannot be archived"),
        ("root", "tg archive finance now", "Unexpected 'now'."),
        ("root", "tg list everything", "Unexpected 'everything'."),
    ],
)
def test_refusals_write_nothing(bot: Bot, who: str, line: str, expected: str) -> None:
    bot.admin("tg add finance @carol as chair")
    before = bot.counts()
    reply = bot.ask(who, "#finance", line)
    out = render_reply(reply)
    assert reply.error and expected in out, out
    assert bot.counts() == before


def test_archived_groups_leave_the_lists_and_keep_their_records(bot: Bot) -> None:
    bot.admin("tg add boc @bea")
    bot.admin("tg add finance @carol as chair")
    bot.admin("action add @carol Close the books group finance")
    bot.say("bea", "#boc", "decision post finance Fund it.")
    out = bot.admin("tg archive finance")
    assert "Archived finance" in out and "1 open action stays open" in out
    assert "is archived already" in bot.admin("tg archive finance")
    listing = bot.say("bob", None, "tg list")
    assert "finance" not in listing.split("not shown")[0]
    assert "1 archived group not shown: tg list all shows it." in listing
    everything = bot.say("bob", None, "tg list all")
    assert "Business Models and Financing (archived)" in everything
    assert "finance" not in bot.say("bob", None, "meeting next all")
    assert "Archived on" in bot.say("bob", None, "tg show finance")
    # records stay and are found and reported
    assert "Close the books" in bot.say("carol", None, "action list finance")
    assert "D-1" in bot.say("bob", None, "decision list finance")
    assert "finance" in bot.admin("secretariat summary")
    # no new members nor decisions for it
    assert "finance is archived" in bot.say("bob", None, "tg join finance")
    before = bot.counts()
    assert "finance is archived: a decision cannot be posted" in bot.say(
        "bea", "#boc", "decision post comms,finance Fund more.")
    # nor in the BoC's meeting
    bot.admin("tg add boc @bea as chair")
    bot.say("bea", "#boc", "meeting start")
    started = bot.counts()
    said = bot.router.hear(Incoming(platform="shell", user_id="bea",
                                             channel_id="#boc",
                                             text="#decision finance Fund more."))
    assert said is not None and said.error
    assert "finance is archived" in render_reply(said)
    assert bot.counts()["decisions"] == started["decisions"] == before["decisions"]
    bot.say("bea", "#boc", "meeting end")
    assert "finance is back" in bot.admin("tg unarchive finance")
    assert "is not archived" in bot.admin("tg unarchive finance")
    assert "Business Models and Financing" in bot.say("bob", None, "tg list")


def _setup(bot: Bot) -> None:
    """Two groups alike in every way: repl is archived, comms is the control."""
    bot.now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg add boc @bea")
    for slug, who in (("repl", "ann"), ("comms", "cid")):
        bot.admin(f"tg create {slug} {slug.title()}")
        bot.admin(f"tg link {slug}", channel=f"#{slug}")
        bot.admin(f"tg add {slug} @{who}")
        bot.admin(f"meeting schedule {slug} first tuesday 10:00 Europe/Brussels remind 1d,1h")
        bot.admin(f"action add @{who} Prepare group {slug} due 2026-11-30")
    # posted a week before the window: its acknowledgement reminder falls due in it
    bot.say("bea", None, "decision post repl,comms Adopt the plan.")
    bot.now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    bot.admin("tg archive repl")


def _run(bot: Bot, sender: RecordingSender, start: dt.datetime, hours: int) -> None:
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    for h in range(hours):
        bot.now = start + dt.timedelta(hours=h)
        engine.tick(bot.now)


def test_an_archived_group_gets_no_reminders_digests_or_nudges(bare_bot: Bot) -> None:
    bot = bare_bot
    _setup(bot)
    sender = RecordingSender()
    # Sat 28 Nov 10:00 UTC to Tue 1 Dec 12:00 UTC: the ack reminder (Sat 12:00), Monday's
    # digest and nudges, and both meeting reminders of Tuesday's meeting
    _run(bot, sender, dt.datetime(2026, 11, 28, 10, 0, tzinfo=UTC), 75)
    where = [ch.channel_id for ch, _, _ in sender.sent]
    texts = "\n".join(t for _, t, _ in sender.sent)
    assert "#repl" not in where and "dm:ann" not in where
    # the control group got each kind, so the window was right
    assert where.count("#comms") == 4, texts  # ack reminder, digest, 1d, 1h
    assert "dm:cid" in where
    assert "Comms has not acknowledged" in texts and "Repl" not in texts
    # back from the archive: what comes next is sent, nothing missed is sent late
    bot.admin("tg unarchive repl")
    later = RecordingSender()
    # the next meeting is Tue 5 Jan 2027: its 1-day reminder goes out on Mon 4 Jan
    _run(bot, later, dt.datetime(2027, 1, 4, 8, 0, tzinfo=UTC), 2)
    got = [(ch.channel_id, t) for ch, t, _ in later.sent if "meeting is in" in t]
    assert sorted(ch for ch, _ in got) == ["#comms", "#repl"]
