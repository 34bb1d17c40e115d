"""The README's first-run walkthrough runs as written on a fresh store."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bot.conftest import Taskbot

README = Path(__file__).resolve().parent.parent / "README.md"
# a line a newcomer types: "<user>@#<channel>> <what they type>"
_PROMPT = re.compile(r"^(?P<user>[^\s@]+)@(?P<channel>#\S+)> (?P<line>.*)$")


def walkthrough() -> list[tuple[str, str, str]]:
    """(user, channel, line) of each line of the fenced block under "First run"."""
    section = README.read_text(encoding="utf-8").split("## First run", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no ```text block under ## First run"
    rows = []
    for raw in block.group(1).splitlines():
        m = _PROMPT.match(raw)
        assert m is not None, f"not a prompt line: {raw!r}"
        rows.append((m["user"], m["channel"], m["line"]))
    return rows


def test_the_walkthrough_prompts_follow_what_it_types() -> None:
    """Each prompt shows who and where the lines before it made you."""
    rows = walkthrough()
    user, channel = rows[0][0], rows[0][1]
    assert channel == "#general"
    for who, where, line in rows:
        assert (who, where) == (user, channel), line
        if line.startswith(":as "):
            user = line.split()[1]
        elif line.startswith(":in "):
            channel = line.split()[1]


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    rows = walkthrough()
    work = tmp_path / "work"
    work.mkdir()
    bot = Taskbot(work, f"sqlite:///{tmp_path / 'taskbot.sqlite3'}")
    login = rows[0][0]  # "You are the admin in your own shell": the login name is the user
    script = "".join(f"{line}\n" for _, _, line in rows)
    out = bot.shell(script, LOGNAME=login, USER=login)  # exit 0: no line refused or failed
    assert "Unknown" not in out
    assert not [line for line in out.splitlines() if re.search(r"\bnot\b", line)], out
    assert "Added @bob in replication as member, representing Lighthouse City." in out
    assert "Draft the replication guide" in out and "due" in out
    assert "Next Replication meeting" in out
