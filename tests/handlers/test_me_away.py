"""``me away``: no nudge while someone is away, their chairs and the staff see it in ``tg
show`` (the other members do not), ``me`` says until when, and ``off`` ends it; bad
windows are refused with nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.textrender import render_reply
from handlers.delivery._engine import DeliveryEngine
from storage.models import Outbox
from tests.support.dialog import Bot


def nudged(bot: Bot, at: dt.datetime) -> set[str]:
    bot.now = at
    DeliveryEngine(bot.sessions, bot.settings, {"shell": bot._poster},
                   kinds=bot.router.registry.kinds).tick(at)
    with bot.sessions() as s:
        return {c for c in s.scalars(select(Outbox.channel_id)
                                     .where(Outbox.kind == "action_nudge"))}


def test_away_means_no_nudges_and_the_chairs_see_it(bot: Bot) -> None:
    bot.admin("tg add replication @ana as chair")
    bot.admin("tg add replication @ben")
    bot.admin("tg add replication @cleo")
    bot.say("ana", None, "action add @ben Draft the guide due 2026-12-01 group replication")
    bot.say("ana", None, "action add @cleo Send the kit due 2026-12-01 group replication")
    out = bot.say("ben", None, "me away 2026-11-30 to 2026-12-04")
    assert "Away from Mon 30 Nov 2026 to Fri 04 Dec 2026" in out
    assert "member, away until 04 Dec" not in bot.say("cleo", None, "tg show replication")
    # before the absence begins the chair sees nothing either; from its first day she does
    bot.now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    assert "member, away until 04 Dec" in bot.say("ana", None, "tg show replication")
    assert "Away until Fri 04 Dec 2026" in bot.say("ben", None, "me")
    # the morning before the due day: cleo is nudged, ben is not
    assert nudged(bot, dt.datetime(2026, 11, 30, 8, 30, tzinfo=dt.UTC)) == {"dm:cleo"}
    assert "Not away" in bot.say("ben", None, "me away off")
    assert "dm:ben" in nudged(bot, dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC))


@pytest.mark.parametrize(("line", "said"), [
    ("me away 2026-12-10", "Expected <date> to <date>, or off"),
    ("me away 2026-12-10 to", "Missing the last day"),
    ("me away 2026-12-10 to 2026-12-01", "is before"),
    ("me away 2026-11-01 to 2026-11-02", "is past"),
    ("me away 2026-12-01 to 2028-01-01", "a year at most"),
    ("me away someday to never", "date"),
])
def test_a_bad_window_is_refused_with_nothing_written(bot: Bot, line: str, said: str) -> None:
    bot.say("ben", None, "me")
    before = bot.counts()
    reply = bot.ask("ben", None, line)
    assert reply.error and said in render_reply(reply), render_reply(reply)
    assert bot.counts() == before
