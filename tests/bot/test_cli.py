"""The ``taskbot`` command line, run as a real subprocess on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select, update
from sqlalchemy.orm import Session

from storage.db import make_engine
from storage.models import Base, Group, MeetingSeries, Outbox
from tests.bot.conftest import CLOCK, LOGIN, ROOT, Taskbot


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return {t.name: s.scalar(select(func.count()).select_from(t)) or 0
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def slugs(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return list(s.scalars(select(Group.slug).order_by(Group.id)))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: <command>"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["db"], "the following arguments are required: <db command>"),
        (["db", "downgrade"], "invalid choice: 'downgrade'"),
        (["governance", "apply"], "the following arguments are required: <file.toml>"),
        (["shell", "--as", "two words"], "'two words' is not a user name"),
        (["shell", "--in", "#no way"], "is not a channel name"),
        (["tick", "--at", "next tuesday"], "'next tuesday' is not an ISO date and time"),
        (["run", "--verbose"], "unrecognized arguments: --verbose"),
    ],
)
def test_bad_usage_is_argparse_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
             "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"},
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("usage: taskbot")
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.sqlite3").exists()  # nothing was opened


def test_console_script_and_module_are_the_same(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "taskbot"
    if not script.exists():
        pytest.skip("the taskbot console script is not installed in this environment")
    a = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    b = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout
    assert "shell" in a.stdout and "governance" in a.stdout


def test_shell_help_says_who_is_admin(tmp_path: Path) -> None:
    taskbot = Taskbot(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    done = taskbot("shell", "--help")
    assert done.returncode == 0
    assert "admin IN THE SHELL ONLY" in done.stdout
    assert f"({LOGIN})" in done.stdout


def test_db_upgrade_from_empty(taskbot: Taskbot) -> None:
    done = taskbot("db", "upgrade")
    assert done.returncode == 0, done.stderr
    head = re.search(r"is at revision (\w+) \(head\)", done.stdout)
    assert head is not None, done.stdout
    assert set(counts(taskbot.url)) == {t.name for t in Base.metadata.sorted_tables}
    assert slugs(taskbot.url) == []  # db upgrade migrates only; the preset waits for a start
    again = taskbot("db", "upgrade")
    assert again.returncode == 0 and f"revision {head.group(1)} (head)" in again.stdout


def test_db_upgrade_does_not_leak_the_password(tmp_path: Path) -> None:
    taskbot = Taskbot(tmp_path, "postgresql://bot:s3cret-pw@127.0.0.1:1/nowhere")
    done = taskbot("db", "upgrade")
    assert done.returncode == 1
    assert done.stderr.startswith("taskbot: database error:")
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_db_upgrade_prints_the_url_without_its_password(taskbot: Taskbot) -> None:
    """What every release prints (the Procfile runs ``taskbot db upgrade``)."""
    url = make_url(taskbot.url)
    if url.get_backend_name() == "sqlite":
        done = taskbot("db", "upgrade")
        assert done.returncode == 0, done.stderr
        assert f"Database {taskbot.url} is at revision" in done.stdout  # no password to hide
        return
    # the test cluster trusts every login, so any password connects; this one is pasted raw,
    # and a second rides in the query string
    raw = (f"postgresql://{url.username}:Pw/s3:cr%3t?Zz@{url.host}:{url.port}/{url.database}"
           "?password=Qq%2Fs3cret%40Xx")
    done = Taskbot(taskbot.cwd, raw)("db", "upgrade")
    assert done.returncode == 0, done.stderr
    for secret in ("Pw", "s3:cr", "Zz", "Qq", "s3cret", "Xx"):
        assert secret not in done.stdout + done.stderr
    assert (f"Database postgresql://{url.username}:***@{url.host}:{url.port}/{url.database}"
            "?password=*** is at revision") in done.stdout


@pytest.mark.parametrize(
    "url", [
        # unparsable: the parser's own message would quote the URL
        "postgresql://bot:Pw1@Zz:9@127.0.0.1:1/tb",
        # parses, but the driver would try the host "Zz@127.0.0.1" and name it in its error
        "postgresql://bot:Pw1@Zz@127.0.0.1:1/tb",
        # parses and fails to connect: the one error line names no password
        "postgresql://bot:Pw1/Zz@127.0.0.1:1/tb?sslpassword=Qq1&password=Pw2",
    ])
def test_db_errors_never_show_the_password(tmp_path: Path, url: str) -> None:
    done = Taskbot(tmp_path, url)("db", "upgrade")
    assert done.returncode == 1
    out = done.stdout + done.stderr
    log = tmp_path / "taskbot.log"
    out += log.read_text() if log.exists() else ""
    for secret in ("Pw1", "Zz", "Qq1", "Pw2"):
        assert secret not in out, out
    assert "Traceback" not in out
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_bad_timezone_setting_is_one_line(tmp_path: Path) -> None:
    taskbot = Taskbot(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    done = taskbot("tick", TASKBOT_TIMEZONE="Nowhere/Special")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "taskbot: configuration: TASKBOT_TIMEZONE='Nowhere/Special' is not a time zone "
        "(use an Area/City name, like Europe/Brussels)."
    )


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    db = tmp_path / "from-dotenv.sqlite3"
    (tmp_path / ".env").write_text(f'# settings\nDATABASE_URL="sqlite:///{db}"\n')
    taskbot = Taskbot(tmp_path, "")
    env = taskbot.env()
    del env["DATABASE_URL"]
    done = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert db.exists()


GOOD = """
[[group]]
slug = "repl"
name = "Replication"
channels = ["shell:#repl"]
members = [{ user = "shell:alice", project = "Lighthouse One", role = "chair" }]

[group.meeting]
rule = "2nd wednesday"
time = "10:00"
"""


def test_governance_apply_twice(taskbot: Taskbot) -> None:
    path = taskbot.cwd / "gov.toml"
    path.write_text(GOOD)
    dry = taskbot("governance", "apply", "gov.toml", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Dry run, nothing written.")
    assert "created group repl: Replication" in dry.stdout
    assert slugs(taskbot.url) == []
    first = taskbot("governance", "apply", "gov.toml")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "created group repl: Replication",
        "linked shell:#repl to repl",
        "added shell:alice to repl as chair, representing Lighthouse One",
        "meeting of repl: 2nd wednesday at 10:00 Europe/Brussels, reminders 7d,1d,1h",
        "4 changes",
    ]
    second = taskbot("governance", "apply", str(path))
    assert second.returncode == 0
    assert second.stdout.strip() == "no changes"
    # an applied file is not the preset: the store keeps only what the file declared
    assert slugs(taskbot.url) == ["repl"]
    out = taskbot.shell("tg show repl\n")
    assert "Lighthouse One" in out and "second Wednesday at 10:00 Europe/Brussels" in out


def test_governance_apply_keeps_chat_changes_until_forced_and_export_round_trips(
        taskbot: Taskbot) -> None:
    """A chair's change in chat since the last apply is named and kept (nothing written, exit
    1) unless --force; a field the file omits (the link) is never removed; the export applies
    with no changes, and an unwritable --output is one line."""
    (taskbot.cwd / "gov.toml").write_text(GOOD)
    assert taskbot("governance", "apply", "gov.toml").returncode == 0
    taskbot.shell("meeting schedule repl 2nd wednesday 10:30 link https://meet.example.org/r\n",
                  "--as", "alice", "--in", "#repl")
    before = counts(taskbot.url)
    kept = taskbot("governance", "apply", "gov.toml")
    assert kept.returncode == 1, kept.stdout + kept.stderr
    assert "nothing was written: this would undo changes made in chat" in kept.stderr
    assert "meeting of repl" in kept.stderr and "alice" in kept.stderr
    assert "--force" in kept.stderr and "Traceback" not in kept.stderr
    assert counts(taskbot.url) == before
    assert "10:30" in taskbot.shell("meeting next repl\n")
    forced = taskbot("governance", "apply", "gov.toml", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "overrode (--force) changes made in chat since the last apply" in forced.stdout
    shown = taskbot.shell("tg show repl\n")
    assert "at 10:00" in shown and "https://meet.example.org/r" in shown  # link kept
    exported = taskbot("governance", "export", "--output", "export.toml")
    assert exported.returncode == 0, exported.stderr
    text = (taskbot.cwd / "export.toml").read_text()
    assert 'join = "request"' in text and "https://meet.example.org/r" in text
    again = taskbot("governance", "apply", "export.toml")
    assert again.returncode == 0 and again.stdout.strip() == "no changes", again.stdout
    bad = taskbot("governance", "export", "--output", "/nonexistent/x.toml")
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("taskbot: cannot write /nonexistent/x.toml: "
                                  "No such file or directory")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOOD.replace('slug = "repl"', 'slug = "Repl!"'), "slug 'Repl!' must be lowercase"),
        (GOOD.replace('time = "10:00"', 'time = "noon"'), "time 'noon' must be HH:MM"),
        (GOOD.replace("[[group]]", "[[group]\n"), "is not valid TOML"),
        (GOOD.replace('"2nd wednesday"', '"when pigs fly"'), "group repl meeting:"),
    ],
)
def test_invalid_governance_file_writes_nothing(taskbot: Taskbot, content: str,
                                                message: str) -> None:
    assert taskbot("db", "upgrade").returncode == 0
    before = counts(taskbot.url)
    (taskbot.cwd / "bad.toml").write_text(content)
    done = taskbot("governance", "apply", "bad.toml")
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert counts(taskbot.url) == before


def test_governance_missing_file(taskbot: Taskbot) -> None:
    done = taskbot("governance", "apply", "absent.toml")
    assert done.returncode == 1
    assert done.stderr.strip() == "taskbot: Cannot read absent.toml: No such file or directory"


def test_governance_preset_command(taskbot: Taskbot) -> None:
    first = taskbot("governance", "preset")
    assert first.returncode == 0, first.stderr
    assert "created group boc: Board of Coordinators" in first.stdout
    assert taskbot("governance", "preset").stdout.strip() == "no changes"
    assert slugs(taskbot.url) == ["boc", "replication", "comms", "finance", "data",
                                  "monitoring", "secretariat"]


def test_run_without_platform_starts_the_shell(taskbot: Taskbot) -> None:
    done = taskbot("run", stdin="tg list\n")
    assert done.returncode == 0, done.stderr
    assert "No platform configured" in done.stderr
    assert "Board of Coordinators" in done.stdout  # the preset, on first start
    assert "secretariat" in done.stdout


def test_tick_delivers_what_is_due_once(taskbot: Taskbot) -> None:
    """``tick --at`` runs the delivery engine: the preset's reminders, each once."""
    assert taskbot.shell("tg list\n")  # first start: the preset, with its meeting series
    engine = make_engine(taskbot.url)
    with Session(engine) as s, s.begin():
        # the store was set up on 28 Nov 2026 (the fixture's clock), so December's meeting
        # and its reminders are planned whatever day the test runs
        s.execute(update(Group).values(settings={"digest": "off"}))
        s.add(Outbox(key="slack-one", kind="meeting_reminder", platform="slack",
                     channel_id="C1", payload={}, due_at=dt.datetime(2026, 12, 1, 7, 0),
                     status="pending", attempts=0, created_at=dt.datetime(2026, 11, 1)))
    engine.dispose()
    # the BoC meets on the first Tuesday, 1 Dec 2026 at 10:00 in Brussels (09:00 UTC);
    # 09:00 local is the 1-hour reminder's time
    done = taskbot("tick", "--at", "2026-12-01T09:00")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[shell:#boc] == Reminder: the Board of Coordinators meeting is in 1 hour" in out
    assert ("delivered meeting reminder to shell:#boc (due 2026-12-01 09:00 CET)" in out)
    assert "waiting for a platform this process is not connected to: slack 1" in out
    again = taskbot("tick", "--at", "2026-12-01T08:00+00:00")
    assert again.returncode == 0
    assert "0 delivered" in again.stdout and "Reminder" not in again.stdout


def test_shell_switches_identity_and_channel(taskbot: Taskbot) -> None:
    script = """
# the login user is an admin in the shell
tg add replication @alice project Lighthouse One as chair
tg add replication @bob
:as bob
tg add replication @carol
:as @alice
tg add replication @carol project Follower City
:in #replication
action add @bob Draft the replication plan
tg show
:in #comms
tg show
action add Write the newsletter
:as boss
:in general
tg show
"""
    out = taskbot.shell(script, status=1)  # some lines are refused on purpose
    blocks = out.split("You are now ")
    assert "Added @alice in replication as chair" in blocks[0]
    # bob is a member, not a chair: refused
    assert "Only a chair of replication, the secretariat or an admin can do tg add." in blocks[1]
    alice = blocks[2]
    assert "Added @carol in replication as member, representing Follower City." in alice
    # in #replication the channel's group is meant
    assert "Now in #replication." in alice
    assert "Added A-1: Draft the replication plan for @bob in replication." in alice
    assert "== Replication (replication) ==" in alice
    # in #comms it is comms, where alice is not a member
    assert "== Communication and Dissemination (comms) ==" in alice
    assert "Only a member of comms (or the secretariat) can do action add." in alice
    assert "Name a group: this channel is not linked to one." in blocks[3]


def test_shell_bad_lines_and_meta_commands(taskbot: Taskbot) -> None:
    script = """
tg add
:frobnicate
:as
:as two words
:in
frobnicate now
/tg list
!help tg
:help
:quit
tg list
"""
    out = taskbot.shell(script, "--as", "dana", "--in", "#replication", status=1)
    lines = out.splitlines()
    # a bad command: one line saying what was wrong, then the usage, and the shell goes on
    i = lines.index("Missing <group>.")
    assert lines[i + 1] == "Usage: tg add <group> <@user> [project <name...>] [as chair|member]"
    assert "Unknown shell command :frobnicate. Try :help." in lines
    assert "You are dana. Usage: :as <user>" in lines
    assert any("'two words' is not a user name" in line for line in lines)
    assert "You are in #replication. Usage: :in <channel>" in lines
    assert "Unknown command 'frobnicate'." in lines
    assert out.count("Board of Coordinators") == 1  # /tg list ran; tg list after :quit did not
    assert "== tg: task groups" in out  # !help tg
    assert ":as <user>" in out  # :help
    assert "dana@#replication>" not in out  # no prompts when stdin is not a terminal


def _threads_taking(pid: int, signum: int) -> list[str]:
    """The threads of ``pid`` other than its main one that do not block ``signum`` (Linux)."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        pytest.skip("needs /proc to read each thread's signal mask")
    taking = []
    for task in tasks.iterdir():
        if task.name == str(pid):
            continue
        with contextlib.suppress(FileNotFoundError):  # a thread that has just ended
            status = (task / "status").read_text()
            mask = re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M)
            assert mask, status
            blocked = int(mask.group(1), 16)
            if not blocked & (1 << (signum - 1)):
                taking.append((task / "comm").read_text().strip())
    return taking


def _wait_reading_the_terminal(pid: int) -> None:
    """Until the main thread of ``pid`` waits in ``select`` on its terminal (fd 0), as read
    from /proc. Keys typed earlier only queue, but a Ctrl-C that lands while readline is still
    handling the previous key is lost until the next one: CPython's readline loop looks at
    signals only when its ``select`` is interrupted. Waiting for the wait, not a sleep."""
    syscall, wchan = Path(f"/proc/{pid}/syscall"), Path(f"/proc/{pid}/wchan")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            call, where = syscall.read_text().split(), wchan.read_text()
        except OSError:  # no /proc here: the old guess, readline is set up by then
            _wait_reading_the_terminal(pid)
            return
        if len(call) > 1 and call[1] == "0x1" and "poll" in where:  # select(1, {0}, ...)
            return
        time.sleep(0.01)
    raise AssertionError(f"the shell never waited on its terminal: {call} {where}")


# Runs the bot's shell with an audit hook that notes how many threads exist when readline
# is first imported (the import that writes LINES and COLUMNS into the environment).
_COUNT_THREADS_AT_READLINE = """
import runpy, sys, threading
notes = sys.argv[1]
def note(event, args):
    if event == "import" and args[0] == "readline":
        with open(notes, "a") as f:
            f.write(f"{threading.active_count()}\\n")
sys.addaudithook(note)
sys.argv = ["bot", "shell", "--in", "#data"]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


def test_the_shell_loads_readline_before_any_other_thread(taskbot: Taskbot) -> None:
    """readline's first import calls ``setenv``; with the web or delivery thread already
    running (each reads the environment: time zones, libfaketime), that raced into a
    segfault of the shell at start, about one start in eighty under scripts/test-at."""
    pty = pytest.importorskip("pty")
    import os
    import select

    notes = taskbot.cwd / "threads-at-readline"
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(taskbot.cwd)
        os.execve(sys.executable, [sys.executable, "-c", _COUNT_THREADS_AT_READLINE,
                                   str(notes)], taskbot.env())
    output = b""
    deadline = time.monotonic() + 60
    while b"boss@#data> " not in output and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                output += os.read(fd, 4096)
            except OSError:
                break
    with contextlib.suppress(OSError):
        os.write(fd, b"\x04")  # Ctrl-D
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"boss@#data> " in output, output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert set(notes.read_text().split()) == {"1"}  # the main thread alone


def test_shell_prompts_on_a_terminal(taskbot: Taskbot) -> None:
    """On a pseudo-terminal the shell prompts ``user@channel> ``, Tab completes, Ctrl-C drops
    the line and Ctrl-D ends it."""
    pty = pytest.importorskip("pty")
    import os
    import select
    import signal

    env = taskbot.env()
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(taskbot.cwd)
        os.execve(sys.executable, [sys.executable, "-m", "bot", "shell", "--in", "#data"], env)
    output = b""

    def read_until(marker: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 60
        while marker not in output:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            try:
                chunk = os.read(fd, 4096) if ready else b""
            except OSError:  # EIO: the child has gone and closed the terminal
                chunk = b""
            if not chunk:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                raise AssertionError(
                    f"{marker!r} not in {output.decode(errors='replace')!r}"
                    f" (the shell ended with {os.waitstatus_to_exitcode(status)})"
                )
            output += chunk

    def drain() -> None:
        nonlocal output
        while select.select([fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child has gone: the pty is closed
                return
            if not chunk:
                return
            output += chunk

    read_until(b"boss@#data> ")
    # Ctrl-C must reach the main thread, whose readline waits on the terminal: any other
    # thread (the delivery ticker) that takes SIGINT swallows it until the next key
    assert _threads_taking(pid, signal.SIGINT) == []
    _wait_reading_the_terminal(pid)
    os.write(fd, b"tg sh\t")  # Tab completes the subcommand
    read_until(b"tg show ")
    _wait_reading_the_terminal(pid)
    os.write(fd, b"\n")
    read_until(b"Data Management (data)")
    read_until(b"boss@#data> ")
    _wait_reading_the_terminal(pid)
    # Ctrl-C drops the line being typed and prompts again, as Python's REPL does
    os.write(fd, b"frobnicate")
    read_until(b"frobnicate")
    _wait_reading_the_terminal(pid)  # readline has finished with the last key
    os.write(fd, b"\x03")
    read_until(b"^C")
    mark = len(output)
    read_until(b"boss@#data> ")
    _wait_reading_the_terminal(pid)
    os.write(fd, b"tg show\n")
    read_until(b"Data Management (data)")
    read_until(b"boss@#data> ")
    assert b"Unknown command" not in output[mark:]
    _wait_reading_the_terminal(pid)
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError):  # the child may have just gone
            os.write(fd, b"\x04")  # Ctrl-D
        drain()
        done, status = os.waitpid(pid, os.WNOHANG)
        for _ in range(20):
            if done:
                break
            time.sleep(0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"Ctrl-D did not end the shell: {output.decode()}")
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Traceback" not in output


def test_shell_on_an_unreachable_database(tmp_path: Path) -> None:
    taskbot = Taskbot(tmp_path, "postgresql://nobody@127.0.0.1:1/none")
    done = taskbot("shell", stdin="tg list\n")
    assert done.returncode == 1
    assert done.stderr.startswith("taskbot: database error:")
    assert "Traceback" not in done.stderr


def test_first_start_applies_the_preset_once(taskbot: Taskbot) -> None:
    out = taskbot.shell("tg list\n")
    for name in ("Board of Coordinators", "Replication", "Communication and Dissemination",
                 "Business Models and Financing", "Data Management",
                 "Monitoring and Evaluation", "Secretariat"):
        assert name in out
    before = counts(taskbot.url)
    assert before["meeting_series"] == 7 and before["channels"] == 7
    taskbot.shell("tg list\n")
    assert counts(taskbot.url) == before


def test_preset_is_not_applied_over_existing_groups(taskbot: Taskbot) -> None:
    (taskbot.cwd / "gov.toml").write_text(GOOD)
    assert taskbot("governance", "apply", "gov.toml").returncode == 0
    taskbot.shell("tg list\n")
    assert slugs(taskbot.url) == ["repl"]
    engine = make_engine(taskbot.url)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(MeetingSeries)) == 1
    engine.dispose()


def upcoming(rule: str, count: int) -> list[dt.date]:
    """The next ``count`` local dates of a monthly rule in Brussels, as a user would see them
    on the program's clock (the fixture's)."""
    from zoneinfo import ZoneInfo

    from dateutil.rrule import rrulestr

    zone = ZoneInfo("Europe/Brussels")
    now = dt.datetime.fromisoformat(CLOCK).astimezone(zone).replace(tzinfo=None)
    start = (now - dt.timedelta(days=40)).replace(hour=10, minute=0, second=0, microsecond=0)
    rule_set = rrulestr(rule, dtstart=start)
    # a margin of an hour keeps a test that starts just before 10:00 on a meeting day stable
    return [d.date() for d in rule_set.xafter(now + dt.timedelta(hours=1), count=count)]


def test_scripted_session_covers_every_command_family(taskbot: Taskbot) -> None:
    """One stdin script through the real program: every noun of the contract, as each role."""
    second, third = upcoming("RRULE:FREQ=MONTHLY;BYDAY=+2WE", 3)[1:]
    script = f"""
# boss is the login user: an admin in the shell
help
help action
tg list
tg add secretariat @sam
tg add boc @bea project Lighthouse One
tg add replication @alice project Lighthouse One as chair
tg add replication @bob project Follower Town
:as alice
:in #replication
tg show
meeting schedule replication 2nd wednesday 10:00 Europe/Brussels remind 7d,1d,1h link https://meet.example.org/repl
meeting next
meeting skip replication {second.isoformat()}
meeting move replication {third.isoformat()} to {(third + dt.timedelta(days=1)).isoformat()} 14:00
meeting agenda Review the replication plans
meeting agenda
meeting calendar
action add @bob Draft the replication plan due in 2 weeks
action add Collect city feedback
action list
action note 2 waiting for two cities
action done 2
action show 2
:as bob
action list mine
meeting schedule replication last friday 09:00
:as bea
:in #boc
decision post replication,comms Adopt the common monitoring framework
:as bob
:in #replication
decision ack 1
decision list
decision show 1
secretariat summary
:as sam
secretariat actions all
secretariat actions all csv
secretariat summary
"""
    out = taskbot.shell(script, status=1)  # some lines are refused on purpose
    expected = [
        "== Taskbot commands ==",
        "== action: action items",
        "Board of Coordinators",
        "Added @alice in replication as chair, representing Lighthouse One.",
        "== Replication (replication) ==",
        "shell:#replication",
        "Lighthouse One",
        "Added A-1: Draft the replication plan",
        "Added A-2: Collect city feedback",
        "Completed A-2",
        "waiting for two cities",
        "Only a chair of replication, the secretariat or an admin can do meeting schedule.",
        "Recorded decision D-1",
        "[shell:#replication] == BoC decision D-1 ==",
        "[shell:#comms] == BoC decision D-1 ==",
        "@bob acknowledged D-1 for replication",
        "Adopt the common monitoring framework",
        "Only an admin or the secretariat can do secretariat summary.",
    ]
    for line in expected:
        assert line in out, f"{line!r} missing from:\n{out}"
    assert "Traceback" not in out and "Sorry, something went wrong" not in out
    # the meeting commands
    assert "second Wednesday at 10:00" in out
    assert f"{third + dt.timedelta(days=1):%a %d %b %Y} 14:00" in out
    assert "Review the replication plans" in out
    # files: the calendar and the csv are saved in ./exports, nothing in the working directory
    assert not list(taskbot.cwd.glob("*.ics")) and not list(taskbot.cwd.glob("*.csv"))
    ics = sorted((taskbot.cwd / "exports").glob("*.ics"))
    csvs = sorted((taskbot.cwd / "exports").glob("*.csv"))
    assert len(ics) == 1 and len(csvs) == 1, out
    assert f"Saved {ics[0]}" in out and f"Saved {csvs[0]}" in out
    assert "BEGIN:VCALENDAR" in ics[0].read_text()
    assert "EXDATE" in ics[0].read_text()
    rows = csvs[0].read_text().splitlines()
    assert rows[0].startswith("id,") and len(rows) == 3  # header, A-1, A-2
    assert any("Draft the replication plan" in r for r in rows)


def test_csv_export_never_overwrites(taskbot: Taskbot) -> None:
    out = taskbot.shell("secretariat actions csv\nsecretariat actions csv\n")
    exports = taskbot.cwd / "exports"
    files = sorted(p.name for p in exports.glob("*.csv"))
    assert len(files) == 2, out
    first = min(files, key=len)
    assert set(files) == {first, first.removesuffix(".csv") + "-1.csv"}
    for name in files:
        assert f"Saved {exports.resolve() / name}" in out


def test_a_script_exits_1_when_any_line_failed(taskbot: Taskbot) -> None:
    """Every line still runs; the exit status tells a script that one was refused."""
    assert taskbot.shell("tg list\n") and taskbot.shell("help\n:in #boc\n")
    for bad in ("tg show nogroup\n", "frobnicate\n", ":as two words\n",
                "action add @bob x due yesterday group nogroup\n"):
        out = taskbot.shell(bad + "tg list\n", status=1)
        assert "Board of Coordinators" in out  # the line after the failed one ran


def test_piping_into_head_stops_quietly(taskbot: Taskbot) -> None:
    done = subprocess.run(
        ["bash", "-c", f"printf 'help\\n%.0s' {{1..200}} | {sys.executable} -m bot shell "
         "| head -n 1; exit ${PIPESTATUS[1]}"],
        cwd=taskbot.cwd, env=taskbot.env(), capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 1
    assert "ERROR" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 141  # 128 + SIGPIPE, as Unix tools end


def test_report_to_an_unwritable_place_is_one_line(taskbot: Taskbot) -> None:
    taskbot.shell("tg list\n")
    done = taskbot("report", "actions", "--output", "/nonexistent/x.csv")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "taskbot: cannot write /nonexistent/x.csv: No such file or directory")
    assert "unexpected" not in done.stderr


@pytest.mark.parametrize("url", ["mysql://x/y", "oracle+cx_oracle://a@b/c", "not a url"])
def test_an_unsupported_database_url_is_one_line(tmp_path: Path, url: str) -> None:
    done = Taskbot(tmp_path, url)("tick")
    assert done.returncode == 1
    assert done.stderr.startswith("taskbot: configuration: DATABASE_URL ")
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr


def test_exports_go_to_the_configured_folder(taskbot: Taskbot) -> None:
    out = taskbot.shell("secretariat actions csv\n", TASKBOT_EXPORT_DIR="out/files")
    saved = list((taskbot.cwd / "out" / "files").glob("*.csv"))
    assert len(saved) == 1 and f"Saved {saved[0].resolve()}" in out
    assert not (taskbot.cwd / "exports").exists()
