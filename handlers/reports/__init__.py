"""The secretariat's workbench outside chat: exports, signed links, the monthly report,
the dashboard and calendar feeds. The HTTP side (``bot.web``) checks a link and calls these;
the chat commands hand the links out and post the report."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.reports import _boc_report, _commands
from handlers.reports._boc_report import report_month_for
from handlers.reports._dashboard import dashboard_html, parse_filters
from handlers.reports._exports import (
    DECISIONS_EXPORT,
    MEETINGS_EXPORT,
    RecordQuery,
    count_actions,
    count_decisions,
    count_meetings,
    export_actions,
    export_decisions,
    export_meetings,
    reader_ctx,
)
from handlers.reports._html import html_page
from handlers.reports._links import (
    DASHBOARD_PATH,
    SECRET_KEY,
    check_dashboard,
    dashboard_path,
    dashboard_signature,
    feed_groups,
    feed_holder,
    feed_path,
    link_key,
    malformed_link,
    may_read_feed,
    web_secret,
)
from handlers.reports._monthly import (
    MonthlyReport,
    build_report,
    month_checkins,
    parse_month,
    png_size,
    report_files,
)


def register(reg: Registry) -> None:
    _commands.register(reg)
    _boc_report.register(reg.kinds)


__all__ = [
    "DASHBOARD_PATH",
    "DECISIONS_EXPORT",
    "MEETINGS_EXPORT",
    "SECRET_KEY",
    "MonthlyReport",
    "RecordQuery",
    "build_report",
    "check_dashboard",
    "count_actions",
    "count_decisions",
    "count_meetings",
    "dashboard_html",
    "dashboard_path",
    "dashboard_signature",
    "export_actions",
    "export_decisions",
    "export_meetings",
    "feed_groups",
    "feed_holder",
    "feed_path",
    "html_page",
    "link_key",
    "malformed_link",
    "may_read_feed",
    "month_checkins",
    "parse_filters",
    "parse_month",
    "png_size",
    "reader_ctx",
    "register",
    "report_files",
    "report_month_for",
    "web_secret",
]
