"""A person's own page says what the commands it stands for say, in one unit of work."""

from __future__ import annotations

from bot.textrender import render_blocks
from handlers.core.messages import Reply
from handlers.core.router import Incoming
from handlers.home._page import home
from tests.support.dialog import Bot


def _page(bot: Bot, who: str) -> str:
    page = bot.router.view(Incoming("shell", who, "", None, who), lambda ctx: home(ctx, "/"))
    assert not isinstance(page, Reply), page
    return "\n".join(f"## {title}\n{render_blocks(blocks)}" for title, blocks in page)


def test_the_page_is_the_commands_answers(bare_bot: Bot) -> None:
    bot = bare_bot
    for line in ("tg create repl Replication", "tg create comms Communication",
                 "tg create old Old group", "tg add repl @alice", "tg add old @alice",
                 "tg add comms @alice",  # no meetings scheduled: not on the page
                 "meeting schedule repl first tuesday 10:00", "tg archive old"):
        bot.admin(line)
    bot.say("alice", None, "action add Draft the plan due 2099-01-15 group repl")
    bot.admin("decision post repl Adopt the plan")
    page = _page(bot, "alice")
    assert "Draft the plan" in page
    assert bot.say("alice", None, "meeting next repl").strip() in page
    assert "Adopt the plan" in page and "D-1" in page
    meetings = page.split("## Your groups' next meetings")[1].split("## Recent")[0]
    assert "old" not in meetings and "comms" not in meetings


def test_someone_new_gets_a_page_and_no_one_elses_actions(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg add repl @alice")
    bot.say("alice", None, "action add Alice's own item group repl")
    page = _page(bot, "newcomer")
    assert "Alice's own item" not in page and "No open actions for you." in page
    assert "You are in no group yet: /tg list shows them" in page


def test_the_page_is_in_the_persons_language_and_zone(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create repl Replication")
    bot.admin("tg add repl @alice")
    bot.admin("meeting schedule repl first tuesday 10:00 Europe/Brussels")
    bot.say("alice", None, "me language de")
    bot.say("alice", None, "me zone Europe/Lisbon")
    page = _page(bot, "alice")
    # her command's answer and her page agree, in German and at 09:00 Lisbon time
    assert bot.say("alice", None, "meeting next repl").strip() in page
    assert "Your open actions" not in page and "09:00 WET" in page
