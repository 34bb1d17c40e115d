"""TASKBOT_RETENTION_DAYS: closed actions' notes and finished outbox rows go once they are
older than the setting; open work, failed rows and the record itself stay."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import outbox
from storage.models import Action, ActionEvent, ActionNote, AuditLog, Outbox
from storage.retention import MIN_DAYS, purge
from tests.handlers.test_actions import setup_groups
from tests.support.dialog import Bot


def _count(bot: Bot, what: type) -> int:
    with Session(bot.engine) as s:
        return int(s.scalar(select(func.count()).select_from(what)) or 0)


def _outbox(bot: Bot, key: str, status: str, at: dt.datetime) -> None:
    with bot.sessions.begin() as s:
        s.add(Outbox(key=key, kind="post", platform="shell", channel_id="#repl",
                     payload={}, due_at=at, status=status, attempts=0, created_at=at,
                     sent_at=at if status == outbox.SENT else None))


def test_old_notes_of_closed_actions_and_finished_rows_go(bare_bot: Bot) -> None:
    bot = bare_bot
    setup_groups(bot)
    start = bot.now
    for n in (1, 2, 3):
        bot.admin(f"action add Plan {n} @bob group repl")
        bot.admin(f"action note A-{n} first thoughts on plan {n}")
    with bot.sessions.begin() as s:  # as an earlier version wrote a note's history line
        for event in s.scalars(select(ActionEvent).where(ActionEvent.kind == "note")):
            event.detail = f"first thoughts on plan {event.action_id}"
    bot.admin("action done A-1")
    bot.admin("action cancel A-2")
    events, audits = _count(bot, ActionEvent), _count(bot, AuditLog)
    for status in (outbox.SENT, outbox.SKIPPED, outbox.MISSED, outbox.FAILED, outbox.PENDING):
        _outbox(bot, f"test:{status}", status, start)

    # a day short of the setting: nothing goes
    bot.now = start + dt.timedelta(days=29)
    with bot.sessions.begin() as s:
        assert not purge(s, bot.now, 30)
    assert _count(bot, ActionNote) == 3

    bot.now = start + dt.timedelta(days=31)
    with bot.sessions.begin() as s:
        done = purge(s, bot.now, 30, batch=1)  # bounded: one of each per call
    assert (done.notes, done.outbox) == (1, 1)
    with bot.sessions.begin() as s:
        while purge(s, bot.now, 30):
            pass
    with Session(bot.engine) as s:
        kept_notes = s.scalars(select(ActionNote.action_id)).all()
        kept_rows = set(s.scalars(select(Outbox.status).where(Outbox.key.like("test:%"))))
        assert s.scalar(select(func.count()).select_from(Action)) == 3
    assert kept_notes == [3]  # the open action keeps its note
    with Session(bot.engine) as s:  # and no copy of a purged note's text is left anywhere
        details = s.scalars(select(ActionEvent.detail).where(ActionEvent.action_id.in_([1, 2]))
                            ).all()
    assert not [d for d in details if "first thoughts" in d]
    assert kept_rows == {outbox.FAILED, outbox.PENDING}
    # the record stays whole: the history and the audit log are not touched
    assert (_count(bot, ActionEvent), _count(bot, AuditLog)) == (events, audits)


def test_the_setting_never_reaches_under_a_week(bare_bot: Bot) -> None:
    """A post's key keeps it from going twice within its week of grace; a finished row is
    not deleted inside that week, whatever the setting says."""
    bot = bare_bot
    _outbox(bot, "test:recent", outbox.SENT, bot.now)
    with bot.sessions.begin() as s:
        assert not purge(s, bot.now + dt.timedelta(days=MIN_DAYS - 1), 1)
    with bot.sessions.begin() as s:
        assert purge(s, bot.now + dt.timedelta(days=MIN_DAYS, seconds=1), 1).outbox == 1


def test_the_delivery_tick_purges_once_an_hour(bare_bot: Bot) -> None:
    from dataclasses import replace

    from handlers.delivery._engine import DeliveryEngine
    from tests.handlers.test_delivery import RecordingSender

    bot = bare_bot
    start = bot.now
    for n in range(3):
        _outbox(bot, f"test:old{n}", outbox.SENT, start)
    settings = replace(bot.settings, retention_days=30)
    engine = DeliveryEngine(bot.sessions, settings, {"shell": RecordingSender()},
                            kinds=bot.router.registry.kinds)
    later = start + dt.timedelta(days=20)
    assert engine.tick(later).purged == 0  # too young
    _outbox(bot, "test:old-late", outbox.SENT, start)
    # 31 days on, but within the hour of the last purge: not yet
    assert engine.tick(later + dt.timedelta(minutes=30)).purged == 0
    assert engine.tick(start + dt.timedelta(days=31)).purged >= 4
    with Session(bot.engine) as s:
        assert not s.scalars(select(Outbox.key).where(Outbox.key.like("test:old%"))).all()
    # without the setting nothing is ever purged
    off = DeliveryEngine(bot.sessions, bot.settings, {"shell": RecordingSender()},
                         kinds=bot.router.registry.kinds)
    _outbox(bot, "test:kept", outbox.SENT, start)
    assert off.tick(start + dt.timedelta(days=400)).purged == 0
