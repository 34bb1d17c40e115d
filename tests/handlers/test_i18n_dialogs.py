"""Nothing a person reads is left unmarked: every dialog of every feature, read in a
pseudo-language that wraps each message, shows no English outside the wrapped messages
(what is left is data: names, titles, ids, dates, command syntax)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from bot.textrender import render_blocks, render_reply
from storage.models import Group
from tests.support.dialog import Bot
from tests.support.i18n import install_pseudo, unmarked

# words of English sentences that no title, name, id or command syntax below contains
ENGLISH = re.compile(
    r"\b(the|is|are|was|were|not|your|you|has|have|been|this|that|with|will|can|there|"
    r"no one|nobody|none|yet|already|must|only|please|now|than|because|which|when)\b",
    re.IGNORECASE)

SCRIPT = [
    # (who, channel, line)
    ("root", None, "tg create repl Replication"),
    ("root", "#repl", "tg link repl"),
    ("root", None, "tg create boc Board of Coordinators"),
    ("root", "#boc", "tg link boc"),
    ("root", None, "tg create secretariat Secretariat"),
    ("root", None, "tg add repl @ana project Lighthouse as chair"),
    ("root", None, "tg add repl @bo"),
    ("root", None, "tg add boc @cy"),
    ("root", None, "tg add secretariat @sam"),
    ("root", None, "tg list"),
    ("ana", "#repl", "tg show"),
    ("ana", "#repl", "tg settings repl"),
    ("ana", "#repl", "tg settings repl nudges off"),
    ("ana", "#repl", "tg settings repl nudges on"),
    ("ana", None, "meeting schedule repl second wednesday 10:00 Europe/Brussels remind 1d"),
    ("ana", "#repl", "meeting next"),
    ("ana", "#repl", "meeting agenda Budget review"),
    ("ana", "#repl", "meeting agenda"),
    ("bo", "#repl", "meeting rsvp yes"),
    ("ana", None, "meeting skip repl 2027-01-13"),
    ("ana", None, "meeting calendar repl"),
    ("ana", "#repl", "action add @bo Draft guide due 2026-12-15"),
    ("ana", "#repl", "action add Map partners"),
    ("bo", None, "action list"),
    ("bo", None, "action show A-1"),
    ("bo", None, "action note A-1 Outline ready"),
    ("bo", None, "action due A-1 2026-12-20"),
    ("bo", None, "action done A-1"),
    ("bo", None, "action reopen A-1"),
    ("ana", None, "action find guide"),
    ("ana", None, "action list repl overdue"),
    ("cy", "#boc", "decision post repl Adopt guide v2"),
    ("ana", "#repl", "decision ack 1"),
    ("ana", None, "decision list"),
    ("ana", None, "decision show 1"),
    ("cy", "#boc", "proposal open boc Adopt guide v3 for repl closes 2026-12-05"),
    ("cy", None, "vote P-1 agree"),
    ("cy", None, "vote P-1 maybe"),
    ("cy", None, "proposal show P-1"),
    ("cy", None, "proposal list"),
    ("cy", None, "proposal remind P-1"),
    ("cy", None, "proposal close P-1"),
    ("cy", None, "proposal open boc Pick a city kind poll options Oslo | Riga anonymous"),
    ("sam", None, "secretariat actions"),
    ("sam", None, "secretariat summary"),
    ("sam", None, "secretariat deliveries"),
    ("ana", "#repl", "meeting start"),
    ("ana", "#repl", "#topic Budget"),
    ("ana", "#repl", "#info Costs rise"),
    ("ana", "#repl", "#action @bo Send figures"),
    ("ana", "#repl", "meeting end"),
    ("ana", "#repl", "meeting minutes"),
    ("bo", None, "me"),
    ("bo", None, "me away 2026-12-20 to 2026-12-24"),
    ("bo", None, "me away off"),
    ("root", None, "admin list"),
    ("bo", None, "help"),
    ("bo", None, "help action add"),
    # refusals and mistakes: one clear message and the usage
    ("bo", None, "frobnicate"),
    ("bo", None, "action frobnicate"),
    ("bo", None, "action add Thing due someday soon-ish"),
    ("bo", None, "action show A-999"),
    ("bo", None, "tg create x Y"),
    ("bo", None, "decision post repl Nope"),
    ("bo", None, "meeting schedule repl every blue moon 10:00"),
    ("bo", None, "tg settings repl digest sometimes"),
    ("bo", None, "me zone Mars/Olympus"),
]


@pytest.fixture
def pseudo_bot(bare_bot: Bot) -> Bot:
    lang = install_pseudo()
    for who in ("root", "ana", "bo", "cy", "sam"):
        reply = bare_bot.ask(who, None, f"me language {lang}")
        assert not reply.error, render_reply(reply)
    return bare_bot


def _leaks(text: str, *, posts: bool = True) -> list[str]:
    """Lines with English outside a message; ``posts=False``: leave out the lines the shell
    prints for what a command posted to a channel (``[shell:#repl] ...``: in the group's
    language, tested apart)."""
    return [line for line in unmarked(text).splitlines() if ENGLISH.search(line)
            and (posts or not line.startswith("[shell:"))]


def _groups_speak(bot: Bot, lang: str) -> None:
    """As tg settings <group> language would, with the test's language (it takes only the
    bot's languages): an answer for a channel is in its group's language."""
    with bot.sessions.begin() as s:
        for group in s.query(Group):
            group.settings = {**(group.settings or {}), "language": lang}


def test_every_reply_is_in_the_readers_language(pseudo_bot: Bot) -> None:
    bot = pseudo_bot
    leaks: list[str] = []
    for who, channel, line in SCRIPT:
        _groups_speak(bot, "qps")
        shown = render_reply(bot.ask(who, channel, line))
        assert "⟦" in shown, f"{line!r} answered nothing translated: {shown!r}"
        leaks += [f"{line!r}: {leak}" for leak in _leaks(shown, posts=False)]
    assert not leaks, "\n".join(leaks)


def test_every_post_is_in_its_groups_language(pseudo_bot: Bot) -> None:
    bot = pseudo_bot
    lang = "qps"
    bot.posted.clear()
    for who, channel, line in SCRIPT[:6]:
        bot.ask(who, channel, line)
    _groups_speak(bot, lang)
    bot.posted.clear()
    for who, channel, line in SCRIPT[6:]:
        bot.ask(who, channel, line)
    assert bot.posted, "the script posted nothing"
    leaks = [f"{ch.channel_id}: {leak}" for ch, blocks in bot.posted
             for leak in _leaks(render_blocks(blocks))]
    assert not leaks, "\n".join(leaks)
    with Session(bot.engine) as s:
        assert s.query(Group).count() >= 3


def test_a_checkin_round_is_in_each_readers_language(pseudo_bot: Bot) -> None:
    """The prompt, the reminder, the answers, the status, the Board's compilation and the
    escalations of a check-in round, read in the pseudo-language."""
    import datetime as dt

    from bot.governance import apply_preset
    from tests.handlers.test_checkins import CLOSES, hourly, run, seed
    from tests.handlers.test_delivery import RecordingSender

    bot = pseudo_bot
    with bot.sessions.begin() as s:
        apply_preset(s, bot.settings)
    seed(bot)
    for who in ("alice", "bea", "carl", "ed", "fay", "bob"):
        assert not bot.ask(who, None, "me language qps").error
    _groups_speak(bot, "qps")
    sender = RecordingSender()
    sent = run(bot, sender, hourly(dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC),
                                   dt.datetime(2026, 12, 5, 20, 0, tzinfo=dt.UTC)))
    assert any(key.startswith("checkin_prompt:") for _c, key, _t in sent)
    leaks: list[str] = []
    for who, line in [("alice", "checkin Guide out"), ("alice", "checkin"),
                      ("alice", "checkin edit 1 Guide out, in print"),
                      ("alice", "checkin edit 7 x"), ("bob", "checkin comms x"),
                      ("sam", "checkin status"), ("bea", "checkin show"),
                      ("bea", "checkin status"), ("alice", "checkin show 2026-13")]:
        shown = render_reply(bot.ask(who, None, line))
        assert "⟦" in shown, f"{line!r} answered nothing translated: {shown!r}"
        leaks += [f"{line!r}: {leak}" for leak in _leaks(shown, posts=False)]
    sent += run(bot, sender, hourly(CLOSES - dt.timedelta(hours=30),
                                    CLOSES + dt.timedelta(hours=1)))
    kinds = {key.split(":")[0] if not key.startswith("post:") else key.split(":")[1]
             for _c, key, _t in sent if "checkin" in key}
    assert kinds == {"checkin_prompt", "checkin_reminder", "checkin-close"}
    leaks += [f"{key}: {leak}" for _c, key, text in sent if "checkin" in key
              for leak in _leaks(text)]
    assert not leaks, "\n".join(leaks)
