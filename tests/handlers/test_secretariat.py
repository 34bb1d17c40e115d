"""Dialog tables for ``secretariat``: the cross-group action query, its CSV, and the summary.

Every filter is checked against the set of actions worked out by hand from the seed below
(today is Sat 28 Nov 2026 in Brussels).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.textrender import render_reply
from handlers.core.messages import File, Table, plain_spans
from storage.models import Action, ActionAssignee, Group, Identity
from tests.support.dialog import Bot


def person_id(s: Session, name: str) -> int:
    pid = s.scalar(
        select(Identity.person_id).where(Identity.platform == "shell", Identity.external_id == name)
    )
    assert pid is not None
    return pid


def group_id(s: Session, slug: str) -> int:
    gid = s.scalar(select(Group.id).where(Group.slug == slug))
    assert gid is not None
    return gid


# (group, title, status, due, closed_at (naive UTC), assignees); ids are 1.. in this order
ACTIONS: list[tuple[str | None, str, str, dt.date | None, dt.datetime | None, tuple[str, ...]]] = [
    ("repl", "R overdue old", "open", dt.date(2026, 11, 1), None, ("bob",)),
    ("repl", "R open future", "open", dt.date(2026, 12, 10), None, ("alice",)),
    ("repl", "R no due", "open", None, None, ("alice", "bob")),
    ("repl", "R done", "done", dt.date(2026, 11, 5), dt.datetime(2026, 11, 20, 12), ("bob",)),
    ("comms", "C overdue", "open", dt.date(2026, 11, 20), None, ("bob",)),
    ("comms", "C cancelled", "cancelled", dt.date(2026, 10, 1), dt.datetime(2026, 10, 2), ("carl",)),
    ("data", "D overdue, \"quoted\"", "open", dt.date(2026, 11, 27), None, ("carl",)),
    ("repl", "R done last month", "done", None, dt.datetime(2026, 10, 15, 8), ("alice",)),
    # 23:30 UTC on 31 Oct is 00:30 on 1 Nov in Brussels: done this (local) month
    ("data", "D done at midnight", "done", None, dt.datetime(2026, 10, 31, 23, 30), ("carl",)),
    (None, "Unfiled", "open", dt.date(2026, 11, 25), None, ("sam",)),
]


def seed(bot: Bot) -> None:
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg create repl Replication")
    bot.admin("tg create comms Communication and Dissemination")
    bot.admin("tg create data Data Management")
    bot.admin("tg add secretariat @sam")
    bot.admin("tg add repl @alice project Lighthouse One as chair")
    bot.admin("tg add repl @bob project Bravo City")
    bot.admin("tg add comms @bob project Bravo Comms")
    bot.admin("tg add comms @carl project Charlie")
    bot.admin("tg add data @carl project Delta")
    bot.admin("tg add boc @bea")
    with Session(bot.engine) as s, s.begin():
        for gslug, title, status, due, closed, who in ACTIONS:
            a = Action(
                group_id=group_id(s, gslug) if gslug else None, title=title, status=status,
                due=due, closed_at=closed, created_at=dt.datetime(2026, 11, 1, 9, 0),
            )
            a.assignees.extend(ActionAssignee(person_id=person_id(s, n)) for n in who)
            s.add(a)
    bot.admin("decision post repl,comms Adopt the playbook")
    bot.admin("decision link D-1 A-1")
    bot.say("carl", "#comms", "decision ack D-1 comms")


@pytest.fixture
def sec(bare_bot: Bot) -> Bot:
    seed(bare_bot)
    return bare_bot


def table_ids(bot: Bot, line: str, who: str = "sam") -> list[int]:
    reply = bot.ask(who, None, line)
    assert not reply.error, render_reply(reply)
    tables = [b for b in reply.blocks if isinstance(b, Table)]
    if not tables:
        return []
    return [int(plain_spans(row[0]).removeprefix("A-")) for row in tables[0].rows]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("secretariat actions", [1, 5, 10, 7, 2, 3]),
        ("secretariat actions open", [1, 5, 10, 7, 2, 3]),
        ("secretariat actions overdue", [1, 5, 10, 7]),
        ("secretariat actions all", [6, 1, 4, 5, 10, 7, 2, 3, 8, 9]),
        ("secretariat actions group repl", [1, 2, 3]),
        ("secretariat actions all group repl", [1, 4, 2, 3, 8]),
        ("secretariat actions group Data Management overdue", [7]),
        ("secretariat actions @bob", [1, 5, 3]),
        ("secretariat actions all @bob", [1, 4, 5, 3]),
        # the project is the one the assignee represents in the action's group
        ("secretariat actions project Bravo City", [1, 3]),
        ("secretariat actions project bravo comms", [5]),
        ('secretariat actions project "Lighthouse One" all', [2, 3, 8]),
        ("secretariat actions overdue @bob project Bravo City group repl", [1]),
        ("secretariat actions group repl @bob overdue project bravo city", [1]),
        ("secretariat actions @carl all project Delta", [7, 9]),
        ("secretariat actions @sam", [10]),
        ("secretariat actions group boc", []),
    ],
)
def test_actions_filters(sec: Bot, line: str, expected: list[int]) -> None:
    assert table_ids(sec, line) == expected
    # the admin sees the same
    assert table_ids(sec, line, who="root") == expected


def test_actions_table_columns(sec: Bot) -> None:
    out = sec.say("sam", None, "secretariat actions overdue")
    lines = out.splitlines()
    assert lines[0] == "== Overdue actions: 4 =="
    row = next(line for line in lines if line.startswith("A-1 "))
    assert "repl" in row and "Bravo City" in row and "@bob" in row
    assert "Sun 01 Nov 2026" in row and "overdue 27d" in row
    row10 = next(line for line in lines if line.startswith("A-10 "))
    assert row10.split()[1:3] == ["-", "-"]  # no group, no project
    assert "None." in sec.say("sam", None, "secretariat actions group boc")


def test_csv_parses_back_to_the_rows(sec: Bot) -> None:
    reply = sec.ask("sam", None, "secretariat actions all csv")
    assert not reply.error and reply.private
    files = [b for b in reply.blocks if isinstance(b, File)]
    assert len(files) == 1
    f = files[0]
    assert f.name == "actions-2026-11-28.csv" and f.mime == "text/csv"
    rows = list(csv.reader(io.StringIO(f.content.decode("utf-8"))))
    assert rows[0] == [
        "id", "group", "project", "assignees", "title", "status", "created", "due", "done",
        "days_overdue", "decision",
    ]
    by_id = {r[0]: r for r in rows[1:]}
    assert [r[0] for r in rows[1:]] == [f"A-{i}" for i in (6, 1, 4, 5, 10, 7, 2, 3, 8, 9)]
    assert by_id["A-1"] == [
        "A-1", "repl", "Bravo City", "bob", "R overdue old", "open", "2026-11-01",
        "2026-11-01", "", "27", "D-1",
    ]
    assert by_id["A-3"] == [
        "A-3", "repl", "Lighthouse One; Bravo City", "alice; bob", "R no due", "open",
        "2026-11-01", "", "", "", "",
    ]
    assert by_id["A-4"] == [
        "A-4", "repl", "Bravo City", "bob", "R done", "done", "2026-11-01", "2026-11-05",
        "2026-11-20", "", "",
    ]
    assert by_id["A-7"][4] == 'D overdue, "quoted"' and by_id["A-7"][9] == "1"
    assert by_id["A-9"][8] == "2026-11-01"  # closed at 00:30 local on 1 Nov
    assert by_id["A-6"][8] == "" and by_id["A-6"][5] == "cancelled"
    assert by_id["A-10"][1:4] == ["", "", "sam"]
    assert "10 actions (open and done) in actions-2026-11-28.csv." in render_reply(reply)
    # filters apply to the file as to the table
    reply = sec.ask("sam", None, "secretariat actions csv overdue @bob")
    f = next(b for b in reply.blocks if isinstance(b, File))
    rows = list(csv.reader(io.StringIO(f.content.decode("utf-8"))))
    assert [r[0] for r in rows[1:]] == ["A-1", "A-5"]
    assert rows[2][2] == "Bravo Comms"


def test_table_is_capped_and_csv_has_everything(sec: Bot) -> None:
    from handlers.secretariat._commands import TABLE_CAP

    bot = sec
    with Session(bot.engine) as s, s.begin():
        gid = group_id(s, "comms")
        s.execute(
            insert(Action),
            [
                {"group_id": gid, "title": f"bulk {i}", "status": "open",
                 "due": dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                 "created_at": dt.datetime(2026, 1, 1)}
                for i in range(TABLE_CAP + 20)
            ],
        )
    out = bot.say("sam", None, "secretariat actions overdue")
    total = TABLE_CAP + 20 + 4
    assert f"== Overdue actions: {total} ==" in out
    assert f"and {total - TABLE_CAP} more — add csv for all." in out
    assert sum(1 for line in out.splitlines() if line.startswith("A-")) == TABLE_CAP
    reply = bot.ask("sam", None, "secretariat actions overdue csv")
    f = next(b for b in reply.blocks if isinstance(b, File))
    rows = list(csv.reader(io.StringIO(f.content.decode("utf-8"))))
    assert len(rows) == total + 1
    dues = [r[7] for r in rows[1:]]
    assert dues == sorted(dues)


def test_summary(sec: Bot) -> None:
    out = sec.say("sam", None, "secretariat summary")
    lines = out.splitlines()
    assert lines[0] == "== Summary, 2026-11-28 =="
    assert lines[1].split() == [
        "group", "open", "overdue", "done", "in", "November", "2026", "next", "meeting",
        "unacknowledged",
    ]

    def cells(name: str) -> list[str]:
        row = next(line for line in lines if line.startswith(name + " "))
        return row.split()

    assert cells("repl") == ["repl", "3", "1", "1", "none", "scheduled", "1"]
    assert cells("comms") == ["comms", "1", "1", "0", "none", "scheduled", "0"]
    assert cells("data") == ["data", "1", "1", "1", "none", "scheduled", "0"]
    assert cells("boc") == ["boc", "0", "0", "0", "none", "scheduled", "0"]
    assert cells("(no group)") == ["(no", "group)", "1", "1", "0", "-", "-"]
    assert cells("total") == ["total", "6", "4", "2", "1"]


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("bob", "secretariat actions", "Only an admin or the secretariat can do secretariat actions."),
        ("bea", "secretariat actions csv", "Only an admin or the secretariat can do secretariat actions."),
        ("bob", "secretariat summary", "Only an admin or the secretariat can do secretariat summary."),
        ("sam", "secretariat actions group nowhere", "Unknown group 'nowhere'."),
        ("sam", "secretariat actions group", "Missing <group> after 'group'."),
        ("sam", "secretariat actions open overdue", "Choose one of open, overdue or all"),
        ("sam", "secretariat actions project Nope csv", "No one represents a project called 'Nope'."),
        ("sam", "secretariat actions project", "Missing project name after 'project'."),
        ("sam", "secretariat actions @ghost", "Unknown user @ghost"),
        ("sam", "secretariat actions <@U999>", "Unknown user <@U999>"),
        ("sam", "secretariat actions @bob @alice", "Name at most one <@user>."),
        ("sam", "secretariat actions bogus", "Unexpected 'bogus'."),
        ("sam", "secretariat summary now", "Unexpected 'now'."),
        ("sam", "secretariat", "secretariat needs a subcommand."),
    ],
)
def test_bad_input_and_refusals_write_nothing(sec: Bot, who: str, line: str, expected: str) -> None:
    before = sec.counts()
    reply = sec.ask(who, None, line)
    out = render_reply(reply)
    assert reply.error and reply.private, out
    assert expected in out
    assert "Usage:" in out
    assert sec.counts() == before


def test_csv_streams_in_batches_to_the_same_file(sec: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    import handlers.secretariat._commands as module

    whole = next(b for b in sec.ask("sam", None, "secretariat actions all csv").blocks
                 if isinstance(b, File))
    monkeypatch.setattr(module, "CSV_BATCH", 3)
    batched = next(b for b in sec.ask("sam", None, "secretariat actions all csv").blocks
                   if isinstance(b, File))
    assert batched.content == whole.content
    assert len(list(csv.reader(io.StringIO(batched.content.decode("utf-8"))))) == 11


def test_help_lists_the_family(sec: Bot) -> None:
    reply = sec.ask("bob", None, "help secretariat")
    table = next(b for b in reply.blocks if isinstance(b, Table))
    assert [plain_spans(row[0]) for row in table.rows] == [
        "secretariat actions [open|overdue|all] [group <group>] [<@user>] [project <name...>] [csv]",
        "secretariat summary",
        "secretariat deliveries [problems|pending|failed|missed|sent|all]",
        "secretariat retry <id>|failed",
        "secretariat report [<month>]",
        "secretariat dashboard [<days>]",
        "secretariat feeds [reset <@user>]",
    ]
