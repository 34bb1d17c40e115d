"""The check-in as a form (``form_for``): the open round's questions with the person's own
answers, for those who may answer for the group, and nothing when there is no form to fill
in (no round open, closed, a group not theirs, someone unknown)."""

from __future__ import annotations

import datetime as dt

from handlers.checkins import form_for
from handlers.core.messages import Text
from tests.handlers.test_delivery import RecordingSender, engine_for
from tests.support.dialog import Bot

UTC = dt.UTC
OPENS = dt.datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # the round before Thu 10 Dec opens
CLOSES = dt.datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def test_the_form_holds_the_questions_and_the_persons_answers(engine) -> None:  # type: ignore[no-untyped-def]
    bot = Bot(engine, now=dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    for line in ("tg add boc @bea", "tg add replication @alice as chair",
                 "tg add replication @bob", "tg add comms @carl as chair",
                 "meeting schedule boc second thursday 10:00 Europe/Brussels"):
        bot.admin(line)

    def form(who: str, slug: str = "replication"):  # type: ignore[no-untyped-def]
        return form_for(bot.sessions, bot.settings, "shell", who, slug)

    assert form("alice") is None  # no round has opened
    bot.now = OPENS
    engine_for(bot, RecordingSender()).tick(OPENS)

    mine = form("alice")
    assert mine is not None
    assert mine.slug == "replication" and mine.lang == "en"
    assert mine.title.startswith("Check-in: ") and "Replication" in mine.title
    assert len(mine.questions) == 3 and mine.questions[1] == "What is blocked, and by what?"
    assert mine.answers == ("", "", "")
    assert isinstance(mine.intro[0], Text) and mine.intro[0].style == "heading"

    assert not bot.ask("alice", None, "checkin replication Guide drafted").error
    assert not bot.ask("alice", None, "checkin replication edit 3 More money").error
    again = form("alice", "Replication")  # a slug in any case
    assert again is not None and again.answers == ("Guide drafted", "", "More money")
    theirs = form("bob")  # a member the round did not ask may answer too: his own answers
    assert theirs is not None and theirs.answers == ("", "", "")

    assert form("carl") is None  # not a member of Replication
    assert form("nobody") is None  # not known at all
    assert form("alice", "no-such-group") is None

    assert not bot.ask("alice", None, "me language fr").error
    french = form("alice")
    assert french is not None and french.lang == "fr"

    bot.now = CLOSES
    assert form("alice") is None  # its close has passed (before the tick closes it)
