"""The read-only web side of ``taskbot run``: calendar feeds and the dashboard.

``build_routes(box)`` gives the routes; they are mounted on the Slack adapter's aiohttp
server when Slack runs in HTTP mode (one port, as PaaS hosts give one), else
:func:`serve` runs them on their own server on ``PORT`` (and :func:`serve_in_thread` beside
the terminal shell, when ``taskbot run`` has no chat platform). Every request reads the store in a
worker thread, like the chat adapters, and is refused unless its link is signed with the
secret kept in the store (``handlers.reports``).
"""

from __future__ import annotations

import asyncio
import html
import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.threads import signals_stay_with_main
from handlers.core.context import CoreSettings
from handlers.core.readers import person_reader
from handlers.meetings import ics_calendar
from handlers.reports import (
    DASHBOARD_PATH,
    check_dashboard,
    dashboard_html,
    feed_groups,
    feed_holder,
    html_page,
    malformed_link,
    may_read_feed,
    parse_filters,
    reader_ctx,
)
from storage.models import Group, Person

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger(__name__)

DEFAULT_PORT = 3000
FEED_PATH = "/calendar/{name}.ics"
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # the link carries its signature: never hand it on in a Referer
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src data:; form-action 'self'; base-uri 'none'",
    "X-Robots-Tag": "noindex",
}


def calendar_response(sessions: sessionmaker[Session], core: CoreSettings, name: str,
                      token: str) -> tuple[int, str]:
    """(status, body) of a feed: 400 for a token of the wrong shape, 403 for a wrong one,
    404 for a group that is gone."""
    problem = malformed_link({"token": token})
    if problem is not None:
        return 400, f"Bad request: {problem}\n"
    with sessions() as session:
        now = core.clock()
        holder = feed_holder(session, core, now, token)
        if holder is None:
            return 403, "Forbidden: this calendar link is not valid.\n"
        if name == "all":
            # only the groups whose own feed the holder may read, as they stand now
            group = None
            groups, title = feed_groups(holder), "All group meetings"
        else:
            group = session.scalar(select(Group).where(Group.slug == name))
            if group is None:
                return 404, "Not found: this group no longer exists.\n"
            groups, title = [group], f"{group.name} meetings"
        # the holder's roles now, not when the link was made: a removed member is refused
        if not may_read_feed(holder, group):
            return 403, "Forbidden: this calendar link is no longer valid for you.\n"
        series = [g.series for g in groups if g.series is not None]
        return 200, ics_calendar(series, dtstamp=now, name=title)


def dashboard_response(sessions: sessionmaker[Session], core: CoreSettings,
                       query: dict[str, str]) -> tuple[int, str]:
    problem = malformed_link(query)
    if problem is not None:
        body = f"<h1>Taskbot dashboard</h1><p>{html.escape(problem)}</p>"
        return 400, html_page("Taskbot dashboard", body)
    with sessions() as session:
        now = core.clock()
        problem = check_dashboard(session, core, query, now)
        if problem is not None:
            body = f"<h1>Taskbot dashboard</h1><p>{html.escape(problem)}</p>"
            return 403, html_page("Taskbot dashboard", body)
        ctx = reader_ctx(session, core, now)
        link = {k: query.get(k, "") for k in ("exp", "who", "sig")}
        # the link's holder reads it (check_dashboard proved who that is)
        holder = session.get(Person, int(query["who"]))
        return 200, dashboard_html(ctx, parse_filters(query), link,
                                   person_reader(holder, core))


class _BadRequestLine(logging.Filter):
    """aiohttp answers a request line it cannot parse (too long, bad bytes) with 400 itself,
    then logs it as an ERROR with a traceback: anyone could fill the log that way. Keep one
    INFO line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        err = record.exc_info[1] if record.exc_info else None
        if isinstance(err, HttpProcessingError) and err.code == 400:
            log.info("web: refused a malformed request (400): %s", type(err).__name__)
            return False
        return True


def _quiet_bad_request_lines() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _BadRequestLine) for f in server_log.filters):
        server_log.addFilter(_BadRequestLine())


def routes(sessions: sessionmaker[Session], core: CoreSettings) -> list[web.RouteDef]:
    """The feed and dashboard routes over a session factory (tests build them directly);
    they only read, so ``taskbot run`` gives them its reader sessions."""
    _quiet_bad_request_lines()

    async def calendar(request: web.Request) -> web.Response:
        name = request.match_info["name"].lower()
        token = request.query.get("token", "")
        try:
            status, body = await asyncio.to_thread(calendar_response, sessions, core, name,
                                                   token)
        except Exception:
            log.exception("web: calendar feed %r failed", name)
            return web.Response(status=500, text="Something went wrong; try again later.\n")
        if status != 200:
            return web.Response(status=status, text=body, headers={"Cache-Control": "no-store"})
        return web.Response(
            body=body.encode("utf-8"), content_type="text/calendar", charset="utf-8",
            headers={"Cache-Control": "private, max-age=300",
                     "Content-Disposition": f'inline; filename="{name}.ics"',
                     "X-Robots-Tag": "noindex"})

    async def dashboard(request: web.Request) -> web.Response:
        query = {k: request.query.get(k, "") for k in request.query}
        try:
            status, body = await asyncio.to_thread(dashboard_response, sessions, core, query)
        except Exception:
            log.exception("web: dashboard failed")
            return web.Response(status=500, text="Something went wrong; try again later.\n")
        return web.Response(status=status, text=body, content_type="text/html",
                            headers=_PAGE_HEADERS)

    return [web.get(FEED_PATH, calendar), web.get(DASHBOARD_PATH, dashboard)]


def build_routes(box: Container) -> list[web.RouteDef]:
    return routes(box.readers, box.core)


def make_app(route_defs: list[web.RouteDef]) -> web.Application:
    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.add_routes([*route_defs, web.get("/healthz", health)])
    return app


async def start(route_defs: list[web.RouteDef], host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(make_app(route_defs), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def serve(box: Container, *, host: str = "0.0.0.0") -> None:
    """``taskbot run``'s web runner when Slack does not own the port: serve until
    cancelled."""
    port = box.settings.port or DEFAULT_PORT
    runner = await start(build_routes(box), host, port)
    print(f"Web: calendar feeds and dashboard on port {port}", file=sys.stderr)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve_in_thread(box: Container, *, host: str = "0.0.0.0") -> Callable[[], None]:
    """The routes on their own event loop in a daemon thread, for ``taskbot run`` with no
    chat platform on a terminal, where the shell owns the main thread. Binds before it
    returns (a taken port raises ``OSError`` here); returns the function that stops it."""
    port = box.settings.port or DEFAULT_PORT
    loop = asyncio.new_event_loop()
    try:
        runner = loop.run_until_complete(start(build_routes(box), host, port))
    except BaseException:
        loop.close()
        raise
    thread = threading.Thread(target=loop.run_forever, name="taskbot-web", daemon=True)
    with signals_stay_with_main():  # the shell in the main thread takes Ctrl-C
        thread.start()
    print(f"Web: calendar feeds and dashboard on port {port}", file=sys.stderr)

    def stop() -> None:
        try:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            if not thread.is_alive():
                loop.close()

    return stop
