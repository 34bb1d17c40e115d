"""The workbench in the core: exports (CSV, JSON, Markdown) round trips, the monthly report
against numbers worked out by hand, its chart and files, and the link commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers import reports
from handlers.core.grammar import UserError
from handlers.core.messages import File, Table, plain_spans
from handlers.secretariat._commands import CSV_HEADER, ActionQuery, actions_csv
from storage.models import Action, Decision, Group, Identity, KvState
from tests.handlers.test_secretariat import seed
from tests.support.dialog import Bot

# --- exports ----------------------------------------------------------------------------------


@pytest.fixture
def sec(bare_bot: Bot) -> Bot:
    seed(bare_bot)
    return bare_bot


def export(bot: Bot, fmt: str, q: ActionQuery | None = None) -> tuple[str, int]:
    out = io.StringIO(newline="")
    with bot.sessions() as session:
        ctx = reports.reader_ctx(session, bot.settings, bot.now)
        n = reports.export_actions(ctx, q or ActionQuery(status="all"), out, fmt)
    return out.getvalue(), n


def chat_csv(bot: Bot, status: str = "all") -> bytes:
    with bot.sessions() as session:
        ctx = reports.reader_ctx(session, bot.settings, bot.now)
        return actions_csv(ctx, ActionQuery(status=status))[0]


def test_csv_export_is_the_chat_csv(sec: Bot) -> None:
    body, n = export(sec, "csv")
    assert n == 10
    assert body.encode("utf-8") == chat_csv(sec)
    reply = sec.ask("sam", None, "secretariat actions all csv")
    f = next(b for b in reply.blocks if isinstance(b, File))
    assert f.content == body.encode("utf-8")


def test_csv_and_json_round_trip_against_the_store(sec: Bot) -> None:
    body, _ = export(sec, "csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    records = json.loads(export(sec, "json")[0])
    assert [tuple(r.keys()) for r in records] == [CSV_HEADER] * 10
    with Session(sec.engine) as s:
        store = {a.id: a for a in s.scalars(select(Action))}
        slugs = dict(s.execute(select(Group.id, Group.slug)).all())
        assert {int(r["id"][2:]) for r in rows} == set(store)
        for row, rec in zip(rows, records, strict=True):
            a = store[int(row["id"][2:])]
            assert rec["id"] == row["id"]
            assert row["title"] == rec["title"] == a.title
            assert row["status"] == rec["status"] == a.status
            assert row["group"] == (slugs.get(a.group_id) or "")
            assert rec["group"] == slugs.get(a.group_id)
            assert row["due"] == (a.due.isoformat() if a.due else "")
            assert rec["due"] == (a.due.isoformat() if a.due else None)
            late = (sec.now.date() - a.due).days if (
                a.status == "open" and a.due and a.due < sec.now.date()) else None
            assert rec["days_overdue"] == late
            assert row["days_overdue"] == ("" if late is None else str(late))
            # every CSV cell is the JSON value as text
            for key in CSV_HEADER:
                value = rec[key]
                assert row[key] == ("" if value is None else str(value))
    # the quoted title survives both
    assert any(r["title"] == 'D overdue, "quoted"' for r in records)


def test_json_of_nothing_is_an_empty_array(bare_bot: Bot) -> None:
    body, n = export(bare_bot, "json")
    assert n == 0 and json.loads(body) == []


def test_markdown_export_escapes_cells(sec: Bot) -> None:
    with Session(sec.engine) as s, s.begin():
        s.scalars(select(Action).where(Action.id == 2)).one().title = "pipe | and\nnewline"
    body, n = export(sec, "md")
    lines = body.splitlines()
    assert lines[0] == "| " + " | ".join(CSV_HEADER) + " |"
    assert len(lines) == 2 + n == 12
    assert all(len(re.split(r"(?<!\\)\|", line)) == len(CSV_HEADER) + 2 for line in lines)
    assert "| pipe \\| and newline |" in body


def test_unknown_format_is_a_user_error(sec: Bot) -> None:
    with pytest.raises(UserError):
        export(sec, "xlsx")


def test_progress_is_reported(sec: Bot) -> None:
    seen: list[int] = []
    with sec.sessions() as session:
        ctx = reports.reader_ctx(session, sec.settings, sec.now)
        reports.export_actions(ctx, ActionQuery(status="all"), io.StringIO(), "csv",
                               seen.append)
        assert reports.count_actions(ctx, ActionQuery(status="all")) == 10
        assert reports.count_actions(ctx, ActionQuery(status="overdue")) == 4
    assert seen == [10]


def test_cli_writes_every_format(sec: Bot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """``taskbot report actions`` in process, on the test's store, with a progress bar when
    stderr is a terminal."""
    from bot import cli

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.chdir(tmp_path)
    for key in ("TASKBOT_TIMEZONE", "TASKBOT_ADMINS", "SLACK_BOT_TOKEN", "MATRIX_HOMESERVER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", sec.engine.url.render_as_string(hide_password=False))
    for fmt in ("csv", "json", "md"):
        tty = Tty()
        monkeypatch.setattr("sys.stderr", tty)
        out = tmp_path / f"actions.{fmt}"
        assert cli.main(["report", "actions", "--format", fmt, "--status", "all",
                         "--output", str(out)]) == 0
        assert "[" + "#" * 30 + "] 10/10" in tty.getvalue()
        assert f"10 actions (open and done) written to {out} ({fmt})." in tty.getvalue()
        # the store's clock is the real one here; only the days overdue depend on it
        text = out.read_text(encoding="utf-8")
        if fmt == "csv":
            got = list(csv.DictReader(io.StringIO(text)))
            want = list(csv.DictReader(io.StringIO(chat_csv(sec).decode("utf-8"))))
            strip = [{k: v for k, v in r.items() if k != "days_overdue"} for r in got]
            assert strip == [{k: v for k, v in r.items() if k != "days_overdue"} for r in want]
        elif fmt == "json":
            assert [r["id"] for r in json.loads(text)] == [
                r["id"] for r in json.loads(export(sec, "json")[0])]
        else:
            assert len(text.splitlines()) == 12
        assert not list(tmp_path.glob("*.part"))
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert cli.main(["report", "actions", "--group", "repl", "--format", "json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["A-1", "A-2", "A-3"]
    assert cli.main(["report", "actions", "--group", "nope"]) == 1


# --- the monthly report -----------------------------------------------------------------------

U = dt.datetime  # naive UTC, as stored

# (group, created, status, due, closed): worked out below for October and November 2026
FIXTURE = [
    ("repl", U(2026, 6, 10, 9), "open", dt.date(2026, 9, 30), None),  # 1
    ("repl", U(2026, 10, 5, 9), "done", dt.date(2026, 10, 20), U(2026, 10, 25, 12)),  # 2
    ("repl", U(2026, 10, 5, 9), "done", None, U(2026, 11, 10, 9)),  # 3
    ("repl", U(2026, 11, 2, 9), "open", dt.date(2026, 11, 15), None),  # 4
    ("comms", U(2026, 9, 1, 9), "cancelled", dt.date(2026, 9, 15), U(2026, 10, 10, 9)),  # 5
    # 23:30 Brussels on 31 Oct: created in October
    ("comms", U(2026, 10, 31, 22, 30), "open", dt.date(2026, 10, 31), None),  # 6
    # 00:30 Brussels on 1 Nov: created in November
    ("comms", U(2026, 10, 31, 23, 30), "open", None, None),  # 7
    # created late on 31 Oct, done at 00:30 on 1 Nov (local): open at October's end
    ("repl", U(2026, 10, 31, 22, 30), "done", None, U(2026, 10, 31, 23, 30)),  # 8
]


@pytest.fixture
def rep(bare_bot: Bot) -> Bot:
    bot = bare_bot
    now = bot.now
    # the groups and their members from before the decisions below: an acknowledgement
    # counts from someone who was a member when the decision was posted
    bot.now = dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC)
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg create repl Replication")
    bot.admin("tg create comms Communication")
    bot.admin("tg add secretariat @sam")
    bot.admin("tg add comms @carl")
    bot.admin("tg add repl @alice as chair")
    with Session(bot.engine) as s, s.begin():
        ids = dict(s.execute(select(Group.slug, Group.id)).all())
        for slug, created, status, due, closed in FIXTURE:
            s.add(Action(group_id=ids[slug], title=f"{slug} {created:%d %b}", status=status,
                         due=due, created_at=created, closed_at=closed))
    bot.admin("meeting schedule repl first tuesday 10:00")
    bot.admin("meeting schedule comms last thursday 14:00")
    bot.admin("meeting skip repl 2026-10-06")
    bot.admin("meeting move repl 2026-11-03 to 2026-11-05 11:00")
    bot.now = dt.datetime(2026, 10, 15, 8, tzinfo=dt.UTC)
    bot.admin("decision post repl,comms Adopt the playbook")
    bot.say("carl", None, "decision ack D-1 comms")
    bot.now = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    bot.admin("decision post repl Publish the guide")
    bot.say("alice", None, "decision ack D-2 repl")
    # meetings run (held is what was run, not what the calendar says): comms on 29 Oct,
    # repl three times on the day its November meeting was moved to; comms's 26 Nov date
    # passes with no meeting run
    bot.admin("tg link comms", channel="#comms")
    bot.admin("tg link repl", channel="#repl")
    bot.now = dt.datetime(2026, 10, 29, 13, tzinfo=dt.UTC)
    bot.admin("meeting start", channel="#comms")
    bot.now += dt.timedelta(hours=1)
    bot.admin("meeting end", channel="#comms")
    for hour in (9, 11, 14):
        bot.now = dt.datetime(2026, 11, 5, hour, tzinfo=dt.UTC)
        bot.admin("meeting start", channel="#repl")
        bot.now += dt.timedelta(minutes=50)
        bot.admin("meeting end", channel="#repl")
    bot.now = now
    return bot


def numbers(report: reports.MonthlyReport) -> dict[str, tuple[int, ...]]:
    return {g.slug: (g.open, g.overdue, g.done, g.decisions, g.acked, g.scheduled, g.held,
                     g.skipped, g.moved) for g in report.groups}


def build(bot: Bot, month: dt.date) -> reports.MonthlyReport:
    with bot.sessions() as session:
        return reports.build_report(reports.reader_ctx(session, bot.settings, bot.now), month)


def test_report_numbers_match_the_hand_computed_fixture(rep: Bot) -> None:
    october = build(rep, dt.date(2026, 10, 1))
    assert not october.partial
    #                  open overdue done dec acked scheduled held skipped moved
    assert numbers(october) == {
        "secretariat": (0, 0, 0, 0, 0, 0, 0, 0, 0),
        "repl": (3, 1, 1, 1, 0, 0, 0, 1, 0),  # open 1,3,8; overdue 1; done 2; 6 Oct skipped
        "comms": (1, 1, 0, 1, 1, 1, 1, 0, 0),  # open 6 (due 31 Oct); 29 Oct run
    }
    assert [(d.id, d.targets) for d in october.decisions] == [
        (1, [("comms", True), ("repl", False)])]
    assert [(m, c["repl"], c["comms"]) for m, c in october.history] == [
        (dt.date(2026, 5, 1), (0, 0), (0, 0)),
        (dt.date(2026, 6, 1), (1, 0), (0, 0)),
        (dt.date(2026, 7, 1), (1, 0), (0, 0)),
        (dt.date(2026, 8, 1), (1, 0), (0, 0)),
        (dt.date(2026, 9, 1), (1, 1), (1, 1)),  # 1 due 30 Sep; 5 due 15 Sep, closed in Oct
        (dt.date(2026, 10, 1), (3, 1), (1, 1)),
    ]
    november = build(rep, dt.date(2026, 11, 1))
    assert november.partial
    assert numbers(november) == {
        "secretariat": (0, 0, 0, 0, 0, 0, 0, 0, 0),
        # open 1,4 (both late); done 3 and 8; 3 Nov moved to 5 Nov, run three times that day
        "repl": (2, 2, 2, 1, 1, 1, 3, 0, 1),
        # open 6,7; 26 Nov on the calendar, but no meeting was run: not held
        "comms": (2, 1, 0, 0, 0, 1, 0, 0, 0),
    }
    assert november.history[-1][1] == {"secretariat": (0, 0), "repl": (2, 2), "comms": (2, 1)}
    # the current month agrees with secretariat summary
    summary = rep.ask("sam", None, "secretariat summary")
    table = next(b for b in summary.blocks if isinstance(b, Table))
    rows = {plain_spans(r[0]): [plain_spans(c) for c in r[1:4]] for r in table.rows}
    assert rows["repl"] == ["2", "2", "2"] and rows["comms"] == ["2", "1", "0"]


def test_report_command_posts_text_chart_and_files(rep: Bot, tmp_path: Path) -> None:
    reply = rep.ask("sam", None, "secretariat report october")
    assert not reply.error and not reply.private
    text = render_reply(reply)
    assert text.startswith("== Monthly report, October 2026 ==")
    assert "1 decision this month, 1 waiting for acknowledgement: D-1 (repl)" in text
    table = next(b for b in reply.blocks if isinstance(b, Table))
    assert [plain_spans(c) for c in table.rows[1]] == ["repl", "3", "1", "1", "0/1", "0", "0", "1",
                                                        "0"]
    assert [plain_spans(c) for c in table.rows[-1]] == ["total", "4", "2", "1", "1/2", "1", "1", "1",
                                                         "0"]
    files = {b.name: b for b in reply.blocks if isinstance(b, File)}
    assert set(files) == {"report-2026-10.png", "report-2026-10.md", "report-2026-10.html"}
    png = files["report-2026-10.png"]
    assert png.mime == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert reports.png_size(png.content) == (1000, 500)
    (tmp_path / png.name).write_bytes(png.content)
    md = files["report-2026-10.md"].content.decode()
    assert "| repl | 3 | 1 | 1 | 0/1 | 0 | 0 | 1 | 0 |" in md
    assert "![Open and overdue actions per group](report-2026-10.png)" in md
    page = files["report-2026-10.html"].content.decode()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert "repl waiting" in page and "comms acknowledged" in page


@pytest.mark.parametrize(("raw", "month"), [
    ("", dt.date(2026, 11, 1)), ("this month", dt.date(2026, 11, 1)),
    ("last month", dt.date(2026, 10, 1)), ("2026-03", dt.date(2026, 3, 1)),
    ("october", dt.date(2026, 10, 1)), ("dec", dt.date(2025, 12, 1)),
    ("Oct 2025", dt.date(2025, 10, 1)), ("november", dt.date(2026, 11, 1)),
])
def test_parse_month(raw: str, month: dt.date) -> None:
    assert reports.parse_month(raw, dt.date(2026, 11, 28)) == month


@pytest.mark.parametrize(("who", "line", "expected"), [
    ("sam", "secretariat report smarch", "'smarch' is not a month"),
    ("sam", "secretariat report 2026-13", "'2026-13' is not a month"),
    ("sam", "secretariat report 2027-01", "January 2027 has not started yet."),
    ("carl", "secretariat report", "Only an admin or the secretariat can do secretariat report."),
    ("carl", "secretariat dashboard", "Only an admin or the secretariat can do secretariat dashboard."),
    ("sam", "secretariat dashboard 91", "<days> is a whole number from 1 to 90."),
    ("carl", "secretariat feeds", "Only an admin or the secretariat can do secretariat feeds."),
    ("carl", "meeting feed repl", "Only a member of repl (or the secretariat) can do meeting feed repl."),
    ("zed", "meeting feed all", "Only a member of a group (or the secretariat) can do meeting feed all."),
    ("sam", "meeting feed", "Name a group, or all"),
    ("sam", "meeting feed nope", "Unknown group 'nope'"),
])
def test_refusals_write_nothing(rep: Bot, who: str, line: str, expected: str) -> None:
    rep.ask(who, None, "help")  # the person exists before counting
    before = rep.counts()
    reply = rep.ask(who, None, line)
    assert reply.error and reply.private
    assert expected in render_reply(reply)
    assert rep.counts() == before


def key_of(bot: Bot, name: str) -> str | None:
    with Session(bot.engine) as s:
        pid = s.scalar(select(Identity.person_id).where(Identity.external_id == name))
        assert pid is not None
        return reports.link_key(s, pid, bot.now)


def test_links_are_per_person_and_the_dashboard_secret_made_on_first_use(rep: Bot) -> None:
    feed = rep.ask("carl", None, "meeting feed comms")
    assert not feed.error and feed.private
    carl = key_of(rep, "carl")
    assert carl is not None and len(carl) == 32
    assert reports.feed_path(carl, "comms") in render_reply(feed)
    feeds = render_reply(rep.ask("sam", None, "secretariat feeds"))
    sam = key_of(rep, "sam")
    assert sam is not None and sam != carl  # each person their own
    for name in ("all", "comms", "repl", "secretariat"):
        assert reports.feed_path(sam, name) in feeds
    assert carl not in feeds
    assert reports.feed_path(carl, "all") in render_reply(rep.ask("carl", None,
                                                                    "meeting feed all"))
    with Session(rep.engine) as s:
        assert s.get(KvState, reports.SECRET_KEY) is None  # feeds need no signing secret
    dash = rep.ask("sam", None, "secretariat dashboard 3")
    assert dash.private and not dash.error
    expires = int((rep.now + dt.timedelta(days=3)).timestamp())
    with Session(rep.engine) as s:
        secret = reports.web_secret(s)
        assert secret is not None and len(secret) == 32
        who = s.scalar(select(Identity.person_id).where(Identity.external_id == "sam"))
        assert who is not None
        path = reports.dashboard_path(secret, who, sam, expires)
        assert path in render_reply(dash)
        good = {"exp": str(expires), "who": str(who),
                "sig": reports.dashboard_signature(secret, who, sam, expires)}
        assert reports.check_dashboard(s, rep.settings, good, rep.now) is None
        assert reports.check_dashboard(s, rep.settings, {**good, "sig": "0" * 32},
                                       rep.now) is not None
        assert "expired" in (reports.check_dashboard(
            s, rep.settings, good, rep.now + dt.timedelta(days=3)) or "")
        assert reports.web_secret(s) == secret  # made once


def test_public_url_makes_links_absolute(rep: Bot) -> None:
    import dataclasses

    rep.router.settings = dataclasses.replace(rep.settings, public_url="https://bot.example/")
    out = render_reply(rep.ask("sam", None, "meeting feed repl"))
    assert "https://bot.example/calendar/repl.ics?token=" in out
    out = render_reply(rep.ask("sam", None, "secretariat dashboard"))
    assert "https://bot.example/dashboard?exp=" in out and "TASKBOT_PUBLIC_URL" not in out


def test_decision_ids_in_fixture(rep: Bot) -> None:
    with Session(rep.engine) as s:
        assert list(s.scalars(select(Decision.id).order_by(Decision.id))) == [1, 2]
        assert s.scalar(select(Identity.id).where(Identity.external_id == "carl"))


# --- posted before each BoC meeting -----------------------------------------------------------


def test_delivery_posts_the_report_before_the_board_meets(rep: Bot) -> None:
    from handlers.core.messages import ChannelRef
    from handlers.delivery._engine import DeliveryEngine
    from tests.handlers.test_delivery import RecordingSender, run_ticks

    bot = rep
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg link boc", channel="#boc")
    for slug in ("boc", "repl", "comms", "secretariat"):
        bot.admin(f"tg settings {slug} digest off")
    # first Wednesday: 2 Dec 2026 14:00 CET; the report is due two days before, 30 Nov
    bot.admin("meeting schedule boc first wednesday 14:00 remind 1h")
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=bot.router.registry.kinds)
    run_ticks(engine, bot, dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC),
              dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC), dt.timedelta(hours=2))
    posted = [(ch, text, key) for ch, text, key in sender.sent if key.startswith("boc_report:")]
    assert len(posted) == 1, [k for _, _, k in sender.sent]
    channel, text, _ = posted[0]
    assert channel == ChannelRef("shell", "#boc")
    # a meeting on the 2nd reviews the month before, complete
    assert "Before the Board meets Wed 02 Dec 2026 14:00 CET: the report for November 2026" in text
    assert "[file report-2026-11.png" in text and "[file report-2026-11.html" in text
    assert "Open and overdue as of 30 Nov 2026 15:00 CET (month to date)" in text
    assert re.search(r"^repl +2 +2 +2 +1/1 +1 +3 +0 +1$", text, re.MULTILINE), text


def test_report_month_for_a_meeting() -> None:
    assert reports.report_month_for(dt.date(2026, 12, 2)) == dt.date(2026, 11, 1)
    assert reports.report_month_for(dt.date(2026, 12, 10)) == dt.date(2026, 11, 1)
    assert reports.report_month_for(dt.date(2026, 12, 15)) == dt.date(2026, 12, 1)
    assert reports.report_month_for(dt.date(2026, 1, 5)) == dt.date(2025, 12, 1)


@pytest.mark.parametrize("zone", ["Europe/Brussels", "America/St_Johns", "Asia/Kolkata",
                                  "Australia/Lord_Howe", "Pacific/Chatham", "UTC"])
def test_export_local_dates_match_direct_conversion(zone: str) -> None:
    """The export's per-hour cache of dates gives the same local dates as converting each
    instant, across DST changes and in zones with half-hour offsets and changes, for the
    instants as either database prints them (with and without microseconds)."""
    from zoneinfo import ZoneInfo

    from handlers.secretariat._commands import LocalDates

    tz = ZoneInfo(zone)
    convert = LocalDates(tz)
    t = dt.datetime(2026, 1, 1)
    while t < dt.datetime(2027, 1, 1):
        for minute, micro in ((0, 0), (29, 5), (30, 0), (31, 999999), (59, 123456)):
            at = t.replace(minute=minute, microsecond=micro)
            want = at.replace(tzinfo=dt.UTC).astimezone(tz).date().isoformat()
            assert convert(str(at)) == want, at
            assert (convert.by_hour.get(str(at)[:13]) or want) == want, at
        t += dt.timedelta(hours=1)
    assert convert(None) == ""


# --- links to the bot's web pages: the host when it is known, a hint when it is not ----------


@pytest.mark.parametrize("line", ["meeting feed repl", "meeting feed all",
                                  "secretariat feeds", "secretariat dashboard"])
def test_web_links_have_a_host_or_a_hint(bare_bot: Bot, line: str) -> None:
    import dataclasses

    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg add repl @sam")
    bot.admin("tg add secretariat @sam")
    bare = bot.say("sam", None, line)
    assert re.search(r"(?m)^(\w+: )?/(calendar|dashboard)\S*", bare), bare
    assert "TASKBOT_PUBLIC_URL" in bare and bare.count("TASKBOT_PUBLIC_URL") == 1
    bot.router.settings = dataclasses.replace(bot.settings,
                                              public_url="https://taskbot.example.org/")
    full = bot.say("sam", None, line)
    assert re.search(r"https://taskbot\.example\.org/(calendar|dashboard)", full), full
    assert "TASKBOT_PUBLIC_URL" not in full
    assert "example.org//" not in full
