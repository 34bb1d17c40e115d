"""``taskbot report decisions`` and ``taskbot report meetings`` as real subprocesses, on the
store a shell script filled, with the bot's clock at TASKBOT_CLOCK (issue 12, item 19)."""

from __future__ import annotations

import csv
import io
import json

from tests.bot.conftest import Taskbot

FORMULA = '=HYPERLINK("http://evil.example","x")'
SCRIPT = f"""\
:in #boc
decision post replication,comms {FORMULA} Adopt the playbook
:in #replication
meeting start
#topic The playbook
#info The draft is on the wiki
meeting end
"""


def test_reports_of_decisions_and_meetings(taskbot: Taskbot) -> None:
    taskbot.shell(SCRIPT)
    done = taskbot("report", "decisions", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["id"], r["date"], r["targets"], r["acknowledged"], r["pending"]) for r in rows] == [
        ("D-1", "2026-11-28", "replication; comms", "0/2", "replication; comms")]
    assert rows[0]["text"] == "'" + FORMULA + " Adopt the playbook"  # shown, never run
    assert done.stderr.strip() == "1 decisions written to stdout (csv)."

    out = taskbot.cwd / "meetings.json"
    done = taskbot("report", "meetings", "--format", "json", "--group", "Replication",
                   "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"1 meetings of replication written to {out} (json)."
    [meeting] = json.loads(out.read_text(encoding="utf-8"))
    assert (meeting["id"], meeting["group"], meeting["date"], meeting["status"],
            meeting["topics"]) == ("M-1", "replication", "2026-11-28", "ended", 1)
    assert meeting["started"].startswith("2026-11-28 10:0")  # Brussels, at the clock
    assert not list(taskbot.cwd.glob("*.part"))

    done = taskbot("report", "meetings", "--since", "2026-11-29", "--format", "md")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2  # header only
    assert done.stderr.strip() == "0 meetings since 2026-11-29 written to stdout (md)."
    done = taskbot("report", "decisions", "--group", "comms", "--since", "2026-11-28",
                   "--format", "json")
    assert [r["id"] for r in json.loads(done.stdout)] == ["D-1"]


def test_bad_report_options_are_one_line(taskbot: Taskbot) -> None:
    taskbot.shell("tg list\n")
    for args, last in [
        (("report", "decisions", "--group", "nowhere"), "taskbot: Unknown group 'nowhere'."),
        (("report", "meetings", "--output", "/nonexistent/m.csv"),
         "taskbot: cannot write /nonexistent/m.csv: No such file or directory"),
    ]:
        done = taskbot(*args)
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines()[-1] == last
        assert "unexpected" not in done.stderr and "Traceback" not in done.stderr
    done = taskbot("report", "meetings", "--since", "last week")
    assert done.returncode == 2
    assert "'last week' is not a date like 2026-11-01" in done.stderr
    assert "Traceback" not in done.stderr
