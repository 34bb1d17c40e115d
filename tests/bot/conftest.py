"""The real program as a subprocess, on a fresh SQLite file or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "boss"  # the login name the shell is started under (an admin in the shell only)
# the program's clock in every test here starts at this instant (TASKBOT_CLOCK), so no test
# depends on the day it runs: Saturday 28 Nov 2026, 10:00 in Brussels
CLOCK = "2026-11-28T09:00:00+00:00"


@dataclass
class Taskbot:
    """Runs ``python -m bot ...`` in ``cwd`` against ``url``."""

    cwd: Path
    url: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TASKBOT_", "SLACK_", "MATRIX_", "DATABASE_"))}
        env.update(DATABASE_URL=self.url, LOGNAME=LOGIN, USER=LOGIN, TASKBOT_CLOCK=CLOCK,
                   PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8")
        env.update(extra)
        return env

    def __call__(self, *args: str, stdin: str = "", **extra: str
                 ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=self.cwd, env=self.env(**extra),
            input=stdin, capture_output=True, text=True, timeout=120,
        )

    def shell(self, script: str, *args: str, status: int = 0, **extra: str) -> str:
        """Run a shell script through stdin; assert its exit status (1: some line was
        refused or failed) and no traceback; return stdout."""
        done = self("shell", *args, stdin=script, **extra)
        assert done.returncode == status, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return done.stdout


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables): the program migrates it itself."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'taskbot.sqlite3'}"
        return
    base = make_url(request.getfixturevalue("pg_url"))
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def taskbot(tmp_path: Path, db_url: str) -> Taskbot:
    work = tmp_path / "work"
    work.mkdir()
    return Taskbot(work, db_url)
