"""The secretariat's workbench outside chat: exports, signed links, the monthly report,
the dashboard and calendar feeds."""

from __future__ import annotations

from handlers.core.router import Registry
from handlers.reports import _commands
from handlers.reports._commands import (
    DASHBOARD_PATH,
    RecordQuery,
    check_dashboard,
    count_actions,
    count_decisions,
    count_meetings,
    dashboard_html,
    export_actions,
    export_decisions,
    export_meetings,
    feed_groups,
    feed_holder,
    html_page,
    malformed_link,
    may_read_feed,
    parse_filters,
    reader_ctx,
)


def register(reg: Registry) -> None:
    _commands.register(reg)


__all__ = [
    "DASHBOARD_PATH", "RecordQuery", "check_dashboard", "count_actions", "count_decisions",
    "count_meetings", "dashboard_html", "export_actions", "export_decisions",
    "export_meetings", "feed_groups", "feed_holder", "html_page", "malformed_link",
    "may_read_feed", "parse_filters", "reader_ctx", "register",
]
