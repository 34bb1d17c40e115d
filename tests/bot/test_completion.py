"""The interactive shell's Tab completion: what each position of a line completes to."""

from __future__ import annotations

from bot.shell import Completer
from tests.support.dialog import Bot


def test_completion_of_commands_verbs_groups_and_channels(bare_bot: Bot) -> None:
    bare_bot.admin("tg create repl Replication")
    bare_bot.admin("tg create data Data Management")
    c = Completer(bare_bot.router)
    assert c.candidates("") [:1] == ["action "] and "help " in c.candidates("")
    assert c.candidates("ac") == ["action "]
    assert c.candidates("tg sh") == ["show "]  # the word under the cursor
    assert c.candidates("/TG sh") == ["show "]
    assert "schedule " in c.candidates("meeting ")
    assert c.candidates("tg show ") == ["data ", "repl "]
    assert c.candidates("tg show r") == ["repl "]
    assert c.candidates("help me") == ["me ", "meeting "]
    assert c.candidates(":") == [":as ", ":in ", ":help ", ":quit "]
    assert c.candidates(":in #d") == ["#data "]
    assert c.candidates(":as ") == []
    assert c.candidates("frobnicate ") == ["data ", "repl "]
    bare_bot.admin("tg create comms Communication")  # seen at the next Tab, no restart
    assert c.candidates("tg show c") == ["comms "]
    bare_bot.admin("tg archive comms")
    assert c.candidates("tg show c") == []
