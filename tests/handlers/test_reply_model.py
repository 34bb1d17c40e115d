"""The reply model is immutable: what the router committed is what every adapter renders.

Its builders return a new reply, so a builder call whose result is dropped loses text
silently; the second half of this file reads the code for one.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.core.messages import ChannelRef, Post, Reply, Text

ROOT = Path(__file__).resolve().parents[2]
# methods only the reply has: a statement calling one drops its result
REPLY_ONLY = {"say", "but"}
# methods other objects have too (sets, sessions, HTTP clients): checked on a reply's name
REPLY_TOO = {"add", "post"}


def test_a_reply_cannot_be_changed_in_place() -> None:
    reply = Reply(blocks=[Text(("a",))], posts=[Post("g", "G", [ChannelRef("shell", "#g")], [])])
    assert isinstance(reply.blocks, tuple) and isinstance(reply.posts, tuple)
    assert isinstance(reply.posts[0].channels, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.private = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.posts[0].blocks = []  # type: ignore[misc]
    with pytest.raises(AttributeError):
        reply.blocks.append(Text(("b",)))  # type: ignore[attr-defined]


@given(st.lists(st.text(max_size=5), max_size=6), st.booleans())
def test_builders_return_a_new_reply_and_leave_the_old_one(words: list[str], private: bool) -> None:
    start = Reply(private=private)
    reply = start
    for word in words:
        before = reply
        reply = reply.say(word)
        assert len(before.blocks) == len(reply.blocks) - 1
    assert start == Reply(private=private)
    assert [b.spans for b in reply.blocks if isinstance(b, Text)] == [(w,) for w in words]
    changed = reply.but(private=not private, queued=["k"])
    assert (changed.private, changed.queued, changed.blocks) == (not private, ("k",), reply.blocks)
    assert (reply.private, reply.queued) == (private, ())


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return node


def _dropped(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)):
            continue
        name = node.value.func.attr
        root = _root(node.value.func.value)
        on_reply = ((isinstance(root, ast.Name) and "reply" in root.id.lower())
                    or (isinstance(root, ast.Call) and isinstance(root.func, ast.Name)
                        and root.func.id == "Reply"))
        if name in REPLY_ONLY or (name in REPLY_TOO and on_reply):
            lines.append(node.lineno)
    return lines


def test_no_code_drops_a_built_reply() -> None:
    found = {}
    for top in ("handlers", "bot"):
        for path in sorted((ROOT / top).rglob("*.py")):
            lines = _dropped(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}


def test_the_check_finds_a_dropped_reply() -> None:
    source = "def f(reply):\n    reply.say('x')\n    Reply().add(y)\n    reply = reply.say('ok')\n"
    assert _dropped(ast.parse(source)) == [2, 3]
