"""The secretariat's monthly report counts each group's proposals: opened, closed, passed,
and the turnout of those closed."""

from __future__ import annotations

from handlers.core.messages import Table, plain_spans
from tests.support.dialog import Bot


def test_the_report_counts_proposals_and_turnout(bare_bot: Bot) -> None:
    bot = bare_bot
    for line in ("tg create secretariat Secretariat", "tg add secretariat @sam",
                 "tg create repl Replication", "tg add repl @ana as chair", "tg add repl @bo",
                 "tg add repl @cy", "tg add repl @di", "tg create comms Communication",
                 "tg add comms @eve as chair"):
        bot.admin(line)
    bot.say("ana", None, "proposal open repl First plan")
    bot.say("ana", None, "proposal open repl Second plan kind majority")
    bot.say("ana", None, "proposal open repl Third plan")
    bot.say("eve", None, "proposal open comms A poster")
    for who in ("ana", "bo", "cy"):
        bot.say(who, None, "vote P-1 agree")
    bot.say("bo", None, "vote P-2 disagree")
    assert not bot.ask("ana", None, "proposal close P-1").error  # passed, 3 of 4
    assert not bot.ask("ana", None, "proposal close P-2").error  # no quorum, 1 of 4
    reply = bot.ask("sam", None, "secretariat report november")
    tables = [b for b in reply.blocks if isinstance(b, Table)]
    proposals = next(t for t in tables if "turnout" in t.headers)
    rows = {plain_spans(r[0]): [plain_spans(c) for c in r[1:]] for r in proposals.rows}
    # opened, closed, passed, turnout (4 of 8 voted on the two closed)
    assert rows == {"repl": ["3", "2", "1", "50%"], "comms": ["1", "0", "0", "-"]}
