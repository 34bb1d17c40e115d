"""Three hours of downtime, process level: ``taskbot tick --at`` before and after. A
reminder late by less than its grace window is sent once, an older one is marked missed and
never sent, and the next tick sends neither again. (tests/handlers/test_delivery.py covers
the same at engine level, with more cases.)"""

from __future__ import annotations

import datetime as dt

from tests.bot.conftest import CLOCK, Taskbot

SETUP = """\
tg create early Early
tg create late Late
:in #early
tg link early
tg settings early digest off
meeting schedule early first tuesday 09:00 Europe/Brussels remind 1h
:in #late
tg link late
tg settings late digest off
meeting schedule late first tuesday 12:00 Europe/Brussels remind 4h,1h
"""


def first_tuesday_ahead(today: dt.date) -> dt.date:
    """The series' first meeting: the first first Tuesday after tomorrow (the series are
    made on the program's today, the fixture's clock; a day's margin keeps every time of that day ahead in every zone). No
    earlier meeting of theirs may fall within the engine's look-back of the ticks."""
    month = today.replace(day=1)
    while True:
        day = month + dt.timedelta(days=(1 - month.weekday()) % 7)
        if day > today + dt.timedelta(days=1):
            return day
        month = (month + dt.timedelta(days=32)).replace(day=1)


def ours(out: str) -> list[str]:
    return [line for line in out.splitlines()
            if ("#early" in line or "#late" in line) and not line.startswith("[")]


def test_three_hours_of_downtime(taskbot: Taskbot) -> None:
    taskbot.shell(SETUP)
    day = first_tuesday_ahead(dt.datetime.fromisoformat(CLOCK).date())

    def tick(hhmm: str) -> list[str]:
        done = taskbot("tick", "--at", f"{day.isoformat()}T{hhmm}")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return ours(done.stdout)

    assert tick("07:30") == []  # the last tick before the process went down
    # back at 10:30 local: early's 1-hour reminder (due 08:00, grace 1 h) is 2 h 30 late,
    # late's 4-hour one (due 08:00, grace 4 h) is within grace
    lines = tick("10:30")
    delivered = [line for line in lines if line.startswith("delivered")]
    missed = [line for line in lines if line.startswith("missed")]
    assert len(delivered) == 1 and "to shell:#late" in delivered[0], lines
    assert f"(due {day.isoformat()} 08:00 " in delivered[0]
    assert len(missed) == 1 and "shell:#early" in missed[0] and ":3600s:" in missed[0], lines
    assert tick("10:31") == []  # none twice, the missed one not after all
    lines = tick("11:00")  # late's 1-hour reminder, on time
    assert len(lines) == 1 and lines[0].startswith("delivered"), lines
    assert f"(due {day.isoformat()} 11:00 " in lines[0]
