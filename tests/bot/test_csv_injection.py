"""``taskbot report actions --format csv`` as a real subprocess: formula cells neutralised."""

from __future__ import annotations

from sqlalchemy import update

from storage.db import make_engine
from storage.models import Person
from tests.bot.conftest import Taskbot
from tests.handlers.test_csv_injection import NAME, PROJECT, SECOND, TITLE, check_export


def test_taskbot_report_csv_is_neutralised(taskbot: Taskbot) -> None:
    taskbot.shell(
        f"tg add replication @eve project {PROJECT}\n"
        ":as eve\n:in #replication\n"
        f"action add {TITLE}\n"
        f"action add {SECOND}\n",
        TASKBOT_CLOCK="2026-11-28T09:00+00:00",
    )
    # the shell knows eve by her login; the name a platform would have reported is set here
    engine = make_engine(taskbot.url)
    try:
        with engine.begin() as conn:
            conn.execute(update(Person).where(Person.display_name == "eve")
                         .values(display_name=NAME))
    finally:
        engine.dispose()
    done = taskbot("report", "actions", "--format", "csv", "--status", "all",
                   TASKBOT_CLOCK="2026-11-28T09:00+00:00")
    assert done.returncode == 0, done.stderr
    check_export(done.stdout)
