"""The Matrix renderer and command reader, without a homeserver."""

from __future__ import annotations

import html
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.matrix.client import txn_id
from bot.matrix.render import MAX_BODY, TooLong, command_text, render
from handlers.core.messages import Button, Buttons, File, Link, Mention, Table, Text

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


# --- reading hostile bodies: bounded in size, linear in time ---------------------------------

PILL_START = '<a href="https://matrix.to/#/@'
KB64 = 64 * 1024


def _fill(unit: str, size: int, head: str = "") -> str:
    return head + unit * ((size - len(head)) // len(unit))


# the shapes that made the regexes (or html.parser) backtrack or rescan, at any size
HOSTILE: dict[str, Callable[[int], str]] = {
    "review: open tags then an unfinished pill": lambda n: _fill(
        "x", n, "<a " * (n // 20) + PILL_START),
    "open tags only": lambda n: _fill("<a ", n),
    "pills with no end tag": lambda n: _fill(PILL_START + 'x:y">bob', n),
    "pills with their end tags": lambda n: _fill(PILL_START + 'x:y">bob</a>', n),
    "unclosed reply fallbacks": lambda n: _fill("<mx-reply>", n, PILL_START + 'a:b">a</a>'),
    "open quotes": lambda n: _fill('<a x="', n, "matrix.to"),
    "lone angle brackets": lambda n: _fill("<", n, "matrix.to"),
    "empty tags": lambda n: _fill("<>", n, "matrix.to"),
    "comments": lambda n: _fill("<!--", n, "matrix.to"),
    "line breaks": lambda n: _fill("<br>", n, "matrix.to"),
    "entities": lambda n: _fill("&amp;&#", n, "matrix.to"),
}
LIMIT_S = 0.1  # the bound, in CPU seconds of this thread (not wall time)


def _cpu(fn: Callable[[], object]) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_64_kb_hostile_body_is_refused_before_parsing(shape: str) -> None:
    hostile = HOSTILE[shape](KB64)

    def read() -> None:
        with pytest.raises(TooLong):
            command_text("!tg list", hostile)
        with pytest.raises(TooLong):
            command_text(hostile, None)

    assert _cpu(read) < LIMIT_S


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_the_parser_is_linear_up_to_the_cap(shape: str) -> None:
    """The largest body the cap lets through, of each hostile shape, read in well under the
    bound; and the issue's own 4,330-character body (8.6 s on the regexes)."""
    hostile = HOSTILE[shape](MAX_BODY)
    assert len(hostile) <= MAX_BODY
    assert _cpu(lambda: command_text("!tg list", hostile)) < LIMIT_S
    review = "<a " * 1100 + PILL_START + "x" * 1000
    assert _cpu(lambda: command_text("!x", review)) < LIMIT_S


def test_replies_and_pills_are_still_read() -> None:
    fallback = ('<mx-reply><blockquote><a href="https://matrix.to/#/@a:b">A</a> old</blockquote>'
                "</mx-reply>!tg add repl ")
    assert command_text("x", fallback + pill("@bob:b.org", "Bob")) == "!tg add repl @bob:b.org"
    assert command_text("x", "!tg<br/>list " + pill("@c:d", "C <i>x</i>")) == "!tg list @c:d"
    assert command_text("x", "!a < b " + pill("@c:d", "C")) == "!a < b @c:d"
    # a pill with no end tag is no pill: its label stays, as before
    assert command_text("x", '!a <a href="https://matrix.to/#/@c:d">C') == "!a C"
    assert command_text("> quoted\n> more\n\n!tg list", None) == "!tg list"


def pill(user_id: str, name: str) -> str:
    return f'<a href="https://matrix.to/#/{user_id}">{name}</a>'


_HTMLISH = st.lists(
    st.sampled_from([
        *'<>/"\'= &#;!-?abrx@:%4', "a ", "href=", "https://matrix.to/#/", "@u:s", "</a>", "<mx-reply>", "</mx-reply>",
        "<br>", "&amp;", "\n", "> ", "\u00a0", "İ", "\x00"]),
    max_size=200,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_HTMLISH, formatted=st.one_of(st.none(), _HTMLISH))
def test_fuzz_no_body_raises_or_hangs(body: str, formatted: str | None) -> None:
    """Any body/formatted_body: a string or TooLong, never another exception, and fast.
    (Reading is a pure function: it cannot write.)"""
    for scale in (1, 40):
        b, f = body * scale, (formatted * scale if formatted is not None else None)
        spent = time.thread_time()
        try:
            line = command_text(b, f)
        except TooLong:
            continue
        spent = time.thread_time() - spent
        assert isinstance(line, str)
        assert spent < LIMIT_S


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.text(alphabet="abcxyz<>&\"' ", min_size=1, max_size=8), max_size=6),
       local=st.from_regex(r"[a-z0-9._=-]{1,12}", fullmatch=True))
def test_fuzz_every_pill_reads_back_as_its_id(words: list[str], local: str) -> None:
    user = f"@{local}:example.org"
    label = html.escape(" ".join(words))
    line = command_text("x", f"!tg add g {pill(user, label or 'x')} as chair")
    assert line == f"!tg add g {user} as chair"
