"""The README's check-in round in the shell runs as written, on both databases."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.bot.conftest import Taskbot

README = Path(__file__).resolve().parents[2] / "README.md"


def example() -> str:
    section = README.read_text(encoding="utf-8").split("## Check-ins", 1)[1]
    section = section.split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no ```sh block under ## Check-ins"
    return block.group(1)


def test_the_readme_checkin_round_runs(taskbot: Taskbot) -> None:
    script = f'taskbot() {{ "{sys.executable}" -m bot "$@"; }}\nset -e\n' + example()
    done = subprocess.run(["bash", "-c", script], cwd=taskbot.cwd, env=taskbot.env(),
                          capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out
    assert ("[shell:dm alice] == Check-in for Replication, before the Board meets "
            "Tue 05 Jan 2027 10:00 CET ==") in out
    assert "Saved your answer to question 2 for replication." in out
    shown = out.split("== Check-ins before the Board meets Tue 05 Jan 2027 10:00 CET ==")
    assert len(shown) == 3  # posted to #boc at the close, and shown by checkin show
    assert "No answer from Communication and Dissemination." in shown[-1]
    assert shown[-1].index("Waiting for the data agreement") < shown[-1].index(
        "We published the replication guide")
    assert "[shell:dm carl] Communication and Dissemination gave no check-in" in out
