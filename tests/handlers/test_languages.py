"""Dialogs in the reader's language (French, German, Polish here; the catalogs' tests check
all eight), on both stores: replies in the caller's language and zone, posts in the group's,
personal messages in the person's; dates written in their language are read."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_blocks
from handlers.core.messages import ChannelRef, File
from storage.models import Base, Identity, Outbox, Person
from tests.handlers.test_delivery import RecordingSender, engine_for, run_ticks
from tests.support.dialog import Bot

UTC = dt.UTC


def _setup(bot: Bot) -> None:
    """repl (#repl), ana its chair, bo a member; meets the second Wednesday, 10:00 Brussels."""
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg create boc Board")
    bot.admin("tg link boc", channel="#boc")
    bot.admin("tg add repl @ana as chair")
    bot.admin("tg add repl @bo")
    bot.admin("tg add boc @cy")
    bot.admin("tg settings repl digest off")
    bot.admin("meeting schedule repl second wednesday 10:00 Europe/Brussels")


DIALOGS = [
    # (language, line, what the reply says)
    ("fr", "me language fr", "Le bot vous écrit désormais en français."),
    ("fr", "action add @bo Guide due 2026-12-15 group repl",
     "Action ajoutée : A-1 : Guide (échéance le mar. 15 déc. 2026) pour @bo dans repl."),
    ("fr", "action add Carte due vendredi prochain group repl", "(échéance le ven. 4 déc. 2026)"),
    ("fr", "action add Plan due fin du mois group repl", "(échéance le lun. 30 nov. 2026)"),
    ("fr", "meeting next repl", "Prochaine réunion de Replication : mer. 9 déc. 2026 10:00 CET"),
    ("fr", "action show A-99", "L'action A-99 n'existe pas.\nSyntaxe : action show <id>"),
    ("fr", "frob", "Commande inconnue : 'frob'."),
    ("de", "me language de", "Der Bot schreibt Ihnen jetzt auf Deutsch."),
    ("de", "action add @bo Guide due 15. Dezember group repl",
     "Hinzugefügt: A-1: Guide (fällig am Di., 15. Dez. 2026) für @bo in repl."),
    ("de", "action add Karte due übermorgen group repl", "(fällig am Mo., 30. Nov. 2026)"),
    ("de", "meeting next repl", "Nächste Sitzung von Replication: Mi., 9. Dez. 2026 10:00 CET"),
    ("de", "action show A-99", "Es gibt keine Aufgabe A-99.\nVerwendung: action show <id>"),
    ("pl", "me language pl", "Bot pisze teraz w języku: polski."),
    ("pl", "action add @bo Guide due 15 grudnia group repl",
     "Dodano A-1: Guide (termin wt., 15 gru 2026) dla @bo w grupie repl."),
    ("pl", "action add Mapa due jutro group repl", "(termin niedz., 29 lis 2026)"),
    ("pl", "meeting next repl", "Najbliższe spotkanie grupy Replication: śr., 9 gru 2026 10:00 CET"),
    ("pl", "action show A-99", "Brak zadania A-99.\nSkładnia: action show <id>"),
]


@pytest.mark.parametrize("lang", ["fr", "de", "pl"])
def test_a_dialog_in_the_callers_language(bare_bot: Bot, lang: str) -> None:
    bot = bare_bot
    _setup(bot)
    for said_in, line, expected in DIALOGS:
        if said_in == lang:
            shown = bot.say("ana", None, line)
            assert expected in shown, f"{line!r}:\n{shown}"
    # bo chose nothing: the same bot answers him in English
    assert "No action A-99." in bot.say("bo", None, "action show A-99")


def test_a_shared_channel_reads_its_groups_language(bare_bot: Bot) -> None:
    """A decision posted to repl (German) and read in boc (English). The poster reads in
    French, but the answer in the boc channel is for the channel: English; what she is
    answered alone is in French."""
    bot = bare_bot
    _setup(bot)
    bot.admin("tg settings repl language de")
    bot.say("cy", None, "me language fr")
    bot.posted.clear()
    reply = bot.say("cy", "#boc", "decision post repl Adopt guide v2")
    assert reply.startswith("Recorded decision D-1 for repl.")
    assert "== Décision D-1 ==" in bot.say("cy", None, "decision show D-1")
    by_channel = {ch.channel_id: render_blocks(blocks) for ch, blocks in bot.posted}
    assert "Gesendet von @cy am Sa., 28. Nov. 2026 für repl." in by_channel["#repl"]
    assert "Posted by @cy on Sat 28 Nov 2026 for repl." in by_channel["#boc"]


def _person_id(bot: Bot, user: str) -> int:
    with Session(bot.engine) as s:
        pid = s.scalar(select(Identity.person_id).where(Identity.external_id == user))
        assert pid is not None
        return int(pid)


def test_french_in_lisbon_from_nudge_to_forgetting(bare_bot: Bot) -> None:
    """The issue's "done": a member sets French and Lisbon, gets their nudges at 09:00
    Lisbon time in French, reads meeting next in their own time, exports their data and is
    forgotten on request, with nothing of them left that names them."""
    bot = bare_bot
    _setup(bot)
    bot.admin("tg add repl @marie project Lisboa Verde")
    assert "français" in bot.say("marie", None, "me language fr")
    assert "Europe/Lisbon" in bot.say("marie", None, "me zone Europe/Lisbon")
    bot.admin("action add @marie Rapport annuel due 2026-12-15 group repl")
    bot.admin("action add @bo Budget due 2026-12-15 group repl")

    # meeting next, in her time: 10:00 Brussels is 09:00 in Lisbon
    assert ("Prochaine réunion de Replication : mer. 9 déc. 2026 09:00 WET"
            in bot.say("marie", None, "meeting next repl"))

    # the nudge the day before it is due, at 09:00 Lisbon (09:00 UTC in winter), in French;
    # bo's at 09:00 Brussels (08:00 UTC), in English
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    run_ticks(engine, bot, dt.datetime(2026, 12, 14, 7, 0, tzinfo=UTC),
              dt.datetime(2026, 12, 14, 10, 0, tzinfo=UTC), dt.timedelta(minutes=15))
    sent = {ChannelRef(ch.platform, ch.channel_id).direct_user: (text, key)
            for ch, text, key in sender.sent}
    assert set(sent) == {"marie", "bo"}
    text, _key = sent["marie"]
    assert "Vos actions requièrent votre attention :" in text and "Rapport annuel" in text
    assert "Your action items need attention:" in sent["bo"][0]
    with Session(bot.engine) as s:
        due = {ChannelRef(r.platform, r.channel_id).direct_user: r.due_at.astimezone(UTC)
               for r in s.scalars(select(Outbox).where(Outbox.kind == "action_nudge"))}
    assert due == {"marie": dt.datetime(2026, 12, 14, 9, 0, tzinfo=UTC),
                   "bo": dt.datetime(2026, 12, 14, 8, 0, tzinfo=UTC)}

    # her data, to her alone, parsed back
    export = bot.ask("marie", None, "me export")
    assert export.secret and not export.error
    files = [b for b in export.blocks if isinstance(b, File)]
    data = json.loads(files[0].content)
    assert "Rapport annuel" in json.dumps(data, ensure_ascii=False)
    assert files[0].title == "Vos données"  # the file's title in her language too

    # forgotten: asked first, then confirmed; nothing names her afterwards
    marie = _person_id(bot, "marie")
    bot.admin("admin forget @marie")
    bot.admin("admin forget @marie confirm")
    with Session(bot.engine) as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).all():
                shown = json.dumps([str(v) for v in row], ensure_ascii=False)
                assert "marie" not in shown.lower(), (table.name, shown)
    # the row stays, under its pseudonym; the project she represented is the programme's
    with Session(bot.engine) as s:
        kept = s.get(Person, marie)
        assert kept is not None and kept.display_name == f"former member #{marie}"
