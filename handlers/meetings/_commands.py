"""``meeting``: each group's monthly series, its one-off skips and moves, agenda and calendar.

Occurrences are never stored: they are computed from the series (a naive-local RRULE and a
zone, see handlers.recurrence) and its exceptions, so a rule change or a DST change can never
leave stale rows behind. Exceptions are keyed by the occurrence's original local date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.dates import parse_date
from handlers.core.directory import all_groups, mention, optional_group
from handlers.core.grammar import Args, UserError
from handlers.core.i18n import Arg, Msg, _, _n, listed
from handlers.core.messages import (
    Block,
    Day,
    File,
    Invite,
    Link,
    Post,
    Reply,
    Span,
    Table,
    Text,
    When,
    text,
)
from handlers.core.params import Values
from handlers.core.reach import group_reach
from handlers.core.recurrence import (
    format_offsets,
    is_occurrence,
    local_occurrences,
    looks_like_time,
    next_local,
    parse_offsets,
    parse_rule,
    parse_time,
    parse_zone,
    place,
    to_local_naive,
)
from handlers.core.roles import ANYONE, CHAIR_AND_UP, Policy, require_member
from handlers.core.router import Registry
from handlers.meetings import _ics as ics
from handlers.meetings._tally import tally, tally_line
from storage.models import (
    TITLE_MAX,
    URL_MAX,
    Action,
    AgendaItem,
    Group,
    MeetingException,
    MeetingSeries,
)
from storage.sql import undated_last

DEFAULT_OFFSETS = "7d,1d,1h"
_URL = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)
# how far ``meeting next`` and the skip/move checks look ahead, a year at a time
_LOOKAHEAD_YEARS = 5
_SHOW_ACTIONS = 20


@dataclass(frozen=True)
class Occurrence:
    """One meeting. ``start`` is aware UTC (so arithmetic is absolute); ``zone`` is the
    series' zone for display; ``original_date`` is the rule's local date, the key that
    exceptions and agenda items use even when the meeting was moved."""

    start: dt.datetime
    zone: str
    original_date: dt.date
    moved: bool = False
    # the wall time as scheduled, before a DST gap moved it (reminders count days from it)
    wall: dt.datetime | None = None

    @property
    def local(self) -> dt.datetime:
        return self.start.astimezone(ZoneInfo(self.zone))


def _utc(aware: dt.datetime) -> dt.datetime:
    return aware.astimezone(dt.UTC)


def occurrences(
    series: MeetingSeries, start_utc: dt.datetime, end_utc: dt.datetime
) -> list[Occurrence]:
    """Meetings with ``start_utc <= start < end_utc``, exceptions applied, in time order.

    The rule is expanded only over the window (padded by a day for zone offsets), from the
    series' own start date, so the cost follows the window, not the age of the series.
    """
    zone = ZoneInfo(series.timezone)
    pad = dt.timedelta(days=2)
    lo = max(
        to_local_naive(start_utc, zone) - pad,
        dt.datetime.combine(series.starts_on, dt.time.min),
    )
    hi = to_local_naive(end_utc, zone) + pad
    exceptions = {e.original_date: e for e in series.exceptions}
    out: list[Occurrence] = []
    for naive in local_occurrences(series.rule, series.starts_on, series.start_time, lo, hi):
        if naive.date() in exceptions:
            continue
        at = _utc(place(naive, zone))
        if start_utc <= at < end_utc:
            out.append(Occurrence(at, series.timezone, naive.date(), wall=naive))
    for exc in exceptions.values():
        if exc.kind == "move" and exc.new_start is not None:
            at = _utc(place(exc.new_start, zone))
            if start_utc <= at < end_utc:
                out.append(Occurrence(at, series.timezone, exc.original_date, moved=True,
                                      wall=exc.new_start))
    out.sort(key=lambda o: (o.start, o.original_date))
    return out


def upcoming(series: MeetingSeries, after: dt.datetime, limit: int = 1) -> list[Occurrence]:
    """The first ``limit`` meetings starting strictly after ``after`` (aware)."""
    found: list[Occurrence] = []
    lo = after
    for _year in range(_LOOKAHEAD_YEARS):
        hi = lo + dt.timedelta(days=366)
        found.extend(o for o in occurrences(series, lo, hi) if o.start > after)
        if len(found) >= limit:
            break
        lo = hi
    return found[:limit]


def next_meeting(ctx: Ctx, group: Group) -> Occurrence | None:
    """The group's first meeting starting after ``ctx.now``, or None."""
    series = group.series
    if series is None:
        return None
    found = upcoming(series, ctx.now)
    return found[0] if found else None


def check_link(link: str) -> str:
    link = link.strip()
    if len(link) > URL_MAX:
        raise UserError(_n("The link is too long ({n} character; at most {limit}).",
                           "The link is too long ({n} characters; at most {limit}).",
                           len(link), limit=URL_MAX))
    if not _URL.match(link):
        raise UserError(_("{link} is not a web link: it must start with http:// or https://.",
                          link=repr(link)))
    return link


def upsert_series(
    session: Session,
    group: Group,
    *,
    rule_text: str,
    start_time: dt.time,
    timezone: str,
    offsets: str = DEFAULT_OFFSETS,
    link: str | None = None,
    duration_minutes: int = 60,
    now: dt.datetime,
    today: dt.date,
) -> tuple[MeetingSeries, bool]:
    """Make ``group``'s one series match; returns it and whether anything changed.

    Validates everything first (UserError, nothing written). A changed series restarts on
    ``today`` and keeps only the future exceptions that are still occurrences of it; an
    unchanged one is left alone, so applying the same governance file twice is a no-op.
    """
    rule, label = parse_rule(rule_text)
    parse_zone(timezone)
    remind = format_offsets(parse_offsets(offsets))
    link = check_link(link) if link else None
    if not 1 <= duration_minutes <= 24 * 60:
        raise UserError(_("A meeting lasts from 1 minute to 24 hours."))
    start_time = start_time.replace(second=0, microsecond=0, tzinfo=None)
    if next_local(rule, today, start_time, dt.datetime.combine(today, dt.time.min)) is None:
        raise UserError(_("{rule} gives no meeting from {date} on.", rule=label,
                          date=today.isoformat()))

    series = group.series
    wanted = (rule, label, start_time, timezone, duration_minutes, link, remind)
    if series is not None and wanted == (
        series.rule, series.rule_text, series.start_time, series.timezone,
        series.duration_minutes, series.link, series.remind_offsets,
    ):
        return series, False
    if series is None:
        series = MeetingSeries(group=group, created_at=now)
        session.add(series)
    series.rule, series.rule_text, series.start_time = rule, label, start_time
    series.timezone, series.duration_minutes = timezone, duration_minutes
    series.link, series.remind_offsets, series.starts_on = link, remind, today
    series.next_reminder_at = now  # reminders are planned afresh from now
    # a calendar holding an earlier invitation takes this one as newer
    series.sequence = 0 if series.id is None else (series.sequence or 0) + 1
    for exc in list(series.exceptions):
        if exc.original_date < today or not is_occurrence(rule, today, start_time,
                                                          exc.original_date):
            series.exceptions.remove(exc)
    session.flush()
    return series, True


# --- shared pieces of the commands -----------------------------------------------------------


def announce(ctx: Ctx, group: Group, reply: Reply, *blocks: Block) -> Reply:
    """Show ``blocks`` to the channel, and post them to the group (its own channels unless
    the command was typed in one of them: they would see it twice; and each member no
    channel reaches)."""
    reply = reply.but(private=False).add(*blocks)
    typed_here = ctx.channel_group is not None and ctx.channel_group.id == group.id
    reach = group_reach(group, ctx.settings.platforms, channels=not typed_here)
    if reach:
        reply = reply.post(Post(group.slug, group.name, reach, blocks))
    return reply


def series_of(group: Group) -> MeetingSeries:
    if group.series is None:
        raise UserError(
            _("{group} has no meeting scheduled: a chair can set one with meeting schedule.",
              group=group.slug),
            show_usage=False,
        )
    return group.series


def series_today(ctx: Ctx, series: MeetingSeries) -> dt.date:
    return ctx.now.astimezone(ZoneInfo(series.timezone)).date()


def describe(series: MeetingSeries) -> Msg:
    offsets = parse_offsets(series.remind_offsets)
    human = ", ".join(format_offsets([d]) for d in offsets)
    # TRANSLATORS: a meeting series: "last Thursday at 10:00 Europe/Brussels, reminders 7d,
    # 1d, 1h before" (the rule and the offsets stay as typed)
    return _("{rule} at {time} {zone}, reminders {offsets} before", rule=series.rule_text,
             time=f"{series.start_time:%H:%M}", zone=series.timezone, offsets=human)


def when_of(occ: Occurrence) -> Msg | When:
    """When a meeting is, in the reader's zone, and where it was moved from."""
    when = When(occ.start, occ.zone)
    if occ.moved:
        return _("{when} (moved from {date})", when=when,
                 date=Day(occ.original_date, form="weekday"))
    return when


def _soon_list(series: MeetingSeries, ctx: Ctx) -> Arg:
    soon = upcoming(series, ctx.now, 4)
    if not soon:
        # TRANSLATORS: no next meetings (after "Next meetings:")
        return _("none")
    return listed([Day(o.local.date()) for o in soon])


def find_occurrence(ctx: Ctx, series: MeetingSeries, day: dt.date) -> dt.date:
    """The original date of the meeting a user means by ``day``: a date of the rule, or the
    new date of a moved meeting. Past or unknown dates are errors listing the next ones."""
    check_horizon(ctx, series, day)
    if day < series_today(ctx, series):
        raise UserError(
            _("{date} is past. Next meetings: {dates}.", date=Day(day),
              dates=_soon_list(series, ctx)),
            show_usage=False,
        )
    for exc in series.exceptions:
        if exc.kind == "move" and exc.new_start is not None and exc.new_start.date() == day:
            return exc.original_date
    if day >= series.starts_on and is_occurrence(
        series.rule, series.starts_on, series.start_time, day
    ):
        return day
    raise UserError(
        _("{group} has no meeting on {date}. Next meetings: {dates}.",
          group=series.group.slug, date=Day(day), dates=_soon_list(series, ctx)),
        show_usage=False,
    )


def check_horizon(ctx: Ctx, series: MeetingSeries, day: dt.date) -> None:
    """One-off changes are for the next few years; this also bounds every expansion."""
    if day.year > series_today(ctx, series).year + _LOOKAHEAD_YEARS:
        raise UserError(
            _n("{date} is more than {n} year ahead.", "{date} is more than {n} years ahead.",
               _LOOKAHEAD_YEARS, date=Day(day, form="short")),
            show_usage=False,
        )


def exception_for(series: MeetingSeries, original: dt.date) -> MeetingException | None:
    return next((e for e in series.exceptions if e.original_date == original), None)


def _take_time(args: Args) -> dt.time | None:
    """A trailing ``HH:MM`` (anything shaped like one, so 25:00 is a clear error)."""
    if args.tokens[args.pos :] and looks_like_time(args.tokens[-1].value):
        raw = args.tokens[-1].value
        args.tokens = args.tokens[:-1]
        return parse_time(raw)
    return None


def open_actions(ctx: Ctx, group: Group) -> list[Action]:
    return list(
        ctx.session.scalars(
            select(Action)
            .where(Action.group_id == group.id, Action.status == "open")
            .order_by(undated_last(Action.due), Action.id)
            .limit(_SHOW_ACTIONS + 1)
        )
    )


def next_of(ctx: Ctx, group: Group) -> Reply:
    """A group's next meeting with its link (``meeting next <group>``, the home page)."""
    reply = Reply()
    series = series_of(group)
    found = upcoming(series, ctx.now)
    if not found:
        return reply.say(_("{group} has no more meetings ({schedule}).", group=group.slug,
                           schedule=describe(series)))
    reply = reply.say(_("Next {group} meeting: {when}", group=group.name,
                        when=when_of(found[0])))
    if series.link:
        reply = reply.say(join_line(series.link))
    counts = tally(ctx.session, series, found[0].original_date)
    if counts["yes"] or counts["maybe"] or counts["no"]:
        reply = reply.say(_("Coming: {answers}.", answers=tally_line(counts)))
    return reply


def action_headers() -> tuple[str, ...]:
    """The headers of a table of actions (the agenda's, the minutes')."""
    # TRANSLATORS: the headers of a table of actions: its id, its title, who it is
    # assigned to, its due date
    return (_("id"), _("action"), _("who"), _("due"))


def join_line(link: str) -> Msg:
    """The meeting's video link, to join it."""
    return _("Join: {link}", link=Link(link))


@dataclass(frozen=True)
class _Series:
    """What ``meeting schedule`` reads after the group."""

    rule_text: str
    rule: str
    label: str
    start_time: dt.time
    zone: ZoneInfo
    offsets: str
    link: str | None


def _series(ctx: Ctx, args: Args) -> _Series:
    """``<rule> <HH:MM> [<Area/City>] [remind <offsets>] [link <url>]``."""
    rest = args.remaining()
    at = next((i for i, w in enumerate(rest) if looks_like_time(w)), None)
    if at is None:
        if not rest:
            raise UserError(_("Missing <rule>."))
        raise UserError(_("Missing <HH:MM>: the meeting's local time, like 14:00."))
    rule_words = rest[:at]
    if rule_words and rule_words[-1].lower() == "at":
        rule_words = rule_words[:-1]
    rule_text = " ".join(rule_words)
    rule, label = parse_rule(rule_text)
    args.pos += at
    start_time = parse_time(args.next("<HH:MM>"))
    zone_name = ctx.settings.timezone
    peek = args.peek()
    if peek is not None and peek.lower() not in ("remind", "link"):
        zone_name = args.next("<Area/City>")
    zone = parse_zone(zone_name)
    offsets, link = DEFAULT_OFFSETS, None
    while not args.empty():
        if args.accept("remind"):
            words: list[str] = []
            while not args.empty() and (args.peek() or "").lower() != "link":
                words.append(args.next("<offsets>"))
            if not words:
                raise UserError(_("Missing reminder offsets after remind, like 7d,1d,1h."))
            offsets = format_offsets(parse_offsets(",".join(words)))
        elif args.accept("link"):
            if link is not None:
                raise UserError(_("Give one link."))
            link = check_link(args.next("<url>"))
        else:
            args.done()
    return _Series(rule_text, rule, label, start_time, zone, offsets, link)


def _next_scope(ctx: Ctx, args: Args) -> Group | None:
    """``[<group>|all]``: the group, the channel's when none is named, None for all."""
    if args.accept("all") is not None:
        return None
    return optional_group(ctx, args) or ctx.channel_group


def _move(_ctx: Ctx, args: Args) -> tuple[list[str], list[str], dt.time | None]:
    """``<date> to <date> <HH:MM>``: the words of the date, of the new date, the new time
    (the dates are read in the series' zone, by the handler)."""
    rest = [w.lower() for w in args.remaining()]
    if "to" not in rest:
        raise UserError(_("Missing to <date> <HH:MM>."))
    split = rest.index("to")
    given_time = _take_time(args)
    from_words = args.remaining()[:split]
    to_words = args.remaining()[split + 1 :]
    if not from_words:
        raise UserError(_("Missing the <date> of the meeting to move."))
    if not to_words and given_time is None:
        raise UserError(_("Missing the new <date> and <HH:MM>."))
    args.pos = len(args.tokens)
    return from_words, to_words, given_time


GROUP = p.group()
SERIES = p.custom("<rule> <HH:MM> [<Area/City>] [remind <offsets>] [link <url>]", _series)
NEXT_SCOPE = p.custom("[<group>|all]", _next_scope, rest=False)
DAY = p.words("<date>", missing=_("Missing <date>."))
MOVE = p.custom("<date> to <date> <HH:MM>", _move)
AGENDA_GROUP = p.group_or_here(more=True)
# TRANSLATORS: what is too long in "The agenda item is too long (...)"
AGENDA_ITEM = p.text("[<text...>]", TITLE_MAX, _("agenda item"), required=False)
CALENDAR_GROUP = p.maybe_group()


def register(reg: Registry) -> None:
    reg.noun("meeting", _("monthly meetings: their schedule, agenda, minutes and calendar"),
             common=("next", "schedule", "agenda"))

    @reg.command(
        "meeting", "schedule", p.spec(GROUP, SERIES),
        _("set the group's monthly series; rule: first tuesday, 2nd wednesday, last thursday, "
          "day 15 or an RRULE: line; offsets like 7d,1d,1h"),
        CHAIR_AND_UP,
    )
    def meeting_schedule(ctx: Ctx, v: Values) -> Reply:
        group, asked = v[GROUP], v[SERIES]
        rule_text, rule, label = asked.rule_text, asked.rule, asked.label
        start_time, zone, offsets, link = asked.start_time, asked.zone, asked.offsets, asked.link
        series, changed = upsert_series(
            ctx.session, group, rule_text=rule_text, start_time=start_time, timezone=zone.key,
            offsets=offsets, link=link, now=ctx.now,
            today=ctx.now.astimezone(zone).date(),
        )
        if not changed:
            return Reply().say(_("{group} already meets {schedule}.", group=group.slug,
                                 schedule=describe(series)))
        ctx.audit(
            "schedule", "meeting_series", series.id, group=group.slug, rule=rule,
            label=label, time=f"{start_time:%H:%M}", timezone=zone.key, remind=offsets,
            link=link,
        )
        blocks: list[Block] = [text(_("{group} now meets {schedule}.", group=group.name,
                                      schedule=describe(series)))]
        nxt = upcoming(series, ctx.now)
        if nxt:
            blocks.append(text(_("Next meeting: {when}", when=when_of(nxt[0]))))
        if link:
            blocks.append(text(join_line(link)))
        blocks.append(Invite("REQUEST", ics.invitation(series, dtstamp=ctx.now)))
        return announce(ctx, group, Reply(), *blocks)

    @reg.command("meeting", "next", p.spec(NEXT_SCOPE),
                 _("the next meeting of a group, or of all"), ANYONE)
    def meeting_next(ctx: Ctx, v: Values) -> Reply:
        group = v[NEXT_SCOPE]
        if group is not None:
            return next_of(ctx, group)
        reply = Reply()
        found: list[tuple[dt.datetime | None, tuple[tuple[Span, ...], ...]]] = []
        # TRANSLATORS: a group with no next meeting, in the table of meeting next all
        none = _("none")
        for g in all_groups(ctx.session):
            if g.series is None or g.archived_at is not None:  # archived: left out
                continue
            occ = upcoming(g.series, ctx.now)
            found.append((occ[0].start if occ else None, (
                (g.slug,),
                (when_of(occ[0]) if occ else none,),
                (Link(g.series.link),) if g.series.link else ("-",),
            )))
        if not found:
            return reply.say(_("No meetings are scheduled yet."))
        found.sort(key=lambda r: (r[0] is None, r[0] or ctx.now))
        # TRANSLATORS: the headers of the table of meeting next all
        headers = (_("group"), _("next meeting"), _("link"))
        return reply.add(Table(headers, tuple(row for _at, row in found)))

    @reg.command(
        "meeting", "skip", p.spec(GROUP, DAY), _("cancel one meeting (announced in the channel)"),
        CHAIR_AND_UP.said(_("chair and up")),
    )
    def meeting_skip(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        series = series_of(group)
        day = parse_date(v[DAY], series_today(ctx, series))
        original = find_occurrence(ctx, series, day)
        exc = exception_for(series, original)
        if exc is not None and exc.kind == "skip":
            raise UserError(
                _("The {date} meeting is already skipped.", date=Day(original)),
                show_usage=False,
            )
        series.next_reminder_at = ctx.now  # reminders are planned afresh from now
        series.sequence += 1  # calendars replace the invitation they hold
        if exc is None:
            exc = MeetingException(series=series, original_date=original, kind="skip",
                                   created_at=ctx.now)
            ctx.session.add(exc)
            what: Arg = Day(original)
        else:
            assert exc.new_start is not None
            what = _("{when} (moved from {date})", when=Day(exc.new_start.date()),
                     date=Day(original, form="weekday"))
            exc.kind, exc.new_start = "skip", None
        ctx.session.flush()
        ctx.audit("skip", "meeting_series", series.id, group=group.slug,
                  date=original.isoformat())
        blocks: list[Block] = [text(_("The {group} meeting of {date} is cancelled.",
                                      group=group.name, date=what))]
        nxt = upcoming(series, ctx.now)
        if nxt:
            blocks.append(text(_("Next meeting: {when}", when=when_of(nxt[0]))))
        blocks.append(Invite("CANCEL", ics.invitation(series, dtstamp=ctx.now, cancelled=original)))
        return announce(ctx, group, Reply(), *blocks)

    @reg.command(
        "meeting", "move", p.spec(GROUP, MOVE),
        _("move one meeting (announced in the channel)"), CHAIR_AND_UP.said(_("chair and up")),
    )
    def meeting_move(ctx: Ctx, v: Values) -> Reply:
        group = v[GROUP]
        from_words, to_words, given_time = v[MOVE]
        series = series_of(group)
        today = series_today(ctx, series)
        new_time = given_time or series.start_time
        day = parse_date(from_words, today)
        # "to 15:00" alone keeps the day and changes the hour
        new_day = parse_date(to_words, today) if to_words else day
        original = find_occurrence(ctx, series, day)
        check_horizon(ctx, series, new_day)
        new_start = dt.datetime.combine(new_day, new_time)
        if _utc(place(new_start, series.timezone)) <= ctx.now:
            raise UserError(_("{when} is past.", when=f"{new_start:%a %d %b %Y %H:%M}"),
                            show_usage=False)
        clash = [
            o for o in occurrences(
                series, _utc(place(dt.datetime.combine(new_day, dt.time.min), series.timezone)),
                _utc(place(dt.datetime.combine(new_day + dt.timedelta(days=1), dt.time.min),
                           series.timezone)),
            )
            if o.original_date != original
        ]
        if clash:
            raise UserError(
                _("{group} already meets on {date}: skip that one first.", group=group.slug,
                  date=Day(new_day)),
                show_usage=False,
            )
        exc = exception_for(series, original)
        back_home = new_start == dt.datetime.combine(original, series.start_time)
        if back_home and exc is None:
            raise UserError(
                _("The {date} meeting is already at {time}.", date=Day(original, form="weekday"),
                  time=f"{series.start_time:%H:%M}"),
                show_usage=False,
            )
        series.next_reminder_at = ctx.now  # reminders are planned afresh from now
        series.sequence += 1  # calendars replace the invitation they hold
        if back_home:
            assert exc is not None
            series.exceptions.remove(exc)  # the meeting is back where the rule puts it
        elif exc is None:
            ctx.session.add(MeetingException(
                series=series, original_date=original, kind="move", new_start=new_start,
                created_at=ctx.now,
            ))
        else:
            exc.kind, exc.new_start = "move", new_start
        ctx.session.flush()
        ctx.audit("move", "meeting_series", series.id, group=group.slug,
                  date=original.isoformat(), to=new_start.isoformat())
        occ = Occurrence(_utc(place(new_start, series.timezone)), series.timezone, original,
                         moved=not back_home)
        if back_home:
            moved = _("The {group} meeting of {date} is back at its usual time, {when}.",
                      group=group.name, date=Day(original), when=When(occ.start, occ.zone))
        else:
            moved = _("The {group} meeting of {date} is now on {when}.", group=group.name,
                      date=Day(original), when=When(occ.start, occ.zone))
        blocks: list[Block] = [text(moved)]
        if series.link:
            blocks.append(text(join_line(series.link)))
        blocks.append(Invite("REQUEST", ics.invitation(series, dtstamp=ctx.now)))
        return announce(ctx, group, Reply(), *blocks)

    @reg.command(
        "meeting", "agenda", p.spec(AGENDA_GROUP, AGENDA_ITEM),
        _("add to, or show, the next meeting's agenda (with the group's open actions)"),
        Policy(_("members add; anyone shows")),
    )
    def meeting_agenda(ctx: Ctx, v: Values) -> Reply:
        group, item = v[AGENDA_GROUP], v[AGENDA_ITEM]
        series = series_of(group)
        if item:
            require_member(ctx, group, "meeting agenda")
        occ = upcoming(series, ctx.now)
        if not occ:
            raise UserError(_("{group} has no next meeting.", group=group.slug),
                            show_usage=False)
        nxt = occ[0]
        if item:
            agenda = AgendaItem(group_id=group.id, occurrence_date=nxt.original_date,
                                text=item, author_id=ctx.actor.id, created_at=ctx.now)
            ctx.session.add(agenda)
            ctx.session.flush()
            ctx.audit("add_agenda", "agenda_item", agenda.id, group=group.slug,
                      date=nxt.original_date.isoformat())
            return Reply(private=False).say(
                _("Added to the agenda of the {group} meeting on {when}: {item}",
                  group=group.name, when=When(nxt.start, nxt.zone), item=item),
            )
        reply = Reply()
        reply = reply.say(_("Agenda: {group}, {when}", group=group.name, when=when_of(nxt)),
                          style="heading")
        items = list(ctx.session.scalars(
            select(AgendaItem)
            .where(AgendaItem.group_id == group.id,
                   AgendaItem.occurrence_date == nxt.original_date)
            .order_by(AgendaItem.id)
        ))
        if items:
            for i, a in enumerate(items, 1):
                spans: list[Span] = [f"{i}. {a.text}"]
                if a.author is not None:
                    spans += [" (", mention(a.author), ")"]
                reply = reply.add(Text(tuple(spans)))
        else:
            reply = reply.say(
                _("Nothing on the agenda yet: meeting agenda <text...> adds an item."))
        actions = open_actions(ctx, group)
        if actions:
            rows = []
            for act in actions[:_SHOW_ACTIONS]:
                who: list[Span] = []
                for k, asg in enumerate(act.assignees):
                    if k:
                        who.append(", ")
                    who.append(mention(asg.person))
                rows.append((
                    (f"A-{act.id}",), (act.title,), tuple(who) or ("-",),
                    (Day(act.due),) if act.due else ("-",),
                ))
            reply = reply.say(_("Open actions"), style="heading")
            reply = reply.add(Table(action_headers(), tuple(rows)))
            if len(actions) > _SHOW_ACTIONS:
                reply = reply.say(_("... and more: action list {group} shows them all.",
                                    group=group.slug))
        else:
            reply = reply.say(_("No open actions."))
        return reply

    @reg.command(
        "meeting", "calendar", p.spec(CALENDAR_GROUP),
        _("an iCalendar (.ics) file of the series, with its skips and moves"), ANYONE,
    )
    def meeting_calendar(ctx: Ctx, v: Values) -> Reply:
        group = v[CALENDAR_GROUP] or ctx.channel_group
        if group is not None:
            series_list = [series_of(group)]
            name, title = f"{group.slug}.ics", _("{group} meetings", group=group.name)
        else:
            series_list = [g.series for g in all_groups(ctx.session)
                           if g.series is not None and g.archived_at is None]
            if not series_list:
                raise UserError(_("No meetings are scheduled yet."), show_usage=False)
            name, title = "meetings.ics", _("All group meetings")
        body = ics.calendar(series_list, dtstamp=ctx.now, name=title)
        reply = Reply()
        reply = reply.add(File(name, "text/calendar", body.encode("utf-8"), title))
        reply = reply.say(_("{title}: import the file into your calendar.", title=title))
        return reply
