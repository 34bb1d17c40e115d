"""The delivery engine: each reminder once, at its local time, late within grace only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.textrender import render_blocks
from handlers.core.messages import Block, ChannelRef
from handlers.delivery._engine import RETRY_AFTER_MAX, DeliveryEngine, SendFailed
from storage.models import Outbox
from tests.support.dialog import Bot

UTC = dt.UTC


class RecordingSender:
    """Records every post; can fail the first ``fail`` sends with a Retry-After."""

    def __init__(self, fail: int = 0, retry_after: float | None = 2.0) -> None:
        self.sent: list[tuple[ChannelRef, str, str]] = []
        self.fail = fail
        self.retry_after = retry_after
        self.calls = 0

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise SendFailed("429 Too Many Requests", retry_after=self.retry_after)
        self.sent.append((channel, render_blocks(blocks), key))
        return f"m{len(self.sent)}"


def setup_group(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    # Saturday 28 Nov 2026: the next first Tuesday is 1 Dec 2026, 10:00 CET = 09:00 UTC
    bot.admin("meeting schedule repl first tuesday 10:00 Europe/Brussels remind 7d,1d,1h "
              "link https://meet.example.org/repl")
    bot.admin("meeting agenda repl Replication guide, chapter 2", channel="#repl")
    # the weekly digest has tests of its own
    bot.admin("tg settings repl digest off")


def engine_for(bot: Bot, sender: RecordingSender, sleeps: list[float] | None = None) -> DeliveryEngine:
    return DeliveryEngine(
        bot.sessions, bot.settings, {"shell": sender},
        sleep=(sleeps.append if sleeps is not None else None), kinds=bot.router.registry.kinds
    )


def run_ticks(engine: DeliveryEngine, bot: Bot, start: dt.datetime, end: dt.datetime,
              step: dt.timedelta) -> list[dt.datetime]:
    times = []
    t = start
    while t <= end:
        bot.now = t
        for d in engine.tick(t).delivered:
            times.append(t)
            assert d.message_id
        t += step
    return times


def test_each_reminder_once_at_local_time(bare_bot: Bot) -> None:
    bot = bare_bot
    setup_group(bot)
    bot.admin("action add @root Prepare the slides due 2026-12-10 group repl")
    bot.admin("action add @root Undated follow-up group repl")
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    start = dt.datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    end = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    times = run_ticks(engine, bot, start, end, dt.timedelta(minutes=30))
    # the 7-day reminder fell due before the series existed; 1d and 1h go out on time
    assert times == [dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
                     dt.datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]
    texts = [t for _, t, _ in sender.sent]
    assert "Replication meeting is in 1 day" in texts[0]
    assert "Tue 01 Dec 2026 10:00 CET" in texts[0]
    assert "Replication guide, chapter 2" in texts[0]
    assert "https://meet.example.org/repl" in texts[0]
    assert "• A-1 Prepare the slides — @root (due Thu 10 Dec 2026)" in texts[0]
    assert texts[0].index("A-1 Prepare") < texts[0].index("A-2 Undated follow-up — @root")
    assert "in 1 hour" in texts[1]
    assert all(ch == ChannelRef("shell", "#repl") for ch, _, _ in sender.sent)
    # a second pass over the same times, as another replica would, posts nothing more
    assert run_ticks(engine, bot, start, end, dt.timedelta(minutes=30)) == []
    assert len(sender.sent) == 2


def test_dst_change_keeps_local_hour(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg settings repl digest off")
    bot.now = dt.datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    # last Sunday of March 2027 is the 28th, the day Brussels moves to CEST at 02:00
    bot.admin("meeting schedule repl last sunday 10:00 Europe/Brussels remind 1d,1h")
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    times = run_ticks(engine, bot, dt.datetime(2027, 3, 27, 0, 0, tzinfo=UTC),
                      dt.datetime(2027, 3, 28, 12, 0, tzinfo=UTC), dt.timedelta(minutes=30))
    # 1d before, on Saturday 10:00 CET (09:00 UTC); 1h before, 09:00 CEST (07:00 UTC)
    assert times == [dt.datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
                     dt.datetime(2027, 3, 28, 7, 0, tzinfo=UTC)]
    assert "Sun 28 Mar 2027 10:00 CEST" in sender.sent[1][1]


@pytest.mark.parametrize(
    ("wake_up", "sent", "missed"),
    [
        # 23.5 h after the 1-day reminder, 30 min after the 1-hour one: both within grace
        (dt.datetime(2026, 12, 1, 8, 30, tzinfo=UTC), 2, 0),
        # 3 hours of downtime past the meeting: the 1-hour one is missed, the day one too
        (dt.datetime(2026, 12, 1, 11, 0, tzinfo=UTC), 0, 2),
        # 3 hours of downtime that end 1 h 30 after the 1-day reminder
        (dt.datetime(2026, 11, 30, 10, 30, tzinfo=UTC), 1, 0),
    ],
)
def test_downtime(bare_bot: Bot, wake_up: dt.datetime, sent: int, missed: int) -> None:
    bot = bare_bot
    setup_group(bot)
    sender = RecordingSender()
    engine = engine_for(bot, sender)
    bot.now = wake_up
    result = engine.tick(wake_up)
    assert (len(result.delivered), len(result.missed)) == (sent, missed)
    again = engine.tick(wake_up + dt.timedelta(minutes=1))
    assert again.delivered == [] and again.missed == []
    with bot.sessions() as s:
        statuses = sorted(s.scalars(select(Outbox.status).where(Outbox.kind == "meeting_reminder")))
    assert statuses == sorted(["sent"] * sent + ["missed"] * missed)


def test_rate_limited_send_is_retried_after_the_server_delay(bare_bot: Bot) -> None:
    bot = bare_bot
    setup_group(bot)
    sender = RecordingSender(fail=2, retry_after=1.5)
    sleeps: list[float] = []
    engine = engine_for(bot, sender, sleeps)
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    bot.now = at
    result = engine.tick(at)
    assert len(result.delivered) == 1 and sleeps == [1.5, 1.5]
    assert sender.calls == 3 and len(sender.sent) == 1


def test_long_retry_after_waits_for_a_later_tick(bare_bot: Bot) -> None:
    bot = bare_bot
    setup_group(bot)
    sender = RecordingSender(fail=1, retry_after=120)
    engine = engine_for(bot, sender, [])
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    bot.now = at
    first = engine.tick(at)
    assert first.delivered == [] and len(first.retrying) == 1
    assert engine.tick(at + dt.timedelta(seconds=60)).delivered == []  # not before its time
    later = engine.tick(at + dt.timedelta(seconds=121))
    assert len(later.delivered) == 1 and len(sender.sent) == 1


@pytest.mark.parametrize("delay", [float("inf"), float("nan"), -1.0, 1e300])
def test_any_server_delay_gives_a_retry_time(bare_bot: Bot, delay: float) -> None:
    """Whatever delay a platform passes on (``inf`` overflowed the retry time and stopped
    the tick), the row is retried within RETRY_AFTER_MAX and the tick goes on."""
    bot = bare_bot
    setup_group(bot)
    sender = RecordingSender(fail=1, retry_after=delay)
    engine = engine_for(bot, sender, [])
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    bot.now = at
    first = engine.tick(at)  # inf overflowed the retry time here and the tick raised
    if first.retrying:  # a long delay: kept back, but never past RETRY_AFTER_MAX
        with bot.sessions() as session:
            retry_at = session.scalars(
                select(Outbox.claimed_until).where(Outbox.key == first.retrying[0])).one()
        assert retry_at is not None
        assert retry_at <= at + dt.timedelta(seconds=RETRY_AFTER_MAX)
        later = engine.tick(at + dt.timedelta(seconds=RETRY_AFTER_MAX + 1))
        assert len(later.delivered) == 1
    else:  # nan or negative: read as no delay, so sent again at once within the tick
        assert delay != delay or delay < 0
        assert len(first.delivered) == 1
    assert len(sender.sent) == 1


def test_rows_for_platforms_without_a_sender_stay_pending(bare_bot: Bot) -> None:
    bot = bare_bot
    setup_group(bot)
    engine = DeliveryEngine(bot.sessions, bot.settings, {}, kinds=bot.router.registry.kinds)
    at = dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    result = engine.tick(at)
    assert result.delivered == [] and result.planned == 2  # the reminder; the nudge slot
    with bot.sessions() as s:
        row = s.scalars(select(Outbox).where(Outbox.kind == "meeting_reminder")).one()
    assert (row.status, row.attempts) == ("pending", 0)


class IdempotentSender(RecordingSender):
    """A sender whose resend of a key is the same message (mail): its rows are marked a
    few at a time. ``broken_at``: that send fails as a network error would."""

    idempotent = True

    def __init__(self, broken_at: int | None = None) -> None:
        super().__init__()
        self.broken_at = broken_at

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        if self.calls + 1 == self.broken_at:
            self.calls += 1
            raise ConnectionResetError("the server went away")
        return super().send(channel, blocks, key, timeout)


def _direct_posts(bot: Bot, n: int) -> None:
    from handlers.core.messages import Post, text
    from handlers.core.posts import queue_posts

    with bot.sessions.begin() as session:
        queue_posts(session, [Post("x", "X", [ChannelRef.direct("shell", f"u{i}")
                                              for i in range(n)], [text("hello")])],
                    bot.now, "batch")


def test_an_idempotent_sender_s_rows_are_all_marked_and_a_failure_keeps_only_its_own(
        bare_bot: Bot) -> None:
    from handlers.delivery._engine import MARK_BATCH

    n = MARK_BATCH * 2 + 7
    _direct_posts(bare_bot, n)
    sender = IdempotentSender(broken_at=MARK_BATCH + 3)
    engine = DeliveryEngine(bare_bot.sessions, bare_bot.settings, {"shell": sender},
                            kinds=bare_bot.router.registry.kinds)
    result = engine.tick(bare_bot.now)
    assert len(result.delivered) == n - 1 and len(sender.sent) == n - 1
    with bare_bot.sessions() as s:
        statuses = [st for st, in s.execute(select(Outbox.status)
                                             .where(Outbox.kind == "post").order_by(Outbox.id))]
    assert statuses.count("sent") == n - 1 and statuses.count("pending") == 1
    assert "sending" not in statuses  # every mark written by the tick's end


def test_a_batch_of_skipped_and_missed_rows_does_not_end_the_tick(bare_bot: Bot) -> None:
    """A claim whose rows were all missed or skipped is still a full batch: the tick claims
    the next one, so rows behind them (a close's posts) are not left for a later tick."""
    from handlers.core.messages import Text
    from handlers.core.scheduling import ScheduleKinds
    from storage import outbox

    bot = bare_bot
    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    kinds = ScheduleKinds()
    kinds.kind("t", lambda session, payload, settings: (
        None if payload["skip"] else [Text((f"row {payload['n']}",))]))
    rows = [outbox.NewRow(key=f"t:{n:02d}", kind="t", platform="shell", channel_id="#c",
                          payload={"n": n, "skip": n < 4, "grace_s": 3600},
                          due_at=now - (dt.timedelta(days=2) if n < 2 else dt.timedelta()),
                          status=outbox.PENDING) for n in range(7)]
    with bot.sessions.begin() as s:
        outbox.insert_new(s, rows, now)
    sender = RecordingSender()
    engine = DeliveryEngine(bot.sessions, bot.settings, {"shell": sender}, kinds=kinds,
                            batch=2)
    result = engine.tick(now)
    assert sorted(result.missed) == ["t:00", "t:01"]
    assert sorted(result.skipped) == ["t:02", "t:03"]
    assert [key for _ch, _text, key in sender.sent] == ["t:04", "t:05", "t:06"]
