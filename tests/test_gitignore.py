"""What the bot writes where it runs is never offered to git (issue 12, item 17)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRITTEN = ["taskbot.sqlite3", "taskbot.sqlite3-wal", "taskbot.sqlite3-shm",
           "exports/actions-2026-12-03.csv", "exports/minutes-repl-2026-12-02.md"]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="not a git checkout")
@pytest.mark.parametrize("path", WRITTEN)
def test_what_the_bot_writes_is_ignored(path: str) -> None:
    checked = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT,
                             check=False)
    assert checked.returncode == 0, f"{path} is not ignored by .gitignore"
