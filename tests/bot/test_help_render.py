"""Help shows every usage whole on every renderer: a usage is never cut, it wraps."""

from __future__ import annotations

import html
import re

import pytest

from bot.matrix.render import render as matrix_render
from bot.platforms import registered_platforms
from bot.slack.render import render_blocks as slack_render
from bot.slack.render import unescape
from bot.textrender import render_reply
from handlers.catalog import build_registry
from handlers.core.messages import Reply, Table
from handlers.core.router import Command

REGISTRY = build_registry(registered_platforms())
COMMANDS = [c for verbs in REGISTRY.commands.values() for c in verbs.values()]


def _rendered(reply: Reply, prefix: str) -> dict[str, str]:
    """The text a person reads on each renderer, markup and escaping removed."""
    slack = slack_render(reply.blocks)
    slack_text = "\n".join(
        unescape(b["text"]["text"]) for m in slack.messages for b in m.blocks if "text" in b)
    matrix = matrix_render(reply.blocks, prefix)
    matrix_html = html.unescape(re.sub(r"<[^>]+>", "\n", matrix.html))
    return {"shell": render_reply(reply), "slack": slack_text,
            "matrix": matrix.body, "matrix-html": matrix_html}


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: f"{c.noun}-{c.verb}")
@pytest.mark.parametrize("prefix", ["", "/", "!"])
def test_help_of_each_command_shows_its_whole_usage(cmd: Command, prefix: str) -> None:
    line = f"{prefix}{cmd.line}"
    for args in ([cmd.noun, cmd.verb], [cmd.noun]):
        for where, out in _rendered(REGISTRY.help(args, prefix), prefix).items():
            assert line in out, f"{where}: help {' '.join(args)} lacks {line!r}:\n{out}"
            assert "…" not in out, f"{where}: help {' '.join(args)} cut something:\n{out}"


def test_help_help_is_answered() -> None:
    out = render_reply(REGISTRY.help(["help"], ""))
    assert "No command" not in out and "help [<command>" in out


def test_a_long_table_cell_is_shown_whole_in_the_shell() -> None:
    words = " ".join(f"word{i}" for i in range(40))
    table = Table(("usage", "who"), (((words,), ("all",)), (("short",), ("chairs",))))
    out = render_reply(Reply().add(table))
    assert "…" not in out
    assert words in out.splitlines()
    assert "    who: chairs" in out.splitlines()
