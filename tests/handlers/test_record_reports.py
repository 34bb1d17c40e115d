"""``taskbot report decisions`` and ``taskbot report meetings`` in the core: the rows, each
format, the filters, and CSV cells neutralised as in the actions export (issue 12, item 19).

The clock is Saturday 28 Nov 2026 10:00 in Brussels (tests/conftest.py DEFAULT_NOW).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from handlers import reports
from handlers.core.directory import find_group
from handlers.core.grammar import UserError
from handlers.core.router import Incoming
from tests.handlers.test_decisions import seed
from tests.support.dialog import Bot

FORMULA = "=HYPERLINK(\"http://evil.example\",\"click\")"


def cap(bot: Bot, who: str, channel: str, line: str) -> None:
    reply = bot.router.hear(Incoming(platform="shell", user_id=who, text=line,
                                              channel_id=channel))
    assert reply is not None and not reply.error, line


@pytest.fixture
def rec(bare_bot: Bot) -> Bot:
    """D-1 (27 Nov, repl+comms, repl acknowledged, one linked action), D-2 (28 Nov, comms,
    its text a formula); M-1: a repl meeting on 28 Nov, 10:00-10:45 Brussels."""
    bot = bare_bot
    bot.now = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)  # members before D-1 is posted
    seed(bot)
    bot.now = dt.datetime(2026, 11, 27, 15, tzinfo=dt.UTC)
    assert "D-1" in bot.say("bea", "#boc", "decision post repl,comms Adopt the playbook")
    bot.now = dt.datetime(2026, 11, 28, 8, tzinfo=dt.UTC)
    assert not bot.ask("bob", "#repl", "decision ack D-1").error
    assert not bot.ask("bea", "#boc", f"decision post comms {FORMULA}").error
    bot.now = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
    assert not bot.ask("alice", "#repl", "meeting start").error
    cap(bot, "alice", "#repl", "#topic The playbook")
    cap(bot, "alice", "#repl", "#action @bob Draft chapter 1 due 2026-12-10")
    cap(bot, "bob", "#repl", "#info The draft is on the wiki")
    cap(bot, "alice", "#repl", "#agreed Chapter 1 first")
    cap(bot, "dan", "#repl", "#idea A second chapter")
    bot.now = dt.datetime(2026, 11, 28, 9, 45, tzinfo=dt.UTC)
    assert not bot.ask("alice", "#repl", "meeting end").error
    return bot


def export(bot: Bot, which: str, fmt: str, q: reports.RecordQuery | None = None
           ) -> tuple[str, int]:
    out = io.StringIO(newline="")
    fn = {"decisions": reports.export_decisions, "meetings": reports.export_meetings}[which]
    with bot.sessions() as session:
        ctx = reports.reader_ctx(session, bot.settings, bot.now)
        n = fn(ctx, q or reports.RecordQuery(), out, fmt)
    return out.getvalue(), n


def test_decisions_export_rows(rec: Bot) -> None:
    text, n = export(rec, "decisions", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert n == 2 and list(rows[0]) == list(reports.DECISIONS_EXPORT.header)
    assert rows[0] == {"id": "D-1", "date": "2026-11-27", "author": "bea",
                       "targets": "repl; comms", "acknowledged": "1/2", "pending": "comms",
                       "actions_open": "0", "actions": "0", "text": "Adopt the playbook"}
    # the formula is shown as text, as in the actions export
    assert rows[1]["id"] == "D-2" and rows[1]["text"] == "'" + FORMULA
    records = json.loads(export(rec, "decisions", "json")[0])
    assert records[0]["actions"] == 0 and records[1]["text"] == FORMULA
    md = export(rec, "decisions", "md")[0].splitlines()
    assert md[0].startswith("| id | date | author |") and len(md) == 4


def test_decisions_export_filters(rec: Bot) -> None:
    with rec.sessions() as session:
        repl = find_group(session, "repl")
    q = reports.RecordQuery(group=repl)
    assert [r["id"] for r in json.loads(export(rec, "decisions", "json", q)[0])] == ["D-1"]
    assert q.describe("decisions") == "decisions for repl"
    since = reports.RecordQuery(since=dt.date(2026, 11, 28))
    assert [r["id"] for r in json.loads(export(rec, "decisions", "json", since)[0])] == ["D-2"]
    with rec.sessions() as session:
        ctx = reports.reader_ctx(session, rec.settings, rec.now)
        assert reports.count_decisions(ctx, reports.RecordQuery()) == 2
        assert reports.count_decisions(ctx, since) == 1


def test_meetings_export_rows(rec: Bot) -> None:
    records = json.loads(export(rec, "meetings", "json")[0])
    assert records == [{
        "id": "M-1", "group": "repl", "date": "2026-11-28", "started": "2026-11-28 10:00",
        "ended": "2026-11-28 10:45", "minutes": 45, "status": "ended", "chairs": "alice",
        "attendees": 3, "topics": 1, "actions": 1, "agreed": 1, "decisions": 0,
    }]
    text, n = export(rec, "meetings", "csv")
    assert n == 1 and text.splitlines()[0] == ",".join(reports.MEETINGS_EXPORT.header)
    assert export(rec, "meetings", "csv", reports.RecordQuery(since=dt.date(2026, 11, 29))
                  ) == (",".join(reports.MEETINGS_EXPORT.header) + "\r\n", 0)
    assert export(rec, "meetings", "json", reports.RecordQuery(since=dt.date(2026, 11, 29))
                  ) == ("[]\n", 0)


def test_an_open_meeting_is_exported_as_open(rec: Bot) -> None:
    rec.now = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    assert not rec.ask("alice", "#repl", "meeting start").error
    records = json.loads(export(rec, "meetings", "json")[0])
    assert [(r["id"], r["status"], r["ended"], r["minutes"]) for r in records] == [
        ("M-1", "ended", "2026-11-28 10:45", 45), ("M-2", "open", None, None)]


def test_an_unknown_format_is_refused(rec: Bot) -> None:
    with pytest.raises(UserError, match="Unknown format 'xml'"):
        export(rec, "meetings", "xml")
