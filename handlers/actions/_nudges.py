"""Action nudges (a direct message to each person about their items due tomorrow, today,
and every whole week overdue, at 09:00) and each group's weekly digest."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.core.action_lines import action_line, open_actions
from handlers.core.context import CoreSettings
from handlers.core.i18n import _
from handlers.core.messages import Block, ChannelRef, Table, Text, Topic, When, topic
from handlers.core.reach import (
    away_until,
    group_reach,
    notify_choice,
    personal_reach,
    reach_loads,
)
from handlers.core.readers import PROFILE_ZONE, ZONE, known_zones
from handlers.core.recurrence import place
from handlers.core.scheduling import (
    DAY,
    MAX_GRACE,
    MAX_LOOKBACK,
    NUDGE_TIME,
    WEEKDAYS,
    ScheduleKinds,
    compose_cache,
    local_slot,
    outbox_row,
    setting,
    slot_marker,
    slot_planned,
)
from storage import outbox
from storage.models import Action, ActionAssignee, Group, Identity, Person

# what a nudge about one action is about (handlers.core.messages.Topic): a mail reply of
# "done" to it closes that action
TOPIC = "action"
STOP_DIGEST = "me digest off"  # the people feature's command


def nudge_days(today: dt.date, oldest_due: dt.date | None) -> list[dt.date]:
    """Due dates that earn a nudge today: tomorrow, today, and every whole week overdue."""
    days = [today + DAY, today]
    if oldest_due is not None:
        d = today - dt.timedelta(days=7)
        while d >= oldest_due:
            days.append(d)
            d -= dt.timedelta(days=7)
    return days


def _people_zones(session: Session, default: str) -> dict[int, str]:
    """The people who read in a zone of their own (``me zone``, or their chat profile's),
    by id: everyone else is nudged at 09:00 in the bot's zone."""
    zone, profile = Person.settings[ZONE].as_string(), Person.settings[PROFILE_ZONE].as_string()
    found: dict[int, str] = {}
    for pid, own, seen in session.execute(
            select(Person.id, zone, profile).where(zone.is_not(None) | profile.is_not(None))):
        chosen = own or seen
        if isinstance(chosen, str) and chosen != default and chosen in known_zones():
            found[pid] = chosen
    return found


def plan_nudges(session: Session, now: dt.datetime,
                settings: CoreSettings) -> list[outbox.NewRow]:
    """Each person's nudge at 09:00 where they are: one slot per zone in use, each planned
    once (its marker), the bot's zone keeping the marker it always had."""
    zones = _people_zones(session, settings.timezone)
    rows: list[outbox.NewRow] = []
    for zone in sorted({settings.timezone, *zones.values()}):
        rows += _plan_zone(session, now, settings, zone, zones)
    return rows


def _plan_zone(session: Session, now: dt.datetime, settings: CoreSettings, zone: str,
               zones: dict[int, str]) -> list[outbox.NewRow]:
    slot = local_slot(now, zone, NUDGE_TIME)
    if slot is None or now - slot > MAX_GRACE:
        return []
    today = slot.astimezone(ZoneInfo(zone)).date()
    default = zone == settings.timezone
    marker = f"slot:nudges:{today.isoformat()}" if default else \
        f"slot:nudges:{zone}:{today.isoformat()}"
    if slot_planned(session, marker):
        return []
    muted = [g.id for g in session.scalars(select(Group))
             if setting(g, "nudges") == "off" or g.archived_at is not None]
    oldest = session.scalar(select(func.min(Action.due)).where(Action.status == "open"))
    stmt = (
        select(ActionAssignee.person_id, Action.id)
        .join(Action, Action.id == ActionAssignee.action_id)
        .where(Action.status == "open", Action.due.in_(nudge_days(today, oldest)))
    )
    if not default:
        stmt = stmt.where(ActionAssignee.person_id.in_(
            [pid for pid, z in zones.items() if z == zone]))
    if muted:
        stmt = stmt.where(Action.group_id.is_(None) | Action.group_id.not_in(muted))
    per_person: dict[int, list[int]] = defaultdict(list)
    for person_id, action_id in session.execute(stmt):
        if default and person_id in zones:
            continue  # nudged at 09:00 in their own zone
        per_person[person_id].append(action_id)
    rows = [slot_marker(marker, slot)]
    if not per_person:
        return rows
    identities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for pid, platform, ext in session.execute(
        select(Identity.person_id, Identity.platform, Identity.external_id)
        .where(Identity.person_id.in_(list(per_person)))
    ):
        identities[pid].append((platform, ext))
    chose: dict[int, dict[str, object]] = dict(session.execute(select(Person.id, Person.settings)
                                 .where(Person.id.in_(list(per_person)))).all())
    for person_id, action_ids in per_person.items():
        if away_until(chose.get(person_id), today) is not None:
            continue  # away (me away): no nudge meanwhile
        targets = personal_reach(identities.get(person_id, []),
                                 notify_choice(chose.get(person_id)), settings.platforms)
        for n, (platform, ext) in enumerate(targets):
            # the first target keeps the key nudges always had; a second (``me notify
            # both``) is told apart by its platform
            key = f"nudge:{person_id}:{today.isoformat()}" + (f":{platform}" if n else "")
            channel = ChannelRef.direct(platform, ext).channel_id
            rows.append(outbox_row(key, "action_nudge", platform, channel,
                                   {"person_id": person_id, "day": today.isoformat(),
                                    "action_ids": sorted(action_ids)},
                                   slot, MAX_GRACE, now))
    return rows


def compose_nudge(session: Session, payload: dict[str, Any],
                  settings: CoreSettings) -> list[Block] | None:
    """One message listing a person's items; None when all were closed in the meantime."""
    today = dt.date.fromisoformat(payload["day"])
    cache = compose_cache(session)
    if "open_by_id" in cache:
        actions = [cache["open_by_id"][i] for i in payload["action_ids"]
                   if i in cache["open_by_id"]]
        actions.sort(key=lambda a: (a.due is None, a.due or today, a.id))
    else:
        actions = open_actions(session, Action.id.in_(payload["action_ids"]))
    if not actions:
        return None
    overdue = [a for a in actions if a.due and a.due < today]
    due_today = [a for a in actions if a.due == today]
    tomorrow = [a for a in actions if a.due == today + DAY]
    blocks: list[Block] = [Text((_("Your action items need attention:"),), "heading")]
    # TRANSLATORS: above the actions a nudge or a digest lists that are past their due date
    for label, items in ((_("Overdue:"), overdue), (_("Due today:"), due_today),
                         (_("Due tomorrow:"), tomorrow)):
        if items:
            blocks.append(Text((label,)))
            blocks.extend(action_line(a) for a in items)
    if len(actions) == 1:
        # about one action: a mail reply of "done" closes it
        ref = f"A-{actions[0].id}"
        # TRANSLATORS: the text between backquotes is a command to type: keep it as is;
        # {action}: the action's id
        blocks.append(Text((_("Close it with `action done {action}`, or move it with "
                              "`action due {action} <date>`.", action=ref),)))
        blocks.append(topic(TOPIC, actions[0].id))
    else:
        # TRANSLATORS: the text between backquotes is a command to type: keep it as is
        blocks.append(Text((_("Close one with `action done A-<id>`, or move it with "
                              "`action due A-<id> <date>`."),)))
    return blocks


def prefetch_nudges(session: Session, payloads: list[dict[str, Any]]) -> None:
    ids = sorted({i for p in payloads for i in p["action_ids"]})
    found: dict[int, Action] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update((a.id, a) for a in open_actions(session, Action.id.in_(chunk)))
    compose_cache(session)["open_by_id"] = found


def _digest_slot(now: dt.datetime, zone: str, value: str) -> dt.datetime | None:
    """The latest weekly slot at or before ``now`` (aware UTC)."""
    day_name, hhmm = value.split()
    weekday = WEEKDAYS.index(day_name)
    at = dt.time(int(hhmm[:2]), int(hhmm[3:]))
    local_today = now.astimezone(ZoneInfo(zone)).date()
    back = (local_today.weekday() - weekday) % 7
    for extra in (0, 7):
        day = local_today - dt.timedelta(days=back + extra)
        slot = place(dt.datetime.combine(day, at), zone).astimezone(dt.UTC)
        if slot <= now:
            return slot
    return None


def plan_digests(session: Session, now: dt.datetime,
                 settings: CoreSettings) -> list[outbox.NewRow]:
    """The week's digest of each group whose bookmark has come; then the next bookmark."""
    rows: list[outbox.NewRow] = []
    groups = session.scalars(
        select(Group)
        .where(Group.next_digest_at.is_(None) | (Group.next_digest_at <= now))
        .options(*reach_loads())
    )
    for group in groups:
        value = "off" if group.archived_at is not None else setting(group, "digest")
        if value == "off":
            group.next_digest_at = now + MAX_LOOKBACK
            continue
        slot = _digest_slot(now, settings.timezone, value)
        group.next_digest_at = _next_digest(slot, settings.timezone, now)
        if slot is None or group.created_at > slot:
            continue
        week = slot.astimezone(settings.zone).date()
        for ch in group_reach(group, settings.platforms, skip=_no_digest):
            key = f"digest:{group.id}:{week.isoformat()}:{ch.platform}:{ch.channel_id}"
            rows.append(outbox_row(key, "weekly_digest", ch.platform, ch.channel_id,
                                   {"group_id": group.id, "slot": slot.isoformat()},
                                   slot, MAX_GRACE, now))
    return rows


def _no_digest(person: Person) -> bool:
    """Whether someone stopped their own copy of the digests (``me digest off``)."""
    return (person.settings or {}).get("digest") == "off"


def _next_digest(slot: dt.datetime | None, zone: str, now: dt.datetime) -> dt.datetime:
    """The slot a week after ``slot`` in wall time (so DST does not shift it)."""
    if slot is None:
        return now + DAY
    local = slot.astimezone(ZoneInfo(zone)).replace(tzinfo=None) + dt.timedelta(days=7)
    nxt = place(local, zone).astimezone(dt.UTC)
    return nxt if nxt > now else now + DAY


def compose_digest(session: Session, payload: dict[str, Any],
                   settings: CoreSettings) -> list[Block] | None:
    from handlers.meetings import upcoming

    group = session.get(Group, payload["group_id"])
    if group is None or group.archived_at is not None:
        return None
    slot = dt.datetime.fromisoformat(payload["slot"])
    today = slot.astimezone(settings.zone).date()
    week_ago = slot - dt.timedelta(days=7)
    base = select(func.count()).select_from(Action).where(Action.group_id == group.id)
    open_n = session.scalar(base.where(Action.status == "open")) or 0
    overdue_n = session.scalar(base.where(Action.status == "open", Action.due < today)) or 0
    done_n = session.scalar(base.where(Action.status == "done",
                                       Action.closed_at >= week_ago)) or 0
    nxt = upcoming(group.series, slot) if group.series else []
    if not open_n and not done_n and not (nxt and nxt[0].start < slot + dt.timedelta(days=7)):
        return None  # nothing open, nothing done, no meeting this week: a table of zeros
    blocks: list[Block] = [
        # TRANSLATORS: the heading of a group's weekly digest; {group}: the group's name
        Text((_("{group}: the week ahead", group=group.name),), "heading"),
        Table((
            # TRANSLATORS: a weekly digest's header: how many actions are open
            _("open"),
            # TRANSLATORS: a weekly digest's header: how many actions are overdue
            _("overdue"),
            # TRANSLATORS: a weekly digest's header: how many actions were done this week
            _("done this week"),
            # TRANSLATORS: a weekly digest's header: when the group meets next
            _("next meeting"),
        ), (((str(open_n),), (str(overdue_n),), (str(done_n),),
             # TRANSLATORS: a weekly digest's cell: the group has no meeting planned
             (When(nxt[0].start, nxt[0].zone),) if nxt else (_("none scheduled"),)),)),
    ]
    overdue = open_actions(session, Action.group_id == group.id, Action.due < today, limit=10)
    if overdue:
        blocks.append(Text((_("Overdue:"),)))
        blocks.extend(action_line(a) for a in overdue)
    # a copy of its own (by mail) can be stopped: mail's List-Unsubscribe runs this
    blocks.append(Topic(f"digest:{group.id}:{today.isoformat()}", stop=STOP_DIGEST))
    return blocks


def register(kinds: ScheduleKinds) -> None:
    kinds.planner(plan_nudges)
    kinds.kind("action_nudge", compose_nudge, prefetch=prefetch_nudges)
    kinds.planner(plan_digests)
    kinds.kind("weekly_digest", compose_digest)
