"""Seeding for the delivery tests: a group bound to one channel and N due reminders.

The rows are real ``meeting_reminder`` rows of a real series (the composer writes each
message at send time), each for a different meeting date, so every message names the
meeting it is about and a lost or doubled one shows up by its date.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import Engine, func, insert, select

from storage.models import Channel, Group, MeetingSeries, Outbox

FIRST_MEETING = dt.datetime(2027, 1, 4, 10, 0, tzinfo=dt.UTC)
QUIET = {"digest": "off", "nudges": "off", "ack_reminder": "off"}


def label(i: int) -> str:
    """How the ``i``-th meeting's date appears in its reminder (``When`` in UTC)."""
    return f"{FIRST_MEETING + dt.timedelta(days=i):%d %b %Y} 10:00 UTC"


def seed_reminders(engine: Engine, platform: str, channel_id: str, n: int,
                   now: dt.datetime, slug: str = "kill") -> list[str]:
    """A group bound to ``platform:channel_id`` with a series, and ``n`` reminders due a
    minute before ``now`` (well within their grace). Returns their keys in due order.

    The series itself starts in 2099, so the planner adds nothing of its own while the
    test runs; digests, nudges and ack reminders are off for the group.
    """
    at = now.astimezone(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        gid = conn.execute(insert(Group).values(
            slug=slug, name=slug.title(), mandate="", restricted=False, settings=QUIET,
            created_at=at - dt.timedelta(days=30),
        ).returning(Group.id)).scalar_one()
        conn.execute(insert(Channel).values(group_id=gid, platform=platform,
                                            channel_id=channel_id, created_at=at))
        sid = conn.execute(insert(MeetingSeries).values(
            group_id=gid, rule="RRULE:FREQ=YEARLY", rule_text="yearly",
            start_time=dt.time(10, 0), timezone="UTC", duration_minutes=60, link=None,
            remind_offsets="1h", starts_on=dt.date(2099, 1, 1),
            created_at=at - dt.timedelta(days=30),
        ).returning(MeetingSeries.id)).scalar_one()
        keys: list[str] = []
        rows = []
        for i in range(n):
            start = FIRST_MEETING + dt.timedelta(days=i)
            key = (f"meeting_reminder:{sid}:{start.date().isoformat()}:"
                   f"{start:%Y%m%dT%H%M}:3600s:{platform}:{channel_id}")
            keys.append(key)
            rows.append({
                "key": key, "kind": "meeting_reminder", "platform": platform,
                "channel_id": channel_id,
                "payload": {"series_id": sid, "group_id": gid,
                            "original_date": start.date().isoformat(),
                            "start": start.isoformat(), "zone": "UTC", "offset_s": 3600,
                            "grace_s": 86400},
                # one second apart, in the order the labels count
                "due_at": at - dt.timedelta(seconds=120 - i),
                "status": "pending", "attempts": 0, "created_at": at,
            })
        conn.execute(insert(Outbox), rows)
    return keys


def statuses(engine: Engine, kind: str = "meeting_reminder") -> Counter[str]:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(
            select(Outbox.status, func.count()).where(Outbox.kind == kind)
            .group_by(Outbox.status)
        ).all()))


def tally(texts: list[str], n: int) -> Counter[int]:
    """How many times each of the ``n`` reminders appears among ``texts``."""
    seen: Counter[int] = Counter()
    for text in texts:
        hits = [i for i in range(n) if label(i) in text]
        assert len(hits) <= 1, text
        seen.update(hits)
    return seen
