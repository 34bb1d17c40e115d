"""Meeting captures: the command length cap, linear option parsing, and no write lock for
chatter in a channel with no open meeting (finding 14 of issue 11)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.exc import OperationalError

from bot.textrender import render_reply
from handlers.core.dates import parse_date
from handlers.core.grammar import MAX_LINE, Args
from handlers.core.messages import Reply
from handlers.core.router import Incoming
from storage.models import Group
from tests.support.counting import trailing_option_words
from tests.support.dialog import Bot

MEETING = dt.datetime(2026, 12, 31, 9, 0, tzinfo=dt.UTC)


def cap(bot: Bot, who: str, channel: str, line: str) -> Reply | None:
    return bot.router.hear(Incoming(platform="shell", user_id=who, text=line,
                                             channel_id=channel))


@pytest.fixture
def tg(bare_bot: Bot) -> Bot:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg create comms Communication")
    bot.admin("tg link comms", channel="#comms")
    bot.admin("tg add repl @alice as chair")
    bot.admin("tg add repl @bob")
    bot.admin("meeting schedule repl last thursday 10:00")
    bot.now = MEETING
    assert not bot.ask("alice", "#repl", "meeting start").error
    return bot


# --- linear parsing -----------------------------------------------------------------------

_WORDS = st.sampled_from(["due", "group", "for", "since", "15", "Dec", "tomorrow", "next",
                          "week", "in", "2", "weeks", "fix", "the", "guide", "Replication"])


@given(words=st.lists(_WORDS, max_size=MAX_LINE // 4), keys=st.sets(
    st.sampled_from(["due", "group", "for", "since"]), min_size=1))
@example(words=["fix", *["due"] * 999], keys={"due"})
@settings(max_examples=60, deadline=None)
def test_trailing_options_look_at_a_bounded_number_of_words(
    words: list[str], keys: set[str]
) -> None:
    """However many keywords a line holds, the option parsers see a bounded number of
    words in all (before: every keyword from the right was tried with the whole rest of
    the line, n^2/2 words for n keywords)."""
    seen = [0]

    def parser(values: list[str]) -> dt.date:
        seen[0] += len(values)
        return parse_date(values, dt.date(2026, 11, 28))

    Args.of(" ".join(words)).take_trailing_options({k: parser for k in keys})
    assert seen[0] <= 40_000


def test_a_long_run_of_due_words_is_refused_by_the_cap(
    tg: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tg.counts()
    line = "#action @bob fix it " + "due " * 8000  # 32 KB: 3.1 s of parsing before
    words = trailing_option_words(monkeypatch)
    reply = cap(tg, "alice", "#repl", line)
    assert reply is not None and reply.error
    assert f"at most {MAX_LINE}" in render_reply(reply)
    assert tg.counts() == before
    assert words[0] == 0  # refused before any option parsing


def test_a_long_run_under_the_cap_is_parsed_quickly(
    tg: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "#action @bob fix it " + "due " * ((MAX_LINE - 30) // 4) + "due 15 Jan"
    assert len(line) <= MAX_LINE
    words = trailing_option_words(monkeypatch)
    reply = cap(tg, "alice", "#repl", line)
    # bounded by the option window, not by the line: n keywords cost n^2/2 words before
    assert 0 < words[0] <= 40_000
    assert reply is not None and reply.error  # the title is longer than an action's
    assert "too long" in render_reply(reply)


# --- any capture line: no exception, nothing written on error ----------------------------

_CAPTURE_WORDS = st.one_of(
    st.sampled_from(["@bob", "@alice", "@nobody", "<@U123>", "due", "tomorrow", "15 Dec",
                     "2020-01-01", "group", "repl", "boc", "x" * 600, '"quoted', "#undo",
                     "comms,repl", "as", "chair", "\u00b2", "\u202e", "due due due"]),
    st.text(max_size=12),
)


@given(tag=st.sampled_from(["#topic", "#info", "#link", "#idea", "#action", "#agreed",
                            "#decision", "#undo", "#chair", "#nope", ""]),
       words=st.lists(_CAPTURE_WORDS, max_size=12),
       who=st.sampled_from(["alice", "bob", "mallory", "root"]),
       channel=st.sampled_from(["#repl", "#comms", "#elsewhere"]))
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_capture_lines_never_crash_and_errors_write_nothing(
    tg: Bot, tag: str, words: list[str], who: str, channel: str
) -> None:
    before = tg.counts()
    reply = cap(tg, who, channel, " ".join([tag, *words]))
    if reply is None:
        return
    out = render_reply(reply)
    assert "error id" not in out, out
    if reply.error:
        assert tg.counts() == before


# --- no write lock for chatter where no meeting is open ----------------------------------


@pytest.fixture
def impatient(tg: Bot) -> Iterator[Engine]:
    url = tg.engine.url
    eng = (create_engine(url, connect_args={"timeout": 0}) if url.get_backend_name() == "sqlite"
           else create_engine(url))
    yield eng
    eng.dispose()


def _writes_during(bot: Bot, other: Engine, run: Any) -> list[bool]:
    """At every statement ``run`` executes, another connection writes and commits."""
    results: list[bool] = []
    names = (f"w{n}" for n in itertools.count())

    def write(*_args: Any) -> None:
        try:
            with other.begin() as conn:
                slug = next(names)
                conn.execute(insert(Group), {"slug": slug, "name": slug,
                                             "created_at": dt.datetime(2026, 11, 28)})
            results.append(True)
        except OperationalError:
            results.append(False)

    event.listen(bot.engine, "before_cursor_execute", write)
    try:
        run()
    finally:
        event.remove(bot.engine, "before_cursor_execute", write)
    return results


@pytest.mark.parametrize(("channel", "line"), [
    ("#comms", "just chatting"),
    ("#comms", "#action @bob something due tomorrow"),
    ("#elsewhere", "#info not a group channel"),
])
def test_no_open_meeting_takes_no_write_lock(
    tg: Bot, impatient: Engine, channel: str, line: str
) -> None:
    before = tg.counts()
    results = _writes_during(tg, impatient, lambda: cap(tg, "bob", channel, line))
    assert results and all(results), results
    assert tg.counts()["groups"] == before["groups"] + len(results)


def test_an_open_meeting_does_write(tg: Bot, impatient: Engine) -> None:
    """The contrast: a line in the open meeting writes, under the write lock on SQLite."""
    said: list[Reply | None] = []
    results = _writes_during(tg, impatient,
                             lambda: said.append(cap(tg, "bob", "#repl", "#info noted")))
    assert said[0] is not None and not said[0].error
    if tg.engine.dialect.name == "sqlite":
        assert False in results
