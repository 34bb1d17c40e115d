"""Fixtures: a fresh store on SQLite and on a real PostgreSQL 15, and a chat transcript."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from storage.db import make_engine, upgrade
from storage.models import Base
from tests.support.dialog import Bot
from tests.support.postgres import postgres_cluster


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_cluster() as url:
        upgrade(make_engine(url))
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Engine]:
    """A migrated, empty store; every test that takes it runs on both databases."""
    if request.param == "sqlite":
        path = tmp_path / "taskbot.sqlite3"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
        _truncate_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    path = tmp_path / "taskbot.sqlite3"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


# Saturday 28 Nov 2026, 10:00 in Brussels
DEFAULT_NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def bot(engine: Engine) -> Bot:
    """The core with the Scalable Cities preset applied, on both databases."""
    return Bot(engine, now=DEFAULT_NOW, preset=True)


@pytest.fixture
def bare_bot(engine: Engine) -> Bot:
    """The core on an empty store (no preset)."""
    return Bot(engine, now=DEFAULT_NOW, preset=False)
