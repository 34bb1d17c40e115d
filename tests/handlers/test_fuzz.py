"""Random and mutated command lines never raise, never crash a handler, never write on error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.textrender import render_reply
from tests.support.dialog import Bot

WORDS = [
    "help", "tg", "meeting", "action", "decision", "secretariat", "admin",
    "list", "show", "create", "link", "unlink", "add", "remove", "join", "leave",
    "schedule", "next", "skip", "move", "agenda", "calendar", "to", "all",
    "done", "reopen", "cancel", "assign", "due", "note", "mine", "overdue",
    "post", "ack", "since", "summary", "actions", "open", "csv", "project", "as", "chair",
    "member", "group", "remind", "link", "first", "last", "2nd", "tuesday", "day", "15",
    "RRULE:FREQ=MONTHLY;BYDAY=1TU", "RRULE:FREQ=DAILY;COUNT=0", "10:00", "25:61",
    "Europe/Brussels", "Mars/Base", "7d,1d,1h", "0d", "https://meet.example.org/x",
    "repl", "comms", "Replication", "boc", "secretariat", "repl,comms", "nowhere,repl",
    "@alice", "@bob", "@ghost", "<@U12345>", "<@U12345|al>", "@al:example.org",
    "A-1", "1", "D-1", "A-999999999", "-1", "0", "today", "tomorrow", "friday",
    "next", "week", "in", "2", "weeks", "end", "of", "month", "15 Dec", "2026-02-30",
    "2027-01-15", '"quoted text"', "<!channel>", "'", '"', "<", ">", "&", "\u00e9t\u00e9",
    "x" * 600, "\x00", "a\x1fb",
]

token = st.one_of(
    st.sampled_from(WORDS),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12),
)
line = st.lists(token, min_size=0, max_size=9).map(" ".join)
prefix = st.sampled_from(["", "/", "!"])
who = st.sampled_from(["root", "alice", "bob", "stranger"])
where = st.sampled_from(["#repl", "#general", None])


def seed(bot: Bot) -> None:
    bot.admin("tg create repl Replication")
    bot.admin("tg create comms Communication and Dissemination")
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg link repl", channel="#repl")
    bot.admin("tg add repl @alice project Lighthouse as chair")
    bot.admin("tg add repl @bob project Bravo")
    bot.admin("tg add boc @alice")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_lines_are_safe(bare_bot: Bot, data: st.DataObject) -> None:
    bot = bare_bot
    if not bot.counts()["groups"]:
        seed(bot)
    text = data.draw(prefix) + data.draw(line)
    user = data.draw(who)
    channel = data.draw(where)
    before = bot.counts()
    reply = bot.ask(user, channel, text)
    rendered = render_reply(reply)
    assert "something went wrong" not in rendered, (text, rendered)
    if reply.error:
        assert bot.counts() == before, (text, rendered)
        assert rendered.strip()
