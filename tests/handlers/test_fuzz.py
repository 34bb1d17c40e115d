"""Random and mutated command lines never raise, never crash a handler, never write on error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.textrender import render_reply
from handlers.core.router import Incoming
from tests.support.dialog import Bot

WORDS = [
    "help", "tg", "meeting", "action", "decision", "secretariat", "admin",
    "list", "show", "create", "link", "unlink", "add", "remove", "join", "leave",
    "schedule", "next", "skip", "move", "agenda", "calendar", "to", "all",
    "done", "reopen", "cancel", "assign", "due", "note", "mine", "overdue",
    "post", "ack", "amend", "revoke", "rename", "archive", "unarchive", "requests",
    "approve", "deny", "settings", "request", "closed", "since", "summary", "actions", "open", "csv", "project", "as", "chair",
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


# --- numbers in other scripts --------------------------------------------------------------------
# str.isdigit() passes "²" (then int() raises) and int() reads "٣" as 3: wherever a number
# is read, only 0-9 may count as digits. Each template puts a number where the grammar
# reads one; the number is drawn with at least one character that is a digit, a numeral or
# a superscript in some other script (Unicode categories Nd, No, Nl), mixed with ASCII ones.

NUMBER_SLOTS = [
    "meeting schedule repl day {n} 10:00",
    "meeting schedule repl RRULE:FREQ=MONTHLY;INTERVAL={n};BYMONTHDAY=1 10:00",
    "meeting schedule repl RRULE:FREQ=MONTHLY;COUNT={n};BYMONTHDAY=1 10:00",
    "meeting schedule repl first tuesday {n}:00",
    "meeting schedule repl first tuesday 10:{n}",
    "meeting schedule repl first tuesday 10:00 remind {n}d",
    "meeting skip repl 2027-{n}-05",
    "meeting skip repl {n} Jan",
    "action due 1 in {n} days",
    "action due 1 {n}",
    "action due 1 15 Dec {n}",
    "action show A-{n}",
    "action done {n}",
    "decision show D-{n}",
    "decision list since 15 Dec {n}",
    "secretariat dashboard {n}",
    "secretariat report 2026-{n}",
    "tg settings repl digest mon {n}:00",
]

foreign = st.characters(categories=["Nd", "No", "Nl"]).filter(lambda c: not c.isascii())
number = st.builds(
    lambda head, odd, tail: head + odd + tail,
    st.text(alphabet="0123456789", max_size=2), foreign,
    st.text(alphabet=st.one_of(foreign, st.sampled_from("0123456789")), max_size=2),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(template=st.sampled_from(NUMBER_SLOTS), n=number)
def test_numbers_in_other_scripts_are_refused_cleanly(bare_bot: Bot, template: str,
                                                      n: str) -> None:
    bot = bare_bot
    if not bot.counts()["groups"]:
        seed(bot)
        bot.admin("tg create secretariat Secretariat")
        bot.admin("action add @alice Seeded group repl")
        bot.admin("decision post repl Seeded")
    text = template.format(n=n)
    before = bot.counts()
    reply = bot.ask("root", "#repl", text)
    rendered = render_reply(reply)
    assert "something went wrong" not in rendered.lower(), (text, rendered)
    # not a number: one clear line (plus the usage), and nothing written
    assert reply.error, (text, rendered)
    assert bot.counts() == before, (text, rendered)


@pytest.mark.parametrize("n", ["²", "٣", "①", "Ⅻ", "１", "1²", "٣1"])
def test_agenda_numbers_in_a_meeting_are_ascii(bare_bot: Bot, n: str) -> None:
    """``#topic 2`` picks agenda item 2; ``#topic ²`` is a topic called ²."""
    seed(bare_bot)
    bare_bot.admin("meeting schedule repl first tuesday 10:00")
    bare_bot.admin("meeting agenda repl Budget", channel="#repl")
    bare_bot.admin("meeting start repl", channel="#repl")
    reply = bare_bot.router.hear(Incoming(platform="shell", user_id="root",
                                                   text=f"#topic {n}", channel_id="#repl"))
    assert reply is not None
    rendered = render_reply(reply)
    assert not reply.error and "not captured" not in rendered, rendered
    assert rendered.endswith(f": {n}"), rendered  # its own text, not agenda item "Budget"
