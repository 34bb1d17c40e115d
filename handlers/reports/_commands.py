"""The secretariat's workbench outside chat: exports, signed web links, the monthly report
and the dashboard's content.

Everything here is platform-neutral and synchronous. The HTTP side (``bot.web``) only
checks a link and calls these functions; the chat side (``handlers.secretariat``) hands out
the links and posts the report. matplotlib is imported only while a chart is drawn, so
loading the core stays light.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlencode

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, selectinload

from handlers.core.context import CoreSettings, Ctx
from handlers.core.directory import mention, take_group
from handlers.core.grammar import Args, Refused, UserError, ascii_int
from handlers.core.messages import (
    Block,
    Day,
    File,
    Link,
    Mention,
    Reply,
    Span,
    Table,
    Text,
    When,
    plain_of,
)
from handlers.core.people import resolve_person
from handlers.core.roles import is_member, require_member, require_staff, staff
from handlers.core.router import Registry
from handlers.secretariat import CSV_HEADER, ActionQuery, csv_batches, write_csv
from storage import kv, outbox
from storage.models import (
    Action,
    Decision,
    DecisionTarget,
    Group,
    LinkKey,
    Meeting,
    MeetingAttendee,
    MeetingItem,
    MeetingSeries,
    Membership,
    Person,
)

# --- exports ----------------------------------------------------------------------------------

FORMATS = ("csv", "json", "md")
Progress = Callable[[int], None]


def export_actions(
    ctx: Ctx, q: ActionQuery, out: TextIO, fmt: str, progress: Progress | None = None
) -> int:
    """Write every matching action to ``out`` as it is read (the columns of the chat CSV);
    returns the number of rows. ``progress`` is called with the running count per batch."""
    return write_export(csv_batches(ctx, q), out, fmt, ACTIONS_EXPORT, progress)


Batch = list[tuple[str, ...]]


@dataclass(frozen=True)
class ExportShape:
    """The columns of one export, and those JSON writes as numbers (empty: null)."""

    header: tuple[str, ...]
    numbers: frozenset[str] = frozenset()


ACTIONS_EXPORT = ExportShape(CSV_HEADER, frozenset({"days_overdue"}))


def write_export(batches: Iterable[Batch], out: TextIO, fmt: str, shape: ExportShape,
                 progress: Progress | None = None) -> int:
    """Every row of ``batches`` to ``out`` as CSV (cells neutralised), JSON or Markdown:
    the one writer of every ``taskbot report``. Returns the number of rows."""
    if fmt not in FORMATS:
        raise UserError(f"Unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    rows = _counted(batches, progress)
    if fmt == "csv":
        return write_csv(rows, out, shape.header)
    if fmt == "json":
        return _write_json(rows, out, shape)
    return _write_md(rows, out, shape.header)


def _counted(batches: Iterable[Batch], progress: Progress | None) -> Iterator[Batch]:
    """The batches, reporting the running count once each has been written."""
    n = 0
    for batch in batches:
        yield batch
        n += len(batch)
        if progress is not None:
            progress(n)
    if progress is not None and n == 0:
        progress(0)


def json_record(row: Sequence[str], shape: ExportShape = ACTIONS_EXPORT) -> dict[str, Any]:
    """One exported row as JSON: empty cells are null, the shape's number columns numbers."""
    record: dict[str, Any] = {}
    for key, value in zip(shape.header, row, strict=True):
        if key in shape.numbers:
            record[key] = int(value) if value else None
        else:
            record[key] = value if value != "" else None
    return record


def _write_json(batches: Iterable[Batch], out: TextIO, shape: ExportShape) -> int:
    """A JSON array written a batch at a time, so memory stays flat."""
    n = 0
    out.write("[")
    for batch in batches:
        out.write("".join(
            (",\n " if n or i else "\n ") + json.dumps(json_record(row, shape), ensure_ascii=False)
            for i, row in enumerate(batch)))
        n += len(batch)
    out.write("\n]\n" if n else "]\n")
    return n


def md_cell(value: str) -> str:
    """A Markdown table cell: pipes and backslashes escaped, one line."""
    value = " ".join(value.split())
    return value.replace("\\", "\\\\").replace("|", "\\|")


def _write_md(batches: Iterable[Batch], out: TextIO, header: Sequence[str]) -> int:
    out.write("| " + " | ".join(header) + " |\n")
    out.write("|" + "|".join("---" for _ in header) + "|\n")
    n = 0
    for batch in batches:
        out.write("".join(
            "| " + " | ".join(md_cell(c) for c in row) + " |\n" for row in batch))
        n += len(batch)
    return n


def count_actions(ctx: Ctx, q: ActionQuery) -> int:
    """How many rows an export will have (for a progress bar)."""
    from handlers.secretariat import matching, query_params

    source, where = matching(q)
    stmt = select(func.count()).select_from(source).where(*where)
    return int(ctx.session.scalar(stmt, query_params(q, ctx.today)) or 0)


# --- the decisions and meetings exports (taskbot report decisions|meetings) -----------------

EXPORT_BATCH = 500
DECISIONS_EXPORT = ExportShape(
    ("id", "date", "author", "targets", "acknowledged", "pending", "actions_open", "actions",
     "text"),
    frozenset({"actions_open", "actions"}),
)
MEETINGS_EXPORT = ExportShape(
    ("id", "group", "date", "started", "ended", "minutes", "status", "chairs", "attendees",
     "topics", "actions", "agreed", "decisions"),
    frozenset({"minutes", "attendees", "topics", "actions", "agreed", "decisions"}),
)


@dataclass
class RecordQuery:
    """The filters of ``taskbot report decisions|meetings``: one group, from a local day."""

    group: Group | None = None
    since: dt.date | None = None

    def describe(self, what: str) -> str:
        parts = [what]
        if self.group is not None:
            parts.append(f"{'for' if what == 'decisions' else 'of'} {self.group.slug}")
        if self.since is not None:
            parts.append(f"since {self.since.isoformat()}")
        return " ".join(parts)


def _day_start(ctx: Ctx, day: dt.date) -> dt.datetime:
    from handlers.decisions import utc_naive_of_local_day

    return utc_naive_of_local_day(ctx, day)


def _names(ctx: Ctx) -> dict[int, str]:
    return {pid: name for pid, name in ctx.session.execute(select(Person.id, Person.display_name))}


def _decision_where(ctx: Ctx, q: RecordQuery) -> list[Any]:
    where: list[Any] = []
    if q.group is not None:
        where.append(Decision.id.in_(select(DecisionTarget.decision_id)
                                     .where(DecisionTarget.group_id == q.group.id)))
    if q.since is not None:
        where.append(Decision.created_at >= _day_start(ctx, q.since))
    return where


def count_decisions(ctx: Ctx, q: RecordQuery) -> int:
    stmt = select(func.count(Decision.id)).where(*_decision_where(ctx, q))
    return int(ctx.session.scalar(stmt) or 0)


def decision_batches(ctx: Ctx, q: RecordQuery) -> Iterator[Batch]:
    """The register, oldest first, a batch at a time (by id, so memory stays flat)."""
    from handlers.decisions import linked_action_counts

    where = _decision_where(ctx, q)
    names = _names(ctx)
    zone = ctx.settings.zone
    last = 0
    while True:
        found = list(ctx.session.scalars(
            select(Decision).where(*where, Decision.id > last)
            .options(selectinload(Decision.targets).selectinload(DecisionTarget.group))
            .order_by(Decision.id).limit(EXPORT_BATCH)))
        if not found:
            return
        counts = linked_action_counts(ctx, [d.id for d in found])
        rows: Batch = []
        for d in found:
            open_n, all_n = counts.get(d.id, (0, 0))
            acked = sum(1 for t in d.targets if t.acked_at is not None)
            rows.append((
                f"D-{d.id}",
                d.created_at.replace(tzinfo=dt.UTC).astimezone(zone).date().isoformat(),
                names.get(d.author_id, "") if d.author_id is not None else "",
                "; ".join(t.group.slug for t in d.targets),
                f"{acked}/{len(d.targets)}",
                "; ".join(t.group.slug for t in d.targets if t.acked_at is None),
                str(open_n), str(all_n), d.text,
            ))
        yield rows
        last = found[-1].id


def _meeting_where(ctx: Ctx, q: RecordQuery) -> list[Any]:
    where: list[Any] = []
    if q.group is not None:
        where.append(Meeting.group_id == q.group.id)
    if q.since is not None:
        where.append(Meeting.started_at >= _day_start(ctx, q.since))
    return where


def count_meetings(ctx: Ctx, q: RecordQuery) -> int:
    stmt = select(func.count(Meeting.id)).where(*_meeting_where(ctx, q))
    return int(ctx.session.scalar(stmt) or 0)


def meeting_batches(ctx: Ctx, q: RecordQuery) -> Iterator[Batch]:
    """Every meeting held (``meeting start``), oldest first, with local times in its
    group's zone and what was captured in it, a batch at a time."""
    from zoneinfo import ZoneInfo

    from handlers.meeting_mode import zone_of

    where = _meeting_where(ctx, q)
    names = _names(ctx)
    last = 0
    while True:
        found = list(ctx.session.scalars(
            select(Meeting).where(*where, Meeting.id > last)
            .options(selectinload(Meeting.group).selectinload(Group.series))
            .order_by(Meeting.id).limit(EXPORT_BATCH)))
        if not found:
            return
        ids = [m.id for m in found]
        kinds: dict[tuple[int, str], int] = {
            (mid, kind): n for mid, kind, n in ctx.session.execute(
                select(MeetingItem.meeting_id, MeetingItem.kind, func.count())
                .where(MeetingItem.meeting_id.in_(ids))
                .group_by(MeetingItem.meeting_id, MeetingItem.kind))}
        present: dict[int, int] = {mid: n for mid, n in ctx.session.execute(
            select(MeetingAttendee.meeting_id, func.count())
            .where(MeetingAttendee.meeting_id.in_(ids))
            .group_by(MeetingAttendee.meeting_id))}
        rows: Batch = []
        for m in found:
            zone = ZoneInfo(zone_of(m.group, ctx.settings))
            start = m.started_at.replace(tzinfo=dt.UTC).astimezone(zone)
            end = m.ended_at.replace(tzinfo=dt.UTC).astimezone(zone) if m.ended_at else None
            status = "open" if end is None else "auto-closed" if m.auto_closed else "ended"
            rows.append((
                f"M-{m.id}", m.group.slug, start.date().isoformat(), f"{start:%Y-%m-%d %H:%M}",
                f"{end:%Y-%m-%d %H:%M}" if end else "",
                str(int((m.ended_at - m.started_at).total_seconds() // 60)) if m.ended_at
                else "",
                status, "; ".join(names.get(pid, "") for pid in (m.chair_ids or [])),
                str(present.get(m.id, 0)),
                *(str(kinds.get((m.id, kind), 0))
                  for kind in ("topic", "action", "agreed", "decision")),
            ))
        yield rows
        last = found[-1].id


def export_decisions(ctx: Ctx, q: RecordQuery, out: TextIO, fmt: str,
                     progress: Progress | None = None) -> int:
    return write_export(decision_batches(ctx, q), out, fmt, DECISIONS_EXPORT, progress)


def export_meetings(ctx: Ctx, q: RecordQuery, out: TextIO, fmt: str,
                    progress: Progress | None = None) -> int:
    return write_export(meeting_batches(ctx, q), out, fmt, MEETINGS_EXPORT, progress)


def reader_ctx(session: Session, settings: CoreSettings, now: dt.datetime) -> Ctx:
    """A context for read-only work outside a command (the CLI, the web pages): the actor is
    a transient person that is never written."""
    return Ctx(session=session, actor=Person(display_name="taskbot"), platform="web",
               channel_id=None, settings=settings, now=now)


# --- signed links -----------------------------------------------------------------------------

SECRET_KEY = "web:secret"
TOKEN_HEX = 32
DASHBOARD_PATH = "/dashboard"


def web_secret(session: Session, *, create: bool = False) -> bytes | None:
    """The key every link is signed with, kept in the store so all processes share it and
    it survives restarts; made on first use by a command that hands out a link."""
    value = kv.get(session, SECRET_KEY)
    if value is None and create:
        value = secrets.token_hex(32)
        kv.put(session, SECRET_KEY, value)
        session.flush()
    return bytes.fromhex(value) if value else None


def sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def link_key(session: Session, person_id: int, now: dt.datetime, *,
             create: bool = False) -> str | None:
    """The person's key for their links, made on first use by a command that hands one out."""
    key = session.get(LinkKey, person_id)
    if key is None and create:
        key = LinkKey(person_id=person_id, token=secrets.token_hex(TOKEN_HEX // 2),
                      created_at=now.astimezone(dt.UTC).replace(tzinfo=None))
        session.add(key)
        session.flush()
    return None if key is None else key.token


def reset_link_key(session: Session, person_id: int, now: dt.datetime) -> str:
    """A new key for the person: every feed and dashboard link made with the old one stops
    working at once."""
    key = session.get(LinkKey, person_id)
    if key is None:
        return link_key(session, person_id, now, create=True) or ""
    key.token = secrets.token_hex(TOKEN_HEX // 2)
    key.created_at = now.astimezone(dt.UTC).replace(tzinfo=None)
    session.flush()
    return key.token


def same_token(expected: str, given: str) -> bool:
    """A constant-time comparison that is False, not a TypeError, for non-ASCII input."""
    return given.isascii() and hmac.compare_digest(expected, given)


_TOKEN_SHAPE = re.compile(rf"[0-9a-f]{{{TOKEN_HEX}}}", re.ASCII)


def malformed_link(params: dict[str, str]) -> str | None:
    """Why a link's parameters cannot be ones the bot made (the web answers 400), or None.
    A parameter that is absent is no shape error: the link is then refused (403)."""
    for name, what in (("exp", "expiry"), ("who", "holder")):
        value = params.get(name, "")
        if value and ascii_int(value) is None:
            return f"This link is not valid: its {what} is not a number."
    for name in ("sig", "token"):
        value = params.get(name, "")
        if value and not _TOKEN_SHAPE.fullmatch(value):
            return f"This link is not valid: its {name} is not {TOKEN_HEX} hex digits."
    return None


ROW_ID_MAX = 2**31 - 1  # PostgreSQL's integer: a larger id in a query would be an error


def row_id(raw: str) -> int | None:
    """A row id from a link or a filter: ASCII digits, within the column's range."""
    n = ascii_int(raw, 10)
    return n if n is not None and 0 < n <= ROW_ID_MAX else None


def _holder_ctx(session: Session, settings: CoreSettings, now: dt.datetime,
                person: Person) -> Ctx:
    """The link's holder as the actor, so the role checks of the commands apply as they are
    now, not as they were when the link was made."""
    return Ctx(session=session, actor=person, platform="web", channel_id=None,
               settings=settings, now=now)


_HOLDER_OF = select(Person).join(LinkKey, LinkKey.person_id == Person.id)


def feed_holder(session: Session, settings: CoreSettings, now: dt.datetime,
                token: str) -> Ctx | None:
    """The person whose key ``token`` is (as a context for role checks), or None."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    person = session.scalar(_HOLDER_OF.where(LinkKey.token == token))
    return None if person is None else _holder_ctx(session, settings, now, person)


def may_read_feed(ctx: Ctx, group: Group | None) -> bool:
    """``meeting feed``'s rule, checked on every fetch: a member of the group (any group for
    ``all``, None) or the secretariat or an admin."""
    if staff(ctx):
        return True
    if group is None:
        return ctx.session.scalar(select(Membership.id).where(
            Membership.person_id == ctx.actor.id).limit(1)) is not None
    return is_member(ctx, group)


def feed_groups(ctx: Ctx) -> list[Group]:
    """The groups in the holder's ``all`` feed: every group for the secretariat and admins,
    else the groups they are a member of (those whose own feed they may read)."""
    stmt = select(Group).order_by(Group.id)
    if not staff(ctx):
        stmt = stmt.join(Membership, Membership.group_id == Group.id).where(
            Membership.person_id == ctx.actor.id)
    return list(ctx.session.scalars(stmt))


def feed_path(key: str, feed: str) -> str:
    return f"/calendar/{feed}.ics?token={key}"


def dashboard_signature(secret: bytes, person_id: int, key: str, expires: int) -> str:
    """Signed over the holder and their key: a new key revokes the link, and the link
    does not reveal the key."""
    return sign(secret, f"dashboard:{person_id}:{key}:{expires}")


def dashboard_path(secret: bytes, person_id: int, key: str, expires: int) -> str:
    query = urlencode({"exp": expires, "who": person_id,
                       "sig": dashboard_signature(secret, person_id, key, expires)})
    return f"{DASHBOARD_PATH}?{query}"


def check_dashboard(session: Session, settings: CoreSettings, query: dict[str, str],
                    now: dt.datetime) -> str | None:
    """None when the link is good and its holder is the secretariat or an admin now, else
    why it is refused."""
    secret = web_secret(session)
    expires, who = ascii_int(query.get("exp", "")), row_id(query.get("who", ""))
    if secret is None or expires is None or who is None:
        return "This link is not valid."
    person = session.get(Person, who)
    key = None if person is None else link_key(session, who, now)
    if person is None or key is None or not same_token(
            dashboard_signature(secret, who, key, expires), query.get("sig", "")):
        return "This link is not valid."
    if expires <= int(now.timestamp()):
        return "This link has expired: ask for a new one with `secretariat dashboard`."
    if not staff(_holder_ctx(session, settings, now, person)):
        return "This link is no longer valid: its holder is not the secretariat or an admin."
    return None


def absolute(settings: CoreSettings, path: str) -> str:
    """A link people can open: the public URL of ``taskbot run`` when it is set."""
    base = settings.public_url.rstrip("/")
    return base + path if base else path


def web_link(settings: CoreSettings, path: str, label: str = "") -> Span:
    """What a reply shows for one of the bot's web pages: a link with the host when the
    public URL is set, else the bare path (with ``NO_WEB_ADDRESS`` said once beside it)."""
    url = absolute(settings, path)
    return Link(url, label) if url.startswith(("http://", "https://")) else url


NO_WEB_ADDRESS = (
    "The bot's web address is not set, so this is only the path: an admin sets "
    "TASKBOT_PUBLIC_URL (like https://taskbot.example.org) to the address where taskbot run "
    "serves PORT, and the links then start with it; until then, put that address in front "
    "of the path yourself."
)


def say_web_hint(reply: Reply, settings: CoreSettings) -> Reply:
    """The hint for links without a host, when the public URL is not set."""
    if not settings.public_url:
        reply.say(NO_WEB_ADDRESS)
    return reply


# --- tables as HTML and Markdown --------------------------------------------------------------


def html_span(span: Span) -> str:
    if isinstance(span, Link):
        return (f'<a href="{html.escape(span.url, quote=True)}">'
                f"{html.escape(span.label or span.url)}</a>")
    if isinstance(span, When):
        return (f'<time datetime="{span.at.isoformat()}">'
                f"{html.escape(plain_of(span))}</time>")
    if isinstance(span, Mention):
        return html.escape(span.name)
    return html.escape(plain_of(span))


_NUM = ' class="n"'


def html_table(table: Table, *, numeric: Iterable[int] = ()) -> str:
    nums = set(numeric)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td{_NUM if i in nums else ""} '
            f'data-label="{html.escape(table.headers[i])}">'
            f'{"".join(html_span(s) for s in cell)}</td>'
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (f"<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def md_table(table: Table) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in table.headers) + " |",
             "|" + "|".join("---" for _ in table.headers) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(
            md_cell("".join(plain_of(s) for s in cell)) for cell in row) + " |")
    return "\n".join(lines)


# --- the monthly report -----------------------------------------------------------------------

HISTORY_MONTHS = 6
_MONTHS = {name.lower(): i for i, name in enumerate(_calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(_calendar.month_abbr) if name})


def parse_month(raw: str, today: dt.date) -> dt.date:
    """``2026-10``, ``october``, ``oct 2026``, ``this month``, ``last month`` -> the first
    day of that month. A bare month name is the latest one not after this month."""
    text = " ".join(raw.lower().split())
    if text in ("", "this month", "this"):
        return today.replace(day=1)
    if text in ("last month", "last", "previous"):
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text, re.ASCII)
    if m and 1 <= int(m.group(2)) <= 12:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    m = re.fullmatch(r"([a-z]+)\.?(?: (\d{4}))?", text, re.ASCII)
    if m and m.group(1) in _MONTHS:
        month = _MONTHS[m.group(1)]
        if m.group(2):
            return dt.date(int(m.group(2)), month, 1)
        year = today.year if month <= today.month else today.year - 1
        return dt.date(year, month, 1)
    raise UserError(f"{raw!r} is not a month: use 2026-10, october, oct 2026 or last month.")


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def _utc_naive(day: dt.date, settings: CoreSettings) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time.min, tzinfo=settings.zone)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass
class GroupMonth:
    slug: str
    name: str
    open: int = 0
    overdue: int = 0
    done: int = 0
    decisions: int = 0  # decisions of the month addressed to the group
    acked: int = 0  # of those, acknowledged by the group (by now)
    scheduled: int = 0  # occurrences of the series in the month (so far), moves included
    held: int = 0  # meetings actually run (meeting start, then ended or closed by itself)
    skipped: int = 0
    moved: int = 0  # occurrences of the month moved to another day or time


@dataclass
class DecisionLine:
    id: int
    text: str
    posted: dt.date
    targets: list[tuple[str, bool]]  # (group slug, acknowledged)


@dataclass
class MonthlyReport:
    month: dt.date  # first day
    as_of: dt.datetime  # aware: the month's end, or now for the current month
    groups: list[GroupMonth]
    decisions: list[DecisionLine]
    # (first day of month, {slug: (open, overdue)}) for the last HISTORY_MONTHS months
    history: list[tuple[dt.date, dict[str, tuple[int, int]]]] = field(default_factory=list)
    partial: bool = False  # the current month, to date

    @property
    def title(self) -> str:
        return f"Monthly report, {self.month:%B %Y}"


    def table(self) -> Table:
        def row(g: GroupMonth) -> tuple[tuple[Span, ...], ...]:
            return ((g.slug,), (str(g.open),), (str(g.overdue),), (str(g.done),),
                    (f"{g.acked}/{g.decisions}",), (str(g.scheduled),), (str(g.held),),
                    (str(g.skipped),), (str(g.moved),))

        total = GroupMonth("total", "total")
        for g in self.groups:
            for attr in ("open", "overdue", "done", "decisions", "acked", "scheduled", "held",
                         "skipped", "moved"):
                setattr(total, attr, getattr(total, attr) + getattr(g, attr))
        rows = (*(row(g) for g in self.groups), row(total))
        return Table(("group", "open", "overdue", "done", "decisions acked",
                      "meetings scheduled", "held", "skipped", "moved"), rows)


def snapshots(session: Session, points: Sequence[tuple[dt.datetime, dt.date]]
              ) -> list[dict[int | None, tuple[int, int]]]:
    """Per point (an instant in naive UTC, the local date then): group id -> (open, overdue)
    as they stood then. Read from creation and closing times: an action was open at ``at``
    if it existed and was not yet closed (a due date changed later counts as it is now).

    One pass over the actions for all points: each point is a pair of conditional sums.
    """
    if not points:
        return []
    first = min(at for at, _ in points)
    last = max(at for at, _ in points)
    columns: list[Any] = []
    for at, day in points:
        was_open = (Action.created_at < at) & (
            (Action.status == "open") | (Action.closed_at >= at))
        columns.append(func.sum(case((was_open, 1), else_=0)))
        columns.append(func.sum(case((was_open & (Action.due < day), 1), else_=0)))
    stmt = (
        select(Action.group_id, *columns)
        .where(Action.created_at < last,
               (Action.status == "open") | (Action.closed_at >= first))
        .group_by(Action.group_id)
    )
    out: list[dict[int | None, tuple[int, int]]] = [{} for _ in points]
    for gid, *sums in session.execute(stmt):
        for i in range(len(points)):
            n, late = int(sums[2 * i] or 0), int(sums[2 * i + 1] or 0)
            if n:
                out[i][gid] = (n, late)
    return out


def _as_of(month: dt.date, settings: CoreSettings, now: dt.datetime) -> tuple[dt.datetime,
                                                                             dt.date]:
    """The report's instant (aware UTC) and local date: the month's end or now."""
    end = dt.datetime.combine(next_month(month), dt.time.min, tzinfo=settings.zone)
    end_utc = end.astimezone(dt.UTC)
    if now < end_utc:
        return now.astimezone(dt.UTC), now.astimezone(settings.zone).date()
    return end_utc, next_month(month)


def build_report(ctx: Ctx, month: dt.date) -> MonthlyReport:
    """The numbers of one month, per group, and six months of open/overdue history."""
    from handlers.meetings import occurrences

    settings, session = ctx.settings, ctx.session
    if month > ctx.today:
        raise UserError(f"{month:%B %Y} has not started yet.", show_usage=False)
    start = _utc_naive(month, settings)
    end = _utc_naive(next_month(month), settings)
    as_of, as_of_day = _as_of(month, settings, ctx.now)
    groups = list(session.scalars(
        select(Group).order_by(Group.id)
        .options(selectinload(Group.series).selectinload(MeetingSeries.exceptions))))
    by_id = {g.id: GroupMonth(g.slug, g.name) for g in groups}

    first = month
    for _ in range(HISTORY_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    months = [first]
    while len(months) < HISTORY_MONTHS:
        months.append(next_month(months[-1]))
    points = [_as_of(m, settings, ctx.now) for m in months]
    counts = snapshots(session, [(at.replace(tzinfo=None), day) for at, day in points])
    history = [(m, {g.slug: c.get(g.id, (0, 0)) for g in groups})
               for m, c in zip(months, counts, strict=True)]
    assert points[-1] == (as_of, as_of_day)
    for gid, (n_open, n_late) in counts[-1].items():
        if gid in by_id:
            by_id[gid].open, by_id[gid].overdue = n_open, n_late
    for gid, n in session.execute(
        select(Action.group_id, func.count())
        .where(Action.status == "done", Action.closed_at >= start, Action.closed_at < end)
        .group_by(Action.group_id)
    ):
        if gid in by_id:
            by_id[gid].done = int(n)

    decisions: dict[int, DecisionLine] = {}
    for did, text, created, slug, gid, acked in session.execute(
        select(Decision.id, Decision.text, Decision.created_at, Group.slug, Group.id,
               DecisionTarget.acked_at)
        .join(DecisionTarget, DecisionTarget.decision_id == Decision.id)
        .join(Group, Group.id == DecisionTarget.group_id)
        .where(Decision.created_at >= start, Decision.created_at < end)
        .order_by(Decision.id, Group.slug)
    ):
        line = decisions.get(did)
        if line is None:
            posted = created.replace(tzinfo=dt.UTC).astimezone(settings.zone).date()
            line = decisions[did] = DecisionLine(did, text, posted, [])
        line.targets.append((slug, acked is not None))
        by_id[gid].decisions += 1
        by_id[gid].acked += acked is not None

    month_start = start.replace(tzinfo=dt.UTC)
    until = min(as_of, end.replace(tzinfo=dt.UTC))
    for g in groups:
        series = g.series
        if series is None:
            continue
        by_id[g.id].scheduled = len(occurrences(series, month_start, until))
        in_month = [e for e in series.exceptions if month <= e.original_date < next_month(month)]
        by_id[g.id].skipped = sum(1 for e in in_month if e.kind == "skip")
        by_id[g.id].moved = sum(1 for e in in_month if e.kind == "move")
    # held: a meeting was run (started, and ended or closed by itself), not a calendar date
    for gid, n in session.execute(
        select(Meeting.group_id, func.count())
        .where(Meeting.ended_at.is_not(None), Meeting.started_at >= start,
               Meeting.started_at < until.astimezone(dt.UTC).replace(tzinfo=None))
        .group_by(Meeting.group_id)
    ):
        if gid in by_id:
            by_id[gid].held = int(n)

    return MonthlyReport(month, as_of, [by_id[g.id] for g in groups],
                         list(decisions.values()), history,
                         partial=as_of < end.replace(tzinfo=dt.UTC))


def _decision_text(d: DecisionLine, limit: int = 120) -> str:
    text = " ".join(d.text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ack_line(d: DecisionLine) -> str:
    return ", ".join(f"{slug} {'acknowledged' if ok else 'waiting'}" for slug, ok in d.targets)


def _as_of_text(report: MonthlyReport, settings: CoreSettings) -> str:
    if report.partial:
        local = report.as_of.astimezone(settings.zone)
        return f"{local:%d %b %Y %H:%M %Z} (month to date)"
    return "the end of the month"


def report_markdown(report: MonthlyReport, settings: CoreSettings,
                    chart_name: str | None = None) -> str:
    lines = [f"# {report.title}", "",
             f"Open and overdue as of {_as_of_text(report, settings)}; "
             "done, decisions and meetings within the month.", "",
             md_table(report.table()), ""]
    if chart_name:
        lines += [f"![Open and overdue actions per group]({chart_name})", ""]
    lines += ["## Decisions", ""]
    if not report.decisions:
        lines.append("No decisions this month.")
    for d in report.decisions:
        lines.append(f"- **D-{d.id}** ({d.posted:%d %b}) {md_cell(_decision_text(d))} — "
                     f"{_ack_line(d)}")
    lines += ["", "## Six months", "", md_table(history_table(report)), ""]
    return "\n".join(lines)


def history_table(report: MonthlyReport) -> Table:
    slugs = [g.slug for g in report.groups]
    rows = tuple(
        ((f"{first:%b %Y}",), *((f"{counts[s][0]} / {counts[s][1]}",) for s in slugs))
        for first, counts in report.history
    )
    return Table(("month (open / overdue)", *slugs), rows)


PAGE_CSS = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:72rem;padding:1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:top}
th{background:#f3f5f7;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.late{color:#b42318;font-weight:600}.muted{color:#57606a}.ok{color:#1a7f37}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}
label{display:flex;flex-direction:column;font-size:.85rem}select,button{font:inherit;
padding:.3rem}img{max-width:100%;height:auto}
@media (max-width:40rem){thead{display:none}tr{display:block;border-bottom:2px solid #d8dee4;
padding:.3rem 0}td{display:block;border:0;padding:.1rem .3rem}
td[data-label]:before{content:attr(data-label) ": ";color:#57606a;font-size:.85rem}
td.n{text-align:left}}
"""


def html_page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex\">"
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def report_html(report: MonthlyReport, settings: CoreSettings, png: bytes | None) -> str:
    """One self-contained page: the chart is embedded, so the file can be mailed on."""
    import base64

    parts = [f"<h1>{html.escape(report.title)}</h1>",
             f"<p class=\"muted\">Open and overdue as of "
             f"{html.escape(_as_of_text(report, settings))}; done, decisions and meetings "
             "within the month.</p>",
             html_table(report.table())]
    if png:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="Open and overdue actions per group, last six months" '
                     f'src="data:image/png;base64,{data}">')
    parts.append("<h2>Decisions</h2>")
    if not report.decisions:
        parts.append("<p>No decisions this month.</p>")
    else:
        parts.append("<ul>" + "".join(
            f"<li><b>D-{d.id}</b> ({d.posted:%d %b}) {html.escape(_decision_text(d))} — "
            + ", ".join(
                f'<span class="{"ok" if ok else "late"}">{html.escape(slug)} '
                f'{"acknowledged" if ok else "waiting"}</span>' for slug, ok in d.targets)
            + "</li>" for d in report.decisions) + "</ul>")
    parts += ["<h2>Six months</h2>", html_table(history_table(report))]
    return html_page(report.title, "".join(parts))


CHART_SIZE = (10.0, 5.0)  # inches
CHART_DPI = 100


def report_chart(report: MonthlyReport) -> bytes:
    """A PNG: open (solid) and overdue (dashed) actions per group, one colour per group,
    over the last six months. Agg backend, no display needed."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    ax = fig.add_subplot()
    labels = [f"{first:%b %Y}" for first, _ in report.history]
    xs = list(range(len(labels)))
    colors = [f"C{i % 10}" for i in range(len(report.groups))]
    for g, color in zip(report.groups, colors, strict=True):
        opens = [counts.get(g.slug, (0, 0))[0] for _, counts in report.history]
        lates = [counts.get(g.slug, (0, 0))[1] for _, counts in report.history]
        ax.plot(xs, opens, color=color, marker="o", label=f"{g.slug} open")
        ax.plot(xs, lates, color=color, marker="x", linestyle="--", label=f"{g.slug} overdue")
    ax.set_xticks(xs, labels)
    ax.set_ylabel("actions")
    ax.set_ylim(bottom=0)
    ax.set_title("Open (solid) and overdue (dashed) actions per group")
    ax.grid(True, alpha=0.3)
    if report.groups:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    fig.subplots_adjust(left=0.07, right=0.78, bottom=0.1, top=0.92)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CHART_DPI)
    return buf.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; ValueError when it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# --- the dashboard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    group: str = ""  # slug
    person: int | None = None
    project: str = ""
    overdue: bool = False

    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.group:
            out["group"] = self.group
        if self.person is not None:
            out["person"] = str(self.person)
        if self.project:
            out["project"] = self.project
        if self.overdue:
            out["overdue"] = "1"
        return out


def parse_filters(query: dict[str, str]) -> DashboardFilters:
    """GET parameters as typed; nonsense is ignored rather than refused (a page, not a
    command)."""
    person = query.get("person", "").strip()
    return DashboardFilters(
        group=query.get("group", "").strip().lower()[:64],
        person=row_id(person),
        project=query.get("project", "").strip()[:200],
        overdue=query.get("overdue", "") in ("1", "on", "yes", "true"),
    )


def _options(name: str, label: str, choices: Sequence[tuple[str, str]], chosen: str) -> str:
    opts = ['<option value="">all</option>'] + [
        f'<option value="{html.escape(v, quote=True)}"'
        f'{" selected" if v == chosen else ""}>{html.escape(text)}</option>'
        for v, text in choices
    ]
    return (f'<label>{html.escape(label)}<select name="{name}">{"".join(opts)}</select>'
            "</label>")


def dashboard_html(ctx: Ctx, f: DashboardFilters, hidden: dict[str, str]) -> str:
    """The page: groups with counts and next meeting, the filtered actions, recent decisions
    with acknowledgement. ``hidden`` are the link's own parameters, carried by the form."""
    from handlers.meetings import next_meeting
    from handlers.secretariat import actions_table, known_projects

    session, today = ctx.session, ctx.today
    # series and their exceptions in two selects, not two per group
    groups = list(session.scalars(
        select(Group).order_by(Group.slug)
        .options(selectinload(Group.series).selectinload(MeetingSeries.exceptions))))
    by_slug = {g.slug: g for g in groups}
    counts = dict(
        (gid, (int(n), int(late or 0))) for gid, n, late in session.execute(
            select(Action.group_id, func.count(),
                   func.sum(case((Action.due < today, 1), else_=0)))
            .where(Action.status == "open").group_by(Action.group_id)))
    group_rows = []
    for g in groups:
        occ = next_meeting(ctx, g)
        n_open, n_late = counts.get(g.id, (0, 0))
        group_rows.append(((g.slug,), (g.name,), (str(n_open),), (str(n_late),),
                           (When(occ.start, occ.zone),) if occ else ("none scheduled",)))
    groups_table = Table(("group", "name", "open", "overdue", "next meeting"),
                         tuple(group_rows))

    q = ActionQuery(status="overdue" if f.overdue else "open")
    problems: list[str] = []
    if f.group:
        q.group = by_slug.get(f.group)
        if q.group is None:
            problems.append(f"no group {f.group!r}")
    if f.person is not None:
        q.person = session.get(Person, f.person)
        if q.person is None:
            problems.append("no such person")
    projects = known_projects(ctx)
    if f.project:
        q.project = projects.get(f.project.lower())
        if q.project is None:
            problems.append(f"no project {f.project!r}")
    # the group counts above already hold the total of every filter without a person or
    # project: no second count of the open actions
    known: int | None = None
    if q.person is None and q.project is None:
        pick = 1 if f.overdue else 0
        if q.group is not None:
            known = counts.get(q.group.id, (0, 0))[pick]
        else:
            known = sum(c[pick] for c in counts.values())
    table, total = (None, 0) if problems else actions_table(ctx, q, known)

    people = [(str(pid), name) for pid, name in session.execute(
        select(Person.id, Person.display_name)
        .where(Person.id.in_(_assignee_ids()))
        .order_by(func.lower(Person.display_name)))]
    form = ['<form method="get" action="">']
    form += [f'<input type="hidden" name="{html.escape(k, quote=True)}" '
             f'value="{html.escape(v, quote=True)}">' for k, v in hidden.items()]
    form.append(_options("group", "group", [(g.slug, g.slug) for g in groups], f.group))
    form.append(_options("person", "person", people,
                         str(f.person) if f.person is not None else ""))
    form.append(_options("project", "project",
                         sorted(((p, p) for p in projects.values()), key=lambda x: x[0].lower()),
                         q.project or f.project))
    form.append('<label>overdue only<input type="checkbox" name="overdue" value="1"'
                f'{" checked" if f.overdue else ""}></label>')
    form.append('<button type="submit">Filter</button>')
    clear = html.escape("?" + urlencode(hidden), quote=True)
    form.append(f'<a href="{clear}">clear</a></form>')

    parts = [f"<h1>Taskbot dashboard</h1><p class=\"muted\">As of "
             f"{html.escape(plain_of(When(ctx.now, ctx.settings.timezone)))}. "
             "Read-only; reload for fresh figures.</p>",
             "<h2>Groups</h2>", html_table(groups_table, numeric=(2, 3)),
             f"<h2 id=\"actions\">{html.escape(q.describe().capitalize())}: "
             f"<span id=\"total\">{total}</span></h2>", "".join(form)]
    if problems:
        parts.append(f"<p class=\"late\">Nothing matches: {html.escape('; '.join(problems))}."
                     "</p>")
    elif table is None:
        parts.append("<p>None.</p>")
    else:
        parts.append(html_table(table))
        if total > len(table.rows):
            parts.append(f"<p class=\"muted\">and {total - len(table.rows)} more: "
                         "narrow the filters, or export with <code>secretariat actions csv"
                         "</code>.</p>")
    parts.append("<h2>Recent decisions</h2>")
    parts.append(_decisions_html(session, ctx.settings))
    return html_page("Taskbot dashboard", "".join(parts))


def _assignee_ids() -> Select[int]:
    """Members of any group: the choices of the person filter (read from the memberships,
    which stay small, rather than from every open action)."""
    return select(Membership.person_id).distinct()


DASHBOARD_DECISIONS = 20


def _decisions_html(session: Session, settings: CoreSettings) -> str:
    recent = list(session.execute(
        select(Decision.id, Decision.text, Decision.created_at)
        .order_by(Decision.created_at.desc(), Decision.id.desc()).limit(DASHBOARD_DECISIONS)))
    if not recent:
        return "<p>No decisions yet.</p>"
    acks: dict[int, list[tuple[str, bool]]] = {}
    for did, slug, acked in session.execute(
        select(DecisionTarget.decision_id, Group.slug, DecisionTarget.acked_at)
        .join(Group, Group.id == DecisionTarget.group_id)
        .where(DecisionTarget.decision_id.in_([r.id for r in recent]))
        .order_by(Group.slug)
    ):
        acks.setdefault(did, []).append((slug, acked is not None))
    rows = []
    for did, text, created in recent:
        posted = created.replace(tzinfo=dt.UTC).astimezone(settings.zone).date()
        line = DecisionLine(did, text, posted, acks.get(did, []))
        ack = ", ".join(
            f'<span class="{"ok" if ok else "late"}">{html.escape(slug)} '
            f'{"acknowledged" if ok else "waiting"}</span>' for slug, ok in line.targets)
        rows.append(f"<tr><td data-label=\"id\">D-{did}</td>"
                    f"<td data-label=\"posted\">{html.escape(plain_of(Day(posted)))}</td>"
                    f"<td data-label=\"decision\">{html.escape(_decision_text(line))}</td>"
                    f"<td data-label=\"acknowledgement\">{ack or '-'}</td></tr>")
    return ("<table><thead><tr><th>id</th><th>posted</th><th>decision</th>"
            "<th>acknowledgement</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


# --- chat commands ----------------------------------------------------------------------------

DASHBOARD_DAYS = 7
DASHBOARD_MAX_DAYS = 90


def report_files(ctx: Ctx, report: MonthlyReport) -> list[File]:
    """The chart, and the report as Markdown and as a self-contained HTML page."""
    stem = f"report-{report.month:%Y-%m}"
    png = report_chart(report)
    md = report_markdown(report, ctx.settings, chart_name=f"{stem}.png")
    page = report_html(report, ctx.settings, png)
    return [
        File(f"{stem}.png", "image/png", png, title=f"{report.title}: open and overdue"),
        File(f"{stem}.md", "text/markdown", md.encode("utf-8"), title=report.title),
        File(f"{stem}.html", "text/html", page.encode("utf-8"), title=report.title),
    ]


def report_reply(ctx: Ctx, report: MonthlyReport) -> Reply:
    reply = Reply(private=False)
    reply.say(report.title, style="heading")
    reply.say(f"Open and overdue as of {_as_of_text(report, ctx.settings)};"
              " done, decisions and meetings within the month.")
    reply.add(report.table())
    waiting = [d for d in report.decisions if not all(ok for _, ok in d.targets)]
    if report.decisions:
        reply.say(f"{len(report.decisions)} decisions this month, {len(waiting)} waiting for "
                  "acknowledgement" + (": " + "; ".join(
                      f"D-{d.id} ({', '.join(s for s, ok in d.targets if not ok)})"
                      for d in waiting) if waiting else "."))
    reply.add(*report_files(ctx, report))
    return reply


def _feed_choice(ctx: Ctx, args: Args) -> Group | None:
    """``all`` (None), a group, or the channel's group."""
    if args.accept("all"):
        args.done()
        return None
    group = take_group(ctx, args, optional=True)
    if group is None and not args.empty():
        take_group(ctx, args)  # reports the unknown group
    args.done()
    group = group or ctx.channel_group
    if group is None:
        raise UserError("Name a group, or all: this channel is not linked to one.")
    return group


def register(reg: Registry) -> None:
    """``secretariat report|dashboard|feeds`` and ``meeting feed``."""
    reg.kinds.planner(plan_boc_report)
    reg.kinds.kind("boc_report", compose_boc_report)

    @reg.command(
        "secretariat", "report", "[<month>]",
        "the monthly report for the BoC (this month to date, or 2026-10, october, last month):"
        " numbers per group (meetings held: run with meeting start), a chart, Markdown and HTML"
        " files",
        "secretariat, admin",
    )
    def secretariat_report(ctx: Ctx, args: Args) -> Reply:
        month = parse_month(args.rest_text(required=False), ctx.today)
        require_staff(ctx, "secretariat report")
        return report_reply(ctx, build_report(ctx, month))

    @reg.command(
        "secretariat", "dashboard", "[<days>]",
        f"a private link to the read-only web dashboard, valid {DASHBOARD_DAYS} days "
        f"(or <days>, at most {DASHBOARD_MAX_DAYS})",
        "secretariat, admin",
    )
    def secretariat_dashboard(ctx: Ctx, args: Args) -> Reply:
        raw = args.accept(*(str(n) for n in range(1, DASHBOARD_MAX_DAYS + 1)))
        if raw is None and not args.empty():
            raise UserError(f"<days> is a whole number from 1 to {DASHBOARD_MAX_DAYS}.")
        args.accept("days", "day")
        args.done()
        require_staff(ctx, "secretariat dashboard")
        days = int(raw) if raw else DASHBOARD_DAYS
        secret = web_secret(ctx.session, create=True)
        assert secret is not None
        key = link_key(ctx.session, ctx.actor.id, ctx.now, create=True) or ""
        expires = int((ctx.now + dt.timedelta(days=days)).timestamp())
        path = dashboard_path(secret, ctx.actor.id, key, expires)
        ctx.audit("link", "dashboard", None, expires=expires)
        reply = Reply(private=True, secret=True)
        reply.say("Your dashboard link (keep it to yourself; it works until ",
                  When(dt.datetime.fromtimestamp(expires, dt.UTC), ctx.settings.timezone),
                  "):")
        reply.say(web_link(ctx.settings, path, "Taskbot dashboard"))
        return say_web_hint(reply, ctx.settings)

    @reg.command(
        "meeting", "feed", "[<group>|all|reset]",
        "your private calendar subscription link (updates itself, unlike meeting calendar); "
        "all: the meetings of every group you are in; "
        "reset: a new one, and your old feed and dashboard links stop working",
        "members of the group; all: anyone in a group; reset: anyone",
    )
    def meeting_feed(ctx: Ctx, args: Args) -> Reply:
        if args.accept("reset"):
            args.done()
            reset_link_key(ctx.session, ctx.actor.id, ctx.now)
            ctx.audit("link", "link_key", ctx.actor.id, reset="self")
            return Reply(private=True).say(
                "Done: your old calendar feed and dashboard links no longer work. "
                "`meeting feed` gives you the new ones.")
        group = _feed_choice(ctx, args)
        if group is not None:
            require_member(ctx, group, f"meeting feed {group.slug}")
            feed, title = group.slug, f"{group.name} meetings"
        else:
            if not may_read_feed(ctx, None):
                raise Refused("a member of a group (or the secretariat)", "meeting feed all")
            feed, title = "all", "All group meetings"
        key = link_key(ctx.session, ctx.actor.id, ctx.now, create=True) or ""
        reply = Reply(private=True, secret=True)
        scope = ("works while you are in the group" if group is not None
                 else "shows every group's meetings" if staff(ctx)
                 else "shows the meetings of the groups you are in")
        reply.say(f"{title}: subscribe to this address in Outlook, Google Calendar or "
                  f"Thunderbird (add calendar from URL); it is yours alone, {scope}, and "
                  "`meeting feed reset` revokes it.")
        reply.say(web_link(ctx.settings, feed_path(key, feed)))
        return say_web_hint(reply, ctx.settings)

    @reg.command(
        "secretariat", "feeds", "[reset <@user>]",
        "your calendar subscription links for every group; reset <@user>: revoke that "
        "person's feed and dashboard links", "secretariat, admin",
    )
    def secretariat_feeds(ctx: Ctx, args: Args) -> Reply:
        if args.accept("reset"):
            raw = args.next("<@user>")
            args.done()
            require_staff(ctx, "secretariat feeds reset")
            person = resolve_person(ctx, raw)
            reset_link_key(ctx.session, person.id, ctx.now)
            ctx.audit("link", "link_key", person.id, reset="secretariat")
            return Reply(private=True).say(
                "Done: ", mention(person), "'s calendar feed and dashboard links no "
                "longer work; `meeting feed` gives them new ones.")
        args.done()
        require_staff(ctx, "secretariat feeds")
        key = link_key(ctx.session, ctx.actor.id, ctx.now, create=True) or ""
        reply = Reply(private=True, secret=True)
        reply.say("Your calendar feeds (read-only; yours alone: each member gets their own "
                  "with meeting feed)", style="heading")
        feeds = ["all", *ctx.session.scalars(select(Group.slug).order_by(Group.slug))]
        for feed in feeds:
            reply.say(f"{feed}: ", web_link(ctx.settings, feed_path(key, feed)))
        return say_web_hint(reply, ctx.settings)


# --- the monthly report before each BoC meeting (planned by the delivery engine) -------------

# a Board meeting in the first days of a month gets the month before, complete
PREVIOUS_MONTH_UNTIL_DAY = 10


def plan_boc_report(session: Session, now: dt.datetime,
                    settings: CoreSettings) -> list[outbox.NewRow]:
    """One row per channel of the boc group, ``boc_report`` before each of its meetings.

    Only the window of the last grace period is expanded, so an idle tick costs a lookup of
    the boc group and a day of its series; rows are keyed, so planning again adds nothing.
    """
    from handlers.core.recurrence import parse_offsets
    from handlers.core.scheduling import MAX_GRACE, outbox_row, setting
    from handlers.meetings import occurrences, reminder_time, upcoming

    group = session.scalar(select(Group).where(Group.slug == "boc"))
    if group is None or group.series is None or not group.channels:
        return []
    raw = setting(group, "boc_report")
    if raw == "off":
        return []
    try:
        offset = parse_offsets(raw)[0]
    except UserError:
        return []
    series = group.series
    state = _plan_state(group, raw)
    bookmark = kv.get(session, BOC_REPORT_BOOKMARK)
    if bookmark is not None:
        seen, _, next_due = bookmark.rpartition("|")
        if seen == state and now < dt.datetime.fromisoformat(next_due):
            return []  # idle: nothing can be due before the bookmark
    rows: list[outbox.NewRow] = []
    pad = dt.timedelta(days=1)  # wall-time offsets across a DST change
    later: list[dt.datetime] = []
    for occ in occurrences(series, now - MAX_GRACE + offset - pad, now + offset + pad):
        due = reminder_time(occ, offset)
        if due > now:
            later.append(due)
        if not now - MAX_GRACE <= due <= now:
            continue
        for ch in group.channels:
            key = (f"boc_report:{series.id}:{occ.original_date.isoformat()}:"
                   f"{ch.platform}:{ch.channel_id}")
            payload = {"start": occ.start.isoformat(), "zone": occ.zone}
            rows.append(outbox_row(key, "boc_report", ch.platform, ch.channel_id, payload,
                                   due, MAX_GRACE, now))
    if not later:
        later = [reminder_time(o, offset) for o in upcoming(series, now + offset - pad, 3)]
        later = [d for d in later if d > now]
    nxt = min(later) if later else now + dt.timedelta(days=31)
    _save_bookmark(session, f"{state}|{nxt.isoformat()}")
    return rows


BOC_REPORT_BOOKMARK = "schedule:boc_report_next"


def _plan_state(group: Group, raw: str) -> str:
    """What the next due time depends on: a change to any of it replans at once."""
    series = group.series
    assert series is not None
    parts = [str(series.id), series.rule, series.start_time.isoformat(), series.timezone,
             str(series.starts_on), raw,
             *sorted(f"{c.platform}:{c.channel_id}" for c in group.channels),
             *sorted(f"{e.original_date}:{e.kind}:{e.new_start}" for e in series.exceptions)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def _save_bookmark(session: Session, value: str) -> None:
    """Insert or update; a process ticking at the same moment may have inserted it first."""
    from sqlalchemy.exc import IntegrityError

    try:
        with session.begin_nested():
            kv.put(session, BOC_REPORT_BOOKMARK, value)
    except IntegrityError:
        pass


def report_month_for(meeting_day: dt.date) -> dt.date:
    """The month a Board meeting on ``meeting_day`` reviews."""
    first = meeting_day.replace(day=1)
    if meeting_day.day <= PREVIOUS_MONTH_UNTIL_DAY:
        return (first - dt.timedelta(days=1)).replace(day=1)
    return first


def compose_boc_report(session: Session, payload: dict[str, Any],
                       settings: CoreSettings) -> list[Block] | None:
    """The report as ``secretariat report`` gives it, with a line saying why it is here."""
    start = dt.datetime.fromisoformat(payload["start"])
    ctx = reader_ctx(session, settings, settings.clock())
    month = min(report_month_for(start.astimezone(settings.zone).date()),
                ctx.today.replace(day=1))
    reply = report_reply(ctx, build_report(ctx, month))
    return [Text(("Before the Board meets ", When(start, payload["zone"]),
                  f": the report for {month:%B %Y}"), "heading"), *reply.blocks]
