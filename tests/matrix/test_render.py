"""The Matrix renderer and command reader, without a homeserver."""

from __future__ import annotations

import pytest

from bot.matrix.client import txn_id
from bot.matrix.render import command_text, render
from handlers.messages import Button, Buttons, File, Link, Mention, Table, Text

BOB = Mention(2, "Bob <b>", (("matrix", "@bob:example.org"), ("slack", "U2")))
SHELL_ONLY = Mention(3, "carol", (("shell", "carol"),))


def test_mentions_are_pills_listed_in_m_mentions() -> None:
    out = render([Text(("for ", BOB, " and ", SHELL_ONLY))])
    assert out.html == ('<p>for <a href="https://matrix.to/#/@bob:example.org">Bob &lt;b&gt;</a>'
                        " and @carol</p>")
    assert out.body == "for Bob <b> and @carol"
    content = out.content(reply_to="$cmd")
    assert content["m.mentions"] == {"user_ids": ["@bob:example.org"]}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}
    assert content["msgtype"] == "m.notice"


@pytest.mark.parametrize("typed", ["@room", "@ROOM now", "hey @room!"])
def test_room_mentions_are_defused_in_both_bodies(typed: str) -> None:
    out = render([Text((typed,)), Table(("a",), (((typed,),),))])
    assert "@room" not in out.body.lower()
    assert "@room" not in out.html.lower()
    assert "room" not in out.content()["m.mentions"]


def test_html_in_user_text_is_escaped_and_unsafe_links_are_not_links() -> None:
    out = render([Text(("<script>x</script> ", Link("javascript:alert(1)", "click")))])
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "href" not in out.html
    ok = render([Text((Link("https://meet.example.org/x?a=1&b=2", "join"),))])
    assert '<a href="https://meet.example.org/x?a=1&amp;b=2">join</a>' in ok.html


def test_files_are_set_apart_and_buttons_become_commands() -> None:
    f = File("actions.csv", "text/csv", b"a,b\n")
    out = render([Text(("Export",)), f, Buttons((Button("Ack", "decision ack D-1"),))])
    assert out.files == [f]
    assert "!decision ack D-1" in out.body and "<code>!decision ack D-1</code>" in out.html


@pytest.mark.parametrize(
    ("body", "html", "line"),
    [
        ("!tg add repl Bob as chair",
         '!tg add repl <a href="https://matrix.to/#/@bob:example.org">Bob</a> as chair',
         "!tg add repl @bob:example.org as chair"),
        ("!action add Bob x", '!action add <a href="https://matrix.to/#/%40bob%3Aexample.org">'
         "Bob</a> x &amp; y", "!action add @bob:example.org x & y"),
        ("> <@a:b> earlier\n\n!tg list", None, "!tg list"),
        ("!tg list", "<b>!tg list</b>", "!tg list"),
    ],
)
def test_command_text_reads_pills_back_as_ids(body: str, html: str | None, line: str) -> None:
    assert command_text(body, html) == line


def test_transaction_ids_follow_the_key() -> None:
    assert txn_id("meeting:1:2026-12-01") == txn_id("meeting:1:2026-12-01")
    assert txn_id("meeting:1:2026-12-01") != txn_id("meeting:1:2026-12-02")
    assert txn_id("k", "text") != txn_id("k", "file0")
