"""The Board's monthly report: each group's open and overdue work, the month's
decisions and their acknowledgements, six months of history, as Markdown, HTML and a
chart. matplotlib is imported only while a chart is drawn, so loading the core stays light.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from handlers.checkins import (
    compile_round,
    participation,
    round_blocks,
    rounds_between,
    task_groups,
)
from handlers.core.context import CoreSettings, Ctx
from handlers.core.dates import parse_month as parse_month
from handlers.core.grammar import UserError
from handlers.core.i18n import _, _n
from handlers.core.messages import (
    Block,
    Day,
    File,
    Reply,
    Span,
    Table,
    Text,
)
from handlers.reports._html import (
    html_blocks,
    html_page,
    html_table,
    md_blocks,
    md_cell,
    md_table,
)
from storage.models import (
    Action,
    CheckinRound,
    Decision,
    DecisionTarget,
    Group,
    Meeting,
    MeetingSeries,
    Proposal,
)

HISTORY_MONTHS = 6


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def history_months(month: dt.date) -> list[dt.date]:
    """The first days of the HISTORY_MONTHS months ending with ``month``, oldest first."""
    first = month
    for _month in range(HISTORY_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    months = [first]
    while len(months) < HISTORY_MONTHS:
        months.append(next_month(months[-1]))
    return months


@dataclass
class Checkins:
    """The check-ins of a month: the compilation of each round whose Board meeting falls
    in it, and which groups answered each round of the six months ending with it (None:
    no round in those months)."""

    rounds: list[list[Block]] = field(default_factory=list)
    participation: Table | None = None


def month_checkins(session: Session, month: dt.date,
                   only: CheckinRound | None = None) -> Checkins:
    """The rounds of the month compiled (or ``only`` that one) and six months of
    participation: a few queries a round, whatever the number of groups."""
    rounds = rounds_between(session, history_months(month)[0], next_month(month))
    shown = [only] if only is not None else [r for r in rounds if r.meeting_date >= month]
    return Checkins([round_blocks(compile_round(session, r)) for r in shown],
                    participation(session, rounds, task_groups(session)) if rounds else None)


def checkin_blocks(checkins: Checkins) -> list[list[Block]]:
    """What the report says of the month's check-ins, a list of blocks a part, each under
    its heading: each round's compilation (or that there was none), then the six months'
    table; nothing when no round fell in the six months (check-ins are not in use)."""
    if checkins.participation is None:
        return []
    # TRANSLATORS: a heading of the monthly report: each Task Group's report to the Board
    parts = list(checkins.rounds) or [[Text((_("Check-ins"),), "heading"), Text((
        _("No check-in before a Board meeting this month."),))]]
    # TRANSLATORS: a heading of the monthly report and the dashboard: the table of which
    # groups answered each check-in of the last six months
    heading = _("Check-ins over six months")
    return [*parts, [Text((heading,), "heading"), checkins.participation]]


def _day_start(day: dt.date, settings: CoreSettings) -> dt.datetime:
    """The instant (aware UTC) a local day begins in the bot's zone."""
    local = dt.datetime.combine(day, dt.time.min, tzinfo=settings.zone)
    return local.astimezone(dt.UTC)


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
class ProposalMonth:
    """A group's proposals in the month: opened, closed, passed (or won, a poll), and the
    turnout of those closed (votes cast over their electorates)."""

    slug: str
    opened: int = 0
    closed: int = 0
    passed: int = 0
    cast: int = 0
    electorate: int = 0

    @property
    def turnout(self) -> str:
        return f"{round(100 * self.cast / self.electorate)}%" if self.electorate else "-"


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
    proposals: list[ProposalMonth] = field(default_factory=list)  # groups that had any
    checkins: Checkins = field(default_factory=Checkins)

    def proposals_table(self) -> Table | None:
        if not self.proposals:
            return None
        rows = tuple(((p.slug,), (str(p.opened),), (str(p.closed),), (str(p.passed),),
                      (p.turnout,)) for p in self.proposals)
        # TRANSLATORS: the headers of the monthly report's table of proposals: a group, its
        # proposals opened, closed and passed in the month, and the share of its members who
        # voted on those closed
        return Table((_("group"), _("proposals opened"), _("closed"), _("passed"),
                      _("turnout")), rows)

    @property
    def title(self) -> str:
        return _("Monthly report, {month}", month=Day(self.month, form="month"))

    def table(self) -> Table:
        def row(g: GroupMonth) -> tuple[tuple[Span, ...], ...]:
            return ((g.slug,), (str(g.open),), (str(g.overdue),), (str(g.done),),
                    (f"{g.acked}/{g.decisions}",), (str(g.scheduled),), (str(g.held),),
                    (str(g.skipped),), (str(g.moved),))

        # TRANSLATORS: the last row of the report's table, the sum of every group's
        total = GroupMonth(_("total"), "total")
        for g in self.groups:
            for attr in ("open", "overdue", "done", "decisions", "acked", "scheduled", "held",
                         "skipped", "moved"):
                setattr(total, attr, getattr(total, attr) + getattr(g, attr))
        rows = (*(row(g) for g in self.groups), row(total))
        # TRANSLATORS: the headers of the monthly report's table: a group's actions open,
        # overdue and done, decisions acknowledged, meetings scheduled, held, skipped, moved
        return Table((_("group"), _("open"), _("overdue"), _("done"), _("decisions acked"),
                      _("meetings scheduled"), _("held"), _("skipped"), _("moved")), rows)


def snapshots(session: Session, points: Sequence[tuple[dt.datetime, dt.date]]
              ) -> list[dict[int | None, tuple[int, int]]]:
    """Per point (an instant, aware UTC, and the local date then): group id -> (open, overdue)
    as they stood then. Read from creation and closing times: an action was open at ``at``
    if it existed and was not yet closed (a due date changed later counts as it is now).

    One pass over the actions for all points: each point is a pair of conditional sums.
    """
    if not points:
        return []
    first = min(at for at, _day in points)
    last = max(at for at, _day in points)
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
    out: list[dict[int | None, tuple[int, int]]] = [{} for _point in points]
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
        raise UserError(_("{month} has not started yet.", month=Day(month, form="month")),
                        show_usage=False)
    start = _day_start(month, settings)
    end = _day_start(next_month(month), settings)
    as_of, as_of_day = _as_of(month, settings, ctx.now)
    groups = list(session.scalars(
        select(Group).order_by(Group.id)
        .options(selectinload(Group.series).selectinload(MeetingSeries.exceptions))))
    by_id = {g.id: GroupMonth(g.slug, g.name) for g in groups}

    months = history_months(month)
    points = [_as_of(m, settings, ctx.now) for m in months]
    counts = snapshots(session, points)
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
            posted = created.astimezone(settings.zone).date()
            line = decisions[did] = DecisionLine(did, text, posted, [])
        line.targets.append((slug, acked is not None))
        by_id[gid].decisions += 1
        by_id[gid].acked += acked is not None

    until = min(as_of, end)
    for g in groups:
        series = g.series
        if series is None:
            continue
        by_id[g.id].scheduled = len(occurrences(series, start, until))
        in_month = [e for e in series.exceptions if month <= e.original_date < next_month(month)]
        by_id[g.id].skipped = sum(1 for e in in_month if e.kind == "skip")
        by_id[g.id].moved = sum(1 for e in in_month if e.kind == "move")
    # held: a meeting was run (started, and ended or closed by itself), not a calendar date
    for gid, n in session.execute(
        select(Meeting.group_id, func.count())
        .where(Meeting.ended_at.is_not(None), Meeting.started_at >= start,
               Meeting.started_at < until)
        .group_by(Meeting.group_id)
    ):
        if gid in by_id:
            by_id[gid].held = int(n)

    return MonthlyReport(month, as_of, [by_id[g.id] for g in groups],
                         list(decisions.values()), history,
                         partial=as_of < end,
                         proposals=_proposals_of(session, groups, start, end),
                         checkins=month_checkins(session, month))


def _proposals_of(session: Session, groups: Sequence[Group], start: dt.datetime,
                  until: dt.datetime) -> list[ProposalMonth]:
    """Per group with any: proposals opened in the month, and those closed in it with
    their outcome and turnout (read from what each was closed on)."""
    found: dict[int, ProposalMonth] = {}
    slugs = {g.id: g.slug for g in groups}
    for prop in session.scalars(select(Proposal).where(
            ((Proposal.opened_at >= start) & (Proposal.opened_at < until))
            | ((Proposal.closed_at >= start) & (Proposal.closed_at < until)))):
        month = found.setdefault(prop.group_id, ProposalMonth(slugs.get(prop.group_id, "?")))
        if start <= prop.opened_at < until:
            month.opened += 1
        if prop.closed_at is not None and start <= prop.closed_at < until:
            month.closed += 1
            month.passed += prop.outcome in ("passed", "winner")
            month.cast += int((prop.result or {}).get("cast", 0))
            month.electorate += int((prop.result or {}).get("electorate", 0))
    return [found[g.id] for g in groups if g.id in found]


def decision_text(d: DecisionLine, limit: int = 120) -> str:
    text = " ".join(d.text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ack_text(slug: str, ok: bool) -> str:
    """A group's acknowledgement of a decision: ``repl acknowledged``, ``repl waiting``."""
    if ok:
        return _("{group} acknowledged", group=slug)
    return _("{group} waiting", group=slug)


def _ack_line(d: DecisionLine) -> str:
    return ", ".join(ack_text(slug, ok) for slug, ok in d.targets)


def _as_of_text(report: MonthlyReport, settings: CoreSettings) -> str:
    if report.partial:
        local = report.as_of.astimezone(settings.zone)
        return _("{time} (month to date)", time=local.strftime("%d %b %Y %H:%M %Z"))
    return _("the end of the month")


def _as_of_line(report: MonthlyReport, settings: CoreSettings) -> str:
    # TRANSLATORS: {time} is a time (month to date), or "the end of the month"
    return _("Open and overdue as of {time}; done, decisions and meetings within the month.",
             time=_as_of_text(report, settings))


def _chart_alt() -> str:
    return _("Open and overdue actions per group")


def _decisions_heading() -> str:
    # TRANSLATORS: a heading of the monthly report
    return _("Decisions")


def _history_heading() -> str:
    # TRANSLATORS: a heading of the monthly report: its table of the last six months
    return _("Six months")


def _no_decisions() -> str:
    return _("No decisions this month.")


def report_markdown(report: MonthlyReport, settings: CoreSettings,
                    chart_name: str | None = None) -> str:
    lines = ["# " + report.title, "", _as_of_line(report, settings), "",
             md_table(report.table()), ""]
    if chart_name:
        lines += ["![" + _chart_alt() + f"]({chart_name})", ""]
    lines += ["## " + _decisions_heading(), ""]
    if not report.decisions:
        lines.append(_no_decisions())
    for d in report.decisions:
        lines.append(f"- **D-{d.id}** ({d.posted:%d %b}) {md_cell(decision_text(d))} — "
                     f"{_ack_line(d)}")
    proposals = report.proposals_table()
    if proposals is not None:
        lines += ["", "## " + _("Proposals"), "", md_table(proposals)]
    lines += ["", "## " + _history_heading(), "", md_table(history_table(report))]
    lines += ["\n" + md_blocks(part, 2) for part in checkin_blocks(report.checkins)]
    lines.append("")
    return "\n".join(lines)


def history_table(report: MonthlyReport) -> Table:
    slugs = [g.slug for g in report.groups]
    rows: tuple[tuple[tuple[Span, ...], ...], ...] = tuple(
        ((Day(first, form="mon"),), *((f"{counts[s][0]} / {counts[s][1]}",) for s in slugs))
        for first, counts in report.history
    )
    # TRANSLATORS: the first header of the six months' table, whose cells are "open / overdue"
    return Table((_("month (open / overdue)"), *slugs), rows)


def report_html(report: MonthlyReport, settings: CoreSettings, png: bytes | None) -> str:
    """One self-contained page: the chart is embedded, so the file can be mailed on."""
    import base64

    parts = ["<h1>" + html.escape(report.title) + "</h1>",
             "<p class=\"muted\">" + html.escape(_as_of_line(report, settings)) + "</p>",
             html_table(report.table())]
    if png:
        data = base64.b64encode(png).decode("ascii")
        alt = html.escape(_("Open and overdue actions per group, last six months"), quote=True)
        parts.append(f'<img alt="{alt}" src="data:image/png;base64,{data}">')
    parts.append("<h2>" + html.escape(_decisions_heading()) + "</h2>")
    if not report.decisions:
        parts.append("<p>" + html.escape(_no_decisions()) + "</p>")
    else:
        parts.append("<ul>" + "".join(
            f"<li><b>D-{d.id}</b> ({d.posted:%d %b}) {html.escape(decision_text(d))} — "
            + ", ".join(
                f'<span class="{"ok" if ok else "late"}">'
                + html.escape(ack_text(slug, ok)) + "</span>" for slug, ok in d.targets)
            + "</li>" for d in report.decisions) + "</ul>")
    parts += ["<h2>" + html.escape(_history_heading()) + "</h2>",
              html_table(history_table(report))]
    parts += [html_blocks(part, 2) for part in checkin_blocks(report.checkins)]
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
    labels = [f"{first:%b %Y}" for first, _counts in report.history]
    xs = list(range(len(labels)))
    colors = [f"C{i % 10}" for i in range(len(report.groups))]
    for g, color in zip(report.groups, colors, strict=True):
        opens = [counts.get(g.slug, (0, 0))[0] for _first, counts in report.history]
        lates = [counts.get(g.slug, (0, 0))[1] for _first, counts in report.history]
        # TRANSLATORS: the chart's legend: a group's open actions
        ax.plot(xs, opens, color=color, marker="o", label=_("{group} open", group=g.slug))
        # TRANSLATORS: the chart's legend: a group's overdue actions
        ax.plot(xs, lates, color=color, marker="x", linestyle="--",
                label=_("{group} overdue", group=g.slug))
    ax.set_xticks(xs, labels)
    # TRANSLATORS: the label of the chart's vertical axis (a number of actions)
    ax.set_ylabel(_("actions"))
    ax.set_ylim(bottom=0)
    ax.set_title(_("Open (solid) and overdue (dashed) actions per group"))
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


def report_files(ctx: Ctx, report: MonthlyReport) -> list[File]:
    """The chart, and the report as Markdown and as a self-contained HTML page."""
    stem = f"report-{report.month:%Y-%m}"
    png = report_chart(report)
    md = report_markdown(report, ctx.settings, chart_name=f"{stem}.png")
    page = report_html(report, ctx.settings, png)
    return [
        File(f"{stem}.png", "image/png", png,
             title=_("{title}: open and overdue", title=report.title)),
        File(f"{stem}.md", "text/markdown", md.encode("utf-8"), title=report.title),
        File(f"{stem}.html", "text/html", page.encode("utf-8"), title=report.title),
    ]


def report_reply(ctx: Ctx, report: MonthlyReport) -> Reply:
    reply = Reply(private=False)
    reply = reply.say(report.title, style="heading")
    reply = reply.say(_as_of_line(report, ctx.settings))
    reply = reply.add(report.table())
    waiting = [d for d in report.decisions if not all(ok for _slug, ok in d.targets)]
    if report.decisions:
        pending = "; ".join(f"D-{d.id} ({', '.join(s for s, ok in d.targets if not ok)})"
                            for d in waiting)
        if waiting:
            # TRANSLATORS: {pending} lists the decisions waiting, with their groups
            said = _n("{n} decision this month, {waiting} waiting for acknowledgement: "
                      "{pending}",
                      "{n} decisions this month, {waiting} waiting for acknowledgement: "
                      "{pending}",
                      len(report.decisions), waiting=len(waiting), pending=pending)
        else:
            said = _n("{n} decision this month, {waiting} waiting for acknowledgement.",
                      "{n} decisions this month, {waiting} waiting for acknowledgement.",
                      len(report.decisions), waiting=len(waiting))
        reply = reply.say(said)
    proposals = report.proposals_table()
    if proposals is not None:
        # TRANSLATORS: a heading of the monthly report
        reply = reply.say(_("Proposals"), style="heading").add(proposals)
    for part in checkin_blocks(report.checkins):
        reply = reply.add(*part)
    reply = reply.add(*report_files(ctx, report))
    return reply
