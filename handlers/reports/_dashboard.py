"""The secretariat's dashboard page: filters from the query string, the tables they
select, every value escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, selectinload

from handlers.checkins import latest_round
from handlers.core.context import CoreSettings, Ctx
from handlers.core.i18n import ENGLISH, Reader, _, _n, localize, localize_span, text_of
from handlers.core.messages import (
    Day,
    Table,
    When,
    plain_of,
)
from handlers.reports._html import html_blocks, html_page, html_table
from handlers.reports._links import row_id
from handlers.reports._monthly import (
    DecisionLine,
    ack_text,
    checkin_blocks,
    decision_text,
    month_checkins,
)
from handlers.secretariat import ActionQuery
from storage.models import (
    Action,
    CheckinRound,
    Decision,
    DecisionTarget,
    Group,
    MeetingSeries,
    Membership,
    Person,
)


@dataclass(frozen=True)
class DashboardFilters:
    group: str = ""  # slug
    person: int | None = None
    project: str = ""
    overdue: bool = False
    round: str = ""  # a check-in round, by its Board meeting's date (YYYY-MM-DD): as typed

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
        if self.round:
            out["round"] = self.round
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
        round=query.get("round", "").strip()[:32],
    )


def _options(name: str, label: str, choices: Sequence[tuple[str, str]], chosen: str,
             every: str | None = None) -> str:
    """A filter's select; ``every``: what its empty choice says (default: all)."""
    # TRANSLATORS: the choice of a dashboard filter that filters nothing (every group, ...)
    every = html.escape(every if every is not None else _("all"))
    opts = [f'<option value="">{every}</option>'] + [
        f'<option value="{html.escape(v, quote=True)}"'
        f'{" selected" if v == chosen else ""}>{html.escape(text)}</option>'
        for v, text in choices
    ]
    return (f'<label>{html.escape(label)}<select name="{name}">{"".join(opts)}</select>'
            "</label>")


def dashboard_html(ctx: Ctx, f: DashboardFilters, hidden: dict[str, str],
                   reader: Reader = ENGLISH) -> str:
    """The page: groups with counts and next meeting, the filtered actions, recent decisions
    with acknowledgement. ``hidden`` are the link's own parameters, carried by the form;
    ``reader``: its holder (the page is in their language and zone)."""

    def t(msg: str) -> str:
        return text_of(msg, reader)

    def localized_table(table: Table) -> Table:
        done = localize([table], reader)[0]
        assert isinstance(done, Table)
        return done

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
                           (When(occ.start, occ.zone),) if occ else (_("none scheduled"),)))
    # TRANSLATORS: the headers of the dashboard's table of groups: a group's slug, its name,
    # its open and overdue actions, its next meeting
    groups_table = Table((_("group"), _("name"), _("open"), _("overdue"), _("next meeting")),
                         tuple(group_rows))

    q = ActionQuery(status="overdue" if f.overdue else "open")
    problems: list[str] = []
    if f.group:
        q.group = by_slug.get(f.group)
        if q.group is None:
            problems.append(_("no group {group}", group=repr(f.group)))
    if f.person is not None:
        q.person = session.get(Person, f.person)
        if q.person is None:
            problems.append(_("no such person"))
    projects = known_projects(ctx)
    if f.project:
        q.project = projects.get(f.project.lower())
        if q.project is None:
            problems.append(_("no project {project}", project=repr(f.project)))
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
    form += _hidden({**hidden, **({"round": f.round} if f.round else {})})
    # TRANSLATORS: the labels of the dashboard's filters
    form.append(_options("group", t(_("group")), [(g.slug, g.slug) for g in groups], f.group))
    form.append(_options("person", t(_("person")), people,
                         str(f.person) if f.person is not None else ""))
    form.append(_options("project", t(_("project")),
                         sorted(((p, p) for p in projects.values()), key=lambda x: x[0].lower()),
                         q.project or f.project))
    form.append("<label>" + html.escape(t(_("overdue only")))
                + '<input type="checkbox" name="overdue" value="1"'
                f'{" checked" if f.overdue else ""}></label>')
    # TRANSLATORS: the button that applies the dashboard's filters
    form.append('<button type="submit">' + html.escape(t(_("Filter"))) + "</button>")
    clear = html.escape("?" + urlencode(hidden), quote=True)
    # TRANSLATORS: the link that removes the dashboard's filters
    form.append(f'<a href="{clear}">' + html.escape(t(_("clear"))) + "</a></form>")

    title = t(_("Taskbot dashboard"))
    as_of = t(_("As of {time}. Read-only; reload for fresh figures.",
                time=When(ctx.now, ctx.settings.timezone)))
    parts = ["<h1>" + html.escape(title) + "</h1><p class=\"muted\">" + html.escape(as_of)
             + "</p>",
             # TRANSLATORS: a heading of the dashboard
             "<h2>" + html.escape(t(_("Groups"))) + "</h2>",
             html_table(localized_table(groups_table), numeric=(2, 3)),
             f"<h2 id=\"actions\">{html.escape(t(q.describe(capital=True)))}: "
             f"<span id=\"total\">{total}</span></h2>", "".join(form)]
    if problems:
        nothing = _("Nothing matches: {problems}.", problems="; ".join(problems))
        parts.append("<p class=\"late\">" + html.escape(t(nothing)) + "</p>")
    elif table is None:
        # TRANSLATORS: the dashboard's list of actions is empty
        parts.append("<p>" + html.escape(t(_("None."))) + "</p>")
    else:
        parts.append(html_table(localized_table(table)))
        if total > len(table.rows):
            command = "secretariat actions csv"
            more = _n("and {n} more: narrow the filters, or export with {command}.",
                      "and {n} more: narrow the filters, or export with {command}.",
                      total - len(table.rows), command=command)
            parts.append("<p class=\"muted\">" + html.escape(t(more)).replace(
                command, f"<code>{command}</code>", 1) + "</p>")
    # TRANSLATORS: a heading of the dashboard
    parts.append("<h2>" + html.escape(t(_("Recent decisions"))) + "</h2>")
    parts.append(_decisions_html(session, ctx.settings, reader))
    parts.append(_checkins_html(ctx, f, hidden, reader))
    return html_page(title, "".join(parts))


def _hidden(fields: dict[str, str]) -> list[str]:
    """What a form carries that its own fields do not choose (the link, the other
    filters)."""
    return [f'<input type="hidden" name="{html.escape(k, quote=True)}" '
            f'value="{html.escape(v, quote=True)}">' for k, v in fields.items()]


DASHBOARD_ROUNDS = 24  # the rounds the check-ins panel offers, the latest first
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _round_day(raw: str) -> dt.date | None:
    if not _ISO_DAY.fullmatch(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _chosen_round(session: Session, f: DashboardFilters, recent: Sequence[CheckinRound]
                  ) -> CheckinRound | str:
    """The round the filter names (default: the latest), or what is wrong with it."""
    if not f.round:
        return recent[0] if recent else _(
            "No check-in has opened yet: one opens before each BoC meeting.")
    day = _round_day(f.round)
    if day is None:
        # TRANSLATORS: 2026-12-10 is an example of a date as it must be written
        return _("{round} is not a date: choose a round, or give its Board meeting's date "
                 "as 2026-12-10.", round=repr(f.round))
    found = next((r for r in recent if r.meeting_date == day), None) or latest_round(
        session, day + dt.timedelta(days=1))
    if found is None or found.meeting_date != day:
        return _("No check-in before a Board meeting on {day}.", day=Day(day))
    return found


def _checkins_html(ctx: Ctx, f: DashboardFilters, hidden: dict[str, str],
                   reader: Reader) -> str:
    """A round's answers as the Board reads them, and which groups answered each round of
    the six months ending with it; a select of the rounds chooses it."""

    def t(msg: str) -> str:
        return text_of(msg, reader)

    session = ctx.session
    recent = list(session.scalars(select(CheckinRound).order_by(
        CheckinRound.meeting_date.desc(), CheckinRound.id.desc()).limit(DASHBOARD_ROUNDS)))
    chosen = _chosen_round(session, f, recent)
    # TRANSLATORS: a heading of the dashboard: each Task Group's report to the Board
    parts = ['<h2 id="checkins">' + html.escape(t(_("Check-ins"))) + "</h2>"]
    if recent:
        offered = [*recent, *([chosen] if isinstance(chosen, CheckinRound)
                              and chosen not in recent else [])]
        choices = [(r.meeting_date.isoformat(),
                    plain_of(localize_span(Day(r.meeting_date), reader))) for r in offered]
        others = {k: v for k, v in f.params().items() if k != "round"}
        # TRANSLATORS: the label of the dashboard's choice of a check-in round, by the date
        # of the Board meeting it came before
        label = t(_("Board meeting"))
        # TRANSLATORS: the dashboard's choice of the latest check-in round
        latest = t(_("latest"))
        parts += ['<form method="get" action="#checkins">', *_hidden({**hidden, **others}),
                  _options("round", label, choices, f.round, latest),
                  # TRANSLATORS: the button that shows the chosen check-in round
                  '<button type="submit">' + html.escape(t(_("Show"))) + "</button></form>"]
    if not isinstance(chosen, CheckinRound):
        style = ' class="late"' if f.round else ""
        return "".join(parts) + f"<p{style}>" + html.escape(t(chosen)) + "</p>"
    checkins = month_checkins(session, chosen.meeting_date.replace(day=1), chosen)
    parts += [html_blocks(localize(part, reader), 3) for part in checkin_blocks(checkins)]
    return "".join(parts)


def _assignee_ids() -> Select[int]:
    """Members of any group: the choices of the person filter (read from the memberships,
    which stay small, rather than from every open action)."""
    return select(Membership.person_id).distinct()


DASHBOARD_DECISIONS = 20


def _decisions_html(session: Session, settings: CoreSettings,
                    reader: Reader = ENGLISH) -> str:
    recent = list(session.execute(
        select(Decision.id, Decision.text, Decision.created_at)
        .order_by(Decision.created_at.desc(), Decision.id.desc()).limit(DASHBOARD_DECISIONS)))
    if not recent:
        return "<p>" + html.escape(text_of(_("No decisions yet."), reader)) + "</p>"
    acks: dict[int, list[tuple[str, bool]]] = {}
    for did, slug, acked in session.execute(
        select(DecisionTarget.decision_id, Group.slug, DecisionTarget.acked_at)
        .join(Group, Group.id == DecisionTarget.group_id)
        .where(DecisionTarget.decision_id.in_([r.id for r in recent]))
        .order_by(Group.slug)
    ):
        acks.setdefault(did, []).append((slug, acked is not None))
    # TRANSLATORS: the headers of the dashboard's table of decisions: a decision's id, the
    # day it was posted, its text, which groups acknowledged it
    headers = [html.escape(text_of(h, reader), quote=True) for h in (
        _("id"), _("posted"), _("decision"), _("acknowledgement"))]
    id_h, posted_h, decision_h, ack_h = headers
    rows = []
    for did, text, created in recent:
        posted = created.astimezone(settings.zone).date()
        line = DecisionLine(did, text, posted, acks.get(did, []))
        ack = ", ".join(
            f'<span class="{"ok" if ok else "late"}">'
            + html.escape(text_of(ack_text(slug, ok), reader))
            + "</span>" for slug, ok in line.targets)
        day = html.escape(plain_of(localize_span(Day(posted), reader)))
        rows.append(f"<tr><td data-label=\"{id_h}\">D-{did}</td>"
                    f"<td data-label=\"{posted_h}\">{day}</td>"
                    f"<td data-label=\"{decision_h}\">{html.escape(decision_text(line))}</td>"
                    f"<td data-label=\"{ack_h}\">{ack or '-'}</td></tr>")
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in headers)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
