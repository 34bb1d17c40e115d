"""Hostile query strings for the web routes (dashboard, calendar feeds): nothing raises,
answers 500, logs an error, writes, or spends more than 100 ms of CPU on a request.

Over real HTTP (the ``served`` routes) and through the request handlers themselves, where
the time is measured as this thread's CPU time (``time.thread_time``), so a loaded machine
does not make the bound flaky. Values mix numbers in other scripts (``²``, ``٣``, ``①``),
percent-junk, very long digit runs, and the real link's own parameters.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.web import calendar_response, dashboard_response
from storage.models import Base
from tests.handlers.test_secretariat import seed
from tests.support.dialog import Bot
from tests.web.conftest import fetch

CPU_BOUND_S = 0.1
OK_STATUSES = {200, 400, 403, 404}

foreign_digits = st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1,
                         max_size=6)
values = st.one_of(
    foreign_digits,
    st.text(max_size=20),
    st.sampled_from(["", "0", "-1", "1e9", "nan", " 12", "1_000", "9" * 5000, "٣" * 40,
                     "０" * 32, "ff" * 16, "FF" * 16, "²" * 32, "\x00", "%FF", "1;2"]),
    st.builds(lambda a, b: a + b, st.text(alphabet="0123456789", max_size=10), foreign_digits),
)
names = st.sampled_from(["exp", "who", "sig", "token", "group", "person", "project", "overdue",
                         "round", "x"])
queries = st.dictionaries(names, values, max_size=5)


def snapshot(bot: Bot) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a request that wrote anything would change it."""
    with bot.engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t))), key=repr)
                for t in Base.metadata.sorted_tables}


@pytest.fixture
def links(bare_bot: Bot, served: str) -> tuple[Bot, str, dict[str, str], str]:
    """The seeded store, the served base URL, a real dashboard link's parameters, a feed
    link's path."""
    seed(bare_bot)
    bare_bot.admin("meeting schedule repl first tuesday 10:00")
    bare_bot.router.settings = dataclasses.replace(bare_bot.settings, public_url=served)
    dash = re.search(r"/dashboard\?exp=(\d+)&who=(\d+)&sig=([0-9a-f]{32})",
                     bare_bot.say("sam", None, "secretariat dashboard"))
    feed = re.search(r"(/calendar/\S+\.ics)\?token=",
                     bare_bot.say("alice", None, "meeting feed repl"))
    assert dash and feed
    real = {"exp": dash.group(1), "who": dash.group(2), "sig": dash.group(3)}
    return bare_bot, served, real, feed.group(1)


def _encode(query: dict[str, str]) -> str:
    return "&".join(f"{quote(k)}={quote(v, safe='%')}" for k, v in query.items())


fuzz = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@fuzz
@given(query=queries, keep_link=st.booleans())
def test_dashboard_queries_over_http(links: tuple[Bot, str, dict[str, str], str],
                                     caplog: pytest.LogCaptureFixture,
                                     query: dict[str, str], keep_link: bool) -> None:
    bot, base, real, _ = links
    if keep_link:  # a good link with hostile filters: the filters are parsed too
        query = {**query, **real}
    before = snapshot(bot)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        resp = fetch(f"{base}/dashboard?{_encode(query)}")
    assert resp.status in OK_STATUSES, (query, resp.status, resp.body[:300])
    assert "Traceback" not in resp.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert snapshot(bot) == before


@fuzz
@given(query=queries, name=st.one_of(st.sampled_from(["repl", "all", "ghost"]),
                                     st.text(min_size=1, max_size=8)))
def test_feed_queries_over_http(links: tuple[Bot, str, dict[str, str], str],
                                caplog: pytest.LogCaptureFixture,
                                query: dict[str, str], name: str) -> None:
    bot, base, _, _ = links
    before = snapshot(bot)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        resp = fetch(f"{base}/calendar/{quote(name, safe='')}.ics?{_encode(query)}")
    assert resp.status in OK_STATUSES, (name, query, resp.status, resp.body[:300])
    assert "Traceback" not in resp.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert snapshot(bot) == before


@fuzz
@given(query=queries, keep_link=st.booleans(), name=st.text(max_size=8))
def test_handlers_are_bounded_in_cpu(links: tuple[Bot, str, dict[str, str], str],
                                     query: dict[str, str], keep_link: bool,
                                     name: str) -> None:
    bot, _, real, _ = links
    if keep_link:
        query = {**query, **real}
    # each is timed on its second call: the first may pay one-off costs (a statement's first
    # compilation, a pool connection), the second costs what this input costs. A page that
    # renders is allowed what the plain link's page costs on top: the bound is on what the
    # hostile parameters add.
    page = 0.0
    if keep_link:
        dashboard_response(bot.sessions, bot.settings, real)
        start = time.thread_time()
        dashboard_response(bot.sessions, bot.settings, real)
        page = time.thread_time() - start
    dashboard_response(bot.sessions, bot.settings, query)
    start = time.thread_time()
    status, _ = dashboard_response(bot.sessions, bot.settings, query)
    used = time.thread_time() - start
    assert status in OK_STATUSES and used < CPU_BOUND_S + page, (query, status, used, page)
    calendar_response(bot.sessions, bot.settings, name.lower(), query.get("token", ""))
    start = time.thread_time()
    status, _ = calendar_response(bot.sessions, bot.settings, name.lower(),
                                  query.get("token", ""))
    used = time.thread_time() - start
    assert status in OK_STATUSES and used < CPU_BOUND_S, (name, query, status, used)


@pytest.mark.parametrize("exp", ["²", "٣٣٣", "1²", "9" * 5000])
def test_a_non_number_expiry_is_a_bad_request(links: tuple[Bot, str, dict[str, str], str],
                                              exp: str) -> None:
    _, base, real, _ = links
    resp = fetch(f"{base}/dashboard?exp={quote(exp)}&sig={real['sig']}")
    assert resp.status == 400, resp.body[:300]
    assert "its expiry is not a number" in resp.body


@pytest.mark.parametrize("token", ["²" * 32, "٣" * 32, "G" * 32, "0" * 31])
def test_a_token_of_the_wrong_shape_is_a_bad_request(
        links: tuple[Bot, str, dict[str, str], str], token: str) -> None:
    _, base, _, feed = links
    resp = fetch(f"{base}{feed}?token={quote(token)}")
    assert resp.status == 400, resp.body[:300]
    assert resp.body.strip().startswith("Bad request: This link is not valid")
