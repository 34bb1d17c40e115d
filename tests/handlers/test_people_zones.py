"""Each person's own time: a nudge at 09:00 where they are (me zone), across a change of
daylight saving time, and every time said to them in their zone with the zone named."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.core.messages import ChannelRef
from storage.models import AuditLog, Identity, Outbox, Person
from tests.handlers.test_delivery import RecordingSender, engine_for, run_ticks
from tests.support.dialog import Bot

UTC = dt.UTC


def _setup(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg settings repl digest off")
    for who in ("lisa", "bram", "hel"):
        bot.admin(f"tg add repl @{who}")
    assert "Europe/Lisbon" in bot.say("lisa", None, "me zone europe/lisbon")
    assert "Europe/Helsinki" in bot.say("hel", None, "me zone Europe/Helsinki")
    # bram chose nothing: the bot's zone, Brussels
    for who in ("lisa", "bram", "hel"):
        bot.admin(f"action add @{who} Report for {who} due 2027-03-28 group repl")


def test_nudges_at_nine_where_each_person_is_across_dst(bare_bot: Bot) -> None:
    """Sunday 28 Mar 2027 the EU moves its clocks: 09:00 is an hour earlier in UTC on the
    Sunday (due today) than on the Saturday (due tomorrow), in each of the three zones."""
    bot = bare_bot
    _setup(bot)
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    run_ticks(engine, bot, dt.datetime(2027, 3, 26, 12, 0, tzinfo=UTC),
              dt.datetime(2027, 3, 29, 0, 0, tzinfo=UTC), dt.timedelta(minutes=15))
    got: dict[str, list[str]] = {}
    for channel, _text, key in sender.sent:
        assert key.startswith("nudge:")
        user = channel.direct_user
        assert user is not None
        got.setdefault(user, []).append(key.split(":")[2])
    assert got == {who: ["2027-03-27", "2027-03-28"] for who in ("lisa", "bram", "hel")}

    # when each was due: 09:00 local, an hour earlier in UTC once the clocks moved
    times: dict[str, list[dt.datetime]] = {}
    with Session(bot.engine) as s:
        for row in s.scalars(select(Outbox).where(Outbox.kind == "action_nudge")):
            user = ChannelRef(row.platform, row.channel_id).direct_user
            assert user is not None
            times.setdefault(user, []).append(row.due_at.astimezone(UTC))
    assert sorted(times["lisa"]) == [dt.datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
                                     dt.datetime(2027, 3, 28, 8, 0, tzinfo=UTC)]
    assert sorted(times["bram"]) == [dt.datetime(2027, 3, 27, 8, 0, tzinfo=UTC),
                                     dt.datetime(2027, 3, 28, 7, 0, tzinfo=UTC)]
    assert sorted(times["hel"]) == [dt.datetime(2027, 3, 27, 7, 0, tzinfo=UTC),
                                    dt.datetime(2027, 3, 28, 6, 0, tzinfo=UTC)]


def test_a_nudge_is_not_sent_twice_when_the_zone_changes_the_same_day(bare_bot: Bot) -> None:
    bot = bare_bot
    _setup(bot)
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    # Saturday 27 Mar: Helsinki's 09:00 (07:00 UTC) comes and goes, then hel moves west
    run_ticks(engine, bot, dt.datetime(2027, 3, 27, 6, 0, tzinfo=UTC),
              dt.datetime(2027, 3, 27, 7, 30, tzinfo=UTC), dt.timedelta(minutes=15))
    bot.say("hel", None, "me zone Europe/Lisbon")
    run_ticks(engine, bot, dt.datetime(2027, 3, 27, 7, 45, tzinfo=UTC),
              dt.datetime(2027, 3, 27, 23, 0, tzinfo=UTC), dt.timedelta(minutes=15))
    hel = [key for channel, _t, key in sender.sent if channel.direct_user == "hel"]
    assert hel == [f"nudge:{_person(bot, 'hel')}:2027-03-27"]


def _person(bot: Bot, user: str) -> int:
    with Session(bot.engine) as s:
        pid = s.scalar(select(Identity.person_id).where(Identity.external_id == user))
        assert pid is not None
        return int(pid)


@pytest.mark.parametrize(("line", "message"), [
    ("me zone Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ("me zone", "Missing <Area/City>"),
    ("me zone Europe/Lisbon extra", ""),
    ("me language xx", "The bot does not speak 'xx'"),
    ("me language", "Missing <language>"),
])
def test_bad_settings_are_refused_and_write_nothing(bare_bot: Bot, line: str,
                                                     message: str) -> None:
    bot = bare_bot
    bot.say("ana", None, "me")
    before = bot.counts()
    reply = bot.ask("ana", None, line)
    assert reply.error
    shown = render_reply(reply)
    assert message in shown and "Usage:" in shown
    assert bot.counts() == before


def test_zone_and_language_are_kept_and_audited(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.say("ana", None, "me zone europe/LISBON")
    bot.say("ana", None, "me language PT-br")
    with Session(bot.engine) as s:
        ana = s.scalars(select(Person).where(Person.display_name == "ana")).one()
        assert ana.settings["zone"] == "Europe/Lisbon" and ana.settings["language"] == "pt"
        kinds = s.scalars(select(AuditLog.verb).where(AuditLog.entity_id == ana.id)).all()
        assert {"zone", "language"} <= set(kinds)
    bot.say("ana", None, "me zone default")
    bot.say("ana", None, "me language default")
    with Session(bot.engine) as s:
        ana = s.scalars(select(Person).where(Person.display_name == "ana")).one()
        assert "zone" not in ana.settings and "language" not in ana.settings
