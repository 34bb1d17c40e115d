"""Check-ins in the Board's monthly report: the rounds of the month as the Board reads them
(each group's answers, the blocked first, the groups that did not answer named), and which
group answered each round of six months, in the chat reply, the Markdown and the HTML.

Rounds are made as in use: the BoC meets on second Thursdays, the delivery tick opens each
round five days before and closes it the day before, and people answer with ``checkin``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from bot.textrender import render_blocks, render_reply
from handlers import reports
from handlers.core.messages import Block, File, Reply, Table, Text, plain_spans
from tests.handlers.test_delivery import RecordingSender, engine_for
from tests.support.dialog import Bot
from tests.support.i18n import install_pseudo, unmarked

UTC = dt.UTC

# the rounds below: (BoC meeting, opened by a tick at, answered at, closed by a tick at)
DEC, JAN, FEB = dt.date(2026, 12, 10), dt.date(2027, 1, 14), dt.date(2027, 2, 11)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)


def make_groups(bot: Bot) -> None:
    """The preset's groups that the rounds below ask (for a store without the preset)."""
    for line in ("tg create boc Board of Coordinators", "tg create secretariat Secretariat",
                 "tg create replication Replication",
                 "tg create comms Communication and Dissemination",
                 "tg create data Data Management"):
        bot.admin(line)


def run_rounds(bot: Bot) -> None:
    """Three rounds: December's and January's closed, February's open (the clock is left on
    8 Feb 2027, two days before its close).

    - 10 Dec: Replication is blocked, Communication is not (it says "none"), Data Management
      gives no answer.
    - 14 Jan: only Communication answers.
    - 11 Feb (open): Replication has answered one question so far.
    """
    for line in ("tg add boc @bea", "tg add secretariat @sam",
                 "tg add replication @alice as chair", "tg add comms @carl as chair",
                 "tg add data @dora as chair",
                 "meeting schedule boc second thursday 10:00 Europe/Brussels"):
        reply = bot.ask("root", None, line)
        assert not reply.error, line
    engine = engine_for(bot, RecordingSender())

    def tick(when: dt.datetime) -> None:
        bot.now = when
        engine.tick(when)

    def answer(who: str, *answers: str) -> None:
        for text in answers:
            reply = bot.ask(who, None, f"checkin {text}")
            assert not reply.error, (who, text, render_blocks(list(reply.blocks)))

    tick(at(DEC - dt.timedelta(days=5), 12))  # opens 5 Dec; closes 9 Dec 10:00 CET
    bot.now = at(DEC - dt.timedelta(days=4))
    answer("alice", "We moved the guide <b>forward</b>", "Waiting for the | data agreement")
    answer("carl", "Posters printed", "none")
    tick(at(DEC - dt.timedelta(days=1)))
    tick(at(JAN - dt.timedelta(days=5), 12))
    bot.now = at(JAN - dt.timedelta(days=4))
    answer("carl", "Newsletter sent")
    tick(at(JAN - dt.timedelta(days=1)))
    tick(at(FEB - dt.timedelta(days=5), 12))
    bot.now = at(FEB - dt.timedelta(days=4))
    answer("alice", "Chapter 3 drafted")
    bot.now = at(FEB - dt.timedelta(days=3))


def report(bot: Bot, month: str) -> Reply:
    reply = bot.ask("sam", None, f"secretariat report {month}")
    assert not reply.error, render_blocks(list(reply.blocks))
    return reply


def file_of(reply: Reply, ext: str) -> str:
    found = next(b for b in reply.blocks if isinstance(b, File) and b.name.endswith(ext))
    return found.content.decode("utf-8")


def texts(blocks: list[Block]) -> list[str]:
    return [plain_spans(b.spans) for b in blocks if isinstance(b, Text)]


def participation_rows(reply: Reply) -> dict[str, list[str]]:
    table = next(b for b in reply.blocks if isinstance(b, Table)
                 and b.headers[1:2] == (DEC.isoformat(),))
    return {plain_spans(r[0]): [plain_spans(c) for c in r[1:]] for r in table.rows}


def test_a_closed_round_in_the_report_blocked_first_and_missing_named(bot: Bot) -> None:
    run_rounds(bot)
    reply = report(bot, "december")
    said = texts(list(reply.blocks))
    start = said.index("Check-ins before the Board meets Thu 10 Dec 2026 10:00 CET")
    assert said[start + 1] == "Closed Wed 09 Dec 2026 11:00 CET. 2 of 3 groups answered."
    # Replication (blocked) before Communication (nothing blocked), though C sorts first;
    # in each group the question about what is blocked comes first
    assert said[start + 2:start + 9] == [
        "Replication",
        "2. What is blocked, and by what?\nWaiting for the | data agreement",
        "1. What has the group moved forward since the last BoC meeting?\n"
        "We moved the guide <b>forward</b>",
        "Communication and Dissemination",
        "2. What is blocked, and by what?\nnone",
        "1. What has the group moved forward since the last BoC meeting?\nPosters printed",
        "No answer from Data Management.",
    ]
    assert "Check-ins over six months" in said
    assert participation_rows(reply) == {
        "Business Models and Financing": [""],
        "Communication and Dissemination": ["answered"],
        "Data Management": ["no answer"],
        "Monitoring and Evaluation": [""],
        "Replication": ["answered"],
    }

    md = file_of(reply, ".md")
    body = md[md.index("## Check-ins before the Board meets Thu 10 Dec 2026 10:00 CET"):]
    assert body.index("### Replication") < body.index("### Communication and Dissemination")
    assert ("2\\. What is blocked, and by what?\\\nWaiting for the \\| data agreement"
            in body)
    assert "We moved the guide \\<b\\>forward\\</b\\>" in body  # no raw HTML in Markdown
    assert "No answer from Data Management." in body
    assert "## Check-ins over six months" in body
    assert f"| group | {DEC.isoformat()} |" in body
    assert "| Data Management | no answer |" in body

    page = file_of(reply, ".html")
    body = page[page.index("<h2>Check-ins before the Board meets"):]
    assert body.index("<h3>Replication</h3>") < body.index(
        "<h3>Communication and Dissemination</h3>")
    assert ("<p>2. What is blocked, and by what?<br>Waiting for the | data agreement</p>"
            in body)
    assert "We moved the guide &lt;b&gt;forward&lt;/b&gt;" in body and "<b>forward" not in page
    assert "<p>No answer from Data Management.</p>" in body
    assert '<td data-label="2026-12-10">no answer</td>' in body


def test_six_months_of_participation_and_an_open_round(bot: Bot) -> None:
    run_rounds(bot)
    reply = report(bot, "february")  # 8 Feb: February's round is still open
    said = texts(list(reply.blocks))
    start = said.index("Check-ins before the Board meets Thu 11 Feb 2027 10:00 CET")
    assert said[start + 1:start + 5] == [
        "Open until Wed 10 Feb 2027 10:00 CET. 1 of 3 groups answered.",
        "Replication",
        "1. What has the group moved forward since the last BoC meeting?\nChapter 3 drafted",
        "No answer from Communication and Dissemination, Data Management.",
    ]
    assert not any("Thu 10 Dec 2026" in s or "Thu 14 Jan 2027" in s for s in said)
    want = {
        "Business Models and Financing": ["", "", ""],
        "Communication and Dissemination": ["answered", "answered", "waiting"],
        "Data Management": ["no answer", "no answer", "waiting"],
        "Monitoring and Evaluation": ["", "", ""],
        "Replication": ["answered", "no answer", "answered"],
    }
    assert participation_rows(reply) == want
    md = file_of(reply, ".md")
    assert "| group | 2026-12-10 | 2027-01-14 | 2027-02-11 |" in md
    assert "| Replication | answered | no answer | answered |" in md
    assert "Open until Wed 10 Feb 2027 10:00 CET. 1 of 3 groups answered." in md
    page = file_of(reply, ".html")
    assert "<th>2026-12-10</th><th>2027-01-14</th><th>2027-02-11</th>" in page

    # February's closes; March has no round yet (it opens on 6 Mar), but its report still
    # shows the six months, January's round among them
    bot.now = at(FEB - dt.timedelta(days=1))
    engine_for(bot, RecordingSender()).tick(bot.now)
    bot.now = at(dt.date(2027, 3, 5))
    reply = report(bot, "march")
    said = texts(list(reply.blocks))
    assert "No check-in before a Board meeting this month." in said
    want["Communication and Dissemination"][2] = "no answer"
    want["Data Management"][2] = "no answer"
    assert participation_rows(reply) == want
    assert "## Check-ins\n\nNo check-in before a Board meeting this month." in file_of(
        reply, ".md")
    # a month with no round in its six months has no check-ins section at all
    older = report(bot, "2026-11")
    assert not any("Check-in" in s for s in texts(list(older.blocks)))
    assert "Check-in" not in file_of(older, ".md") and "Check-in" not in file_of(older, ".html")


@contextmanager
def statements(bot: Bot) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: object, cursor: object, sql: str, *args: object) -> None:
        seen.append(sql)

    event.listen(bot.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(bot.engine, "before_cursor_execute", count)


def test_the_check_ins_cost_a_few_queries_whatever_the_groups_and_rounds(bot: Bot) -> None:
    """December: one round, two groups answering; February: three rounds in the table, one
    answering: the same statements."""
    run_rounds(bot)
    counts = []
    for month in (DEC.replace(day=1), FEB.replace(day=1)):
        with bot.sessions() as session, statements(bot) as seen:
            checkins = reports.month_checkins(session, month)
            assert checkins.rounds and checkins.participation is not None
        counts.append(len(seen))
    assert counts[0] == counts[1] <= 12, counts


def test_the_check_ins_are_said_in_the_readers_language(bot: Bot) -> None:
    """Read in a pseudo-language, the check-ins of the report leave no English but data."""
    run_rounds(bot)
    assert not bot.ask("sam", None, f"me language {install_pseudo()}").error
    for month in ("february", "march", "2027-01"):
        if month == "march":
            bot.now = at(dt.date(2027, 3, 5))
        shown = render_reply(report(bot, month))
        # from the first of the check-ins' headings to the files
        part = shown[shown.index("== ⟦Check-in"):shown.index("[file ")]
        assert "⟦Check-ins over six months⟧" in part
        left = [line for line in unmarked(part).splitlines()
                if re.search(r"\b(the|is|no|not|of|until|answered|waiting|board)\b", line,
                             re.IGNORECASE)]
        assert left == [], (month, left)
