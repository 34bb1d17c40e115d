"""A reply to a check-in prompt on Matrix: each line answers the next question.

The prompt is the delivery engine's composition, sent by the bot into the person's direct
chat with its topic in the event; the person replies (with the fallback a client quotes);
the bot reads the topic of the event replied to and runs each line as ``checkin <group>
<line>``, once, however often the event comes back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from nio import RoomGetEventResponse, RoomSendError
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from bot.matrix.client import MatrixBot
from bot.matrix.render import REPLY_LINES, TOPIC_KEY, TooLong, reply_lines
from handlers.checkins._schedule import compose_prompt
from storage.models import Group, KvState
from tests.matrix.conftest import Event, Human, World, body, reply_to, wait_until
from tests.support.checkins import answer_rows, answers, open_round, person_id

# --- reading a reply (no server) ------------------------------------------------------------


def test_a_reply_is_read_without_its_fallback() -> None:
    quoted = "> <@taskbot:localhost> Check-in for Replication\n> 1. What moved?\n\n"
    assert reply_lines(quoted + "Guide drafted\n\n  Data agreement  \n", None) == [
        "Guide drafted", "Data agreement"]
    assert reply_lines("Guide drafted\nData agreement", None) == [
        "Guide drafted", "Data agreement"]
    html = ('<mx-reply><blockquote><a href="https://matrix.to/#/$prompt">In reply to</a> '
            '<a href="https://matrix.to/#/@taskbot:localhost">taskbot</a><br>Check-in'
            '</blockquote></mx-reply>Ask <a href="https://matrix.to/#/@bob:localhost">Bob</a>'
            '<br/>Nothing blocked<p>More money</p>')
    assert reply_lines(quoted + "Ask Bob\nNothing blocked\nMore money", html) == [
        "Ask @bob:localhost", "Nothing blocked", "More money"]


def test_a_reply_too_long_is_refused_before_it_is_read() -> None:
    with pytest.raises(TooLong):
        reply_lines("x\n" * 20_000, None)


def test_the_topic_is_read_only_from_the_bots_own_event_and_in_bounded_time(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.matrix import client as matrix_client
    from bot.matrix.client import MatrixOptions
    from bot.platforms import registered_platforms
    from handlers.catalog import build_registry
    from handlers.core.context import CoreSettings
    from handlers.core.router import Router
    from storage.db import make_session_factory

    sessions = make_session_factory(sqlite_engine)
    router = Router(sessions, CoreSettings(platforms=registered_platforms()),
                    build_registry(registered_platforms()))
    bot = MatrixBot(MatrixOptions("http://127.0.0.1:9", "@taskbot:localhost", "pw", None),
                    sessions, router)
    bot.client.restore_login("@taskbot:localhost", "DEVICE", "token")
    fetched: list[str] = []
    answer: dict[str, Any] = {}

    async def get_event(room_id: str, event_id: str) -> Any:
        fetched.append(event_id)
        if event_id == "$slow":
            await asyncio.sleep(3600)
        resp = RoomGetEventResponse()
        resp.event = SimpleNamespace(source=answer)
        return resp

    monkeypatch.setattr(bot.client, "room_get_event", get_event)
    monkeypatch.setattr(matrix_client, "FETCH_TIMEOUT", 0.05)

    def replying(to: Any) -> dict[str, Any]:
        return {"body": "x", "m.relates_to": {"m.in_reply_to": {"event_id": to}}}

    async def scenario() -> None:
        answer.update(sender="@taskbot:localhost", content={TOPIC_KEY: "checkin:repl"})
        assert await bot.reply_topic("!r:localhost", replying("$prompt")) == "checkin:repl"
        answer.update(sender="@mallory:localhost")  # someone else's message, same content
        assert await bot.reply_topic("!r:localhost", replying("$prompt")) is None
        answer.update(sender="@taskbot:localhost", content={TOPIC_KEY: "checkin repl; x"})
        assert await bot.reply_topic("!r:localhost", replying("$prompt")) is None
        answer.update(content={"body": "no topic"})
        assert await bot.reply_topic("!r:localhost", replying("$prompt")) is None
        assert await bot.reply_topic("!r:localhost", replying("$slow")) is None  # timed out
        for odd in (None, 12, "not-an-event-id", "$" + "x" * 300):
            assert await bot.reply_topic("!r:localhost", replying(odd)) is None
        assert await bot.reply_topic("!r:localhost", {"body": "not a reply"}) is None
        await bot.client.close()

    asyncio.run(scenario())
    assert fetched == ["$prompt"] * 4 + ["$slow"]  # one fetch a reply, none for the rest


# --- through Synapse ------------------------------------------------------------------------


def _group_id(world: World, slug: str) -> int:
    with Session(world.engine) as s:
        found = s.scalar(select(Group.id).where(Group.slug == slug))
    assert found is not None
    return found


async def _reply(human: Human, room: str, to: str, quoted: str, lines: list[str]) -> str:
    """A reply as Element sends one: the quoted fallback in both bodies."""
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": "".join(f"> {q}\n" for q in quoted.splitlines()) + "\n" + "\n".join(lines),
        "format": "org.matrix.custom.html",
        "formatted_body": (f"<mx-reply><blockquote>{quoted}</blockquote></mx-reply>"
                           + "<br>".join(lines)),
        "m.relates_to": {"m.in_reply_to": {"event_id": to}},
    }
    resp = await human.client.room_send(room, "m.room.message", content)
    assert not isinstance(resp, RoomSendError), resp
    return str(resp.event_id)


def _bot_events(human: Human, room: str, bot_id: str) -> list[Event]:
    return human.messages_from(room, bot_id)


def test_a_reply_to_the_prompt_answers_questions_one_and_two(world: World) -> None:
    async def scenario() -> None:
        bot: MatrixBot = world.bot()
        alice = world.human("alice")
        await bot.start()
        await alice.start()
        bot_id = bot.client.user_id
        try:
            dm = await alice.create_room("", invite=[bot_id], is_direct=True)
            await wait_until(lambda: dm in bot.client.rooms)
            await asyncio.sleep(0.3)
            for line in ("tg create boc Board of Coordinators", "tg create repl Replication",
                         f"tg add repl {alice.user_id} as chair",
                         "meeting schedule boc first tuesday 10:00 Europe/Brussels"):
                said = await alice.ask(dm, line)
                assert "Usage" not in body(said), body(said)
            me = person_id(world.engine, "matrix", alice.user_id)
            round_id = open_round(world.engine, "repl", [me])

            # the prompt, as the delivery engine composes it, sent into the direct chat
            def compose() -> list[Any]:
                with Session(world.engine) as s:
                    blocks = compose_prompt(s, {"round_id": round_id, "person_id": me,
                                                "group_id": _group_id(world, "repl")},
                                            bot.router.settings)
                assert blocks is not None
                return blocks

            prompt_id = await bot.send_blocks(dm, await asyncio.to_thread(compose),
                                              f"checkin_prompt:{round_id}:test")
            prompt = await alice.wait_for(dm, lambda e: e.get("event_id") == prompt_id)
            assert prompt["content"][TOPIC_KEY] == "checkin:repl"
            assert "What is blocked" in body(prompt)

            # the reply: two lines, under the quoted prompt
            answer_id = await _reply(alice, dm, prompt_id, "Check-in for Replication",
                                     ["We moved the guide forward",
                                      "Waiting for the data agreement"])
            told = await alice.wait_for(dm, lambda e: reply_to(e) == answer_id
                                        and e.get("sender") == bot_id)
            assert "question 1" in body(told) and "question 2" in body(told), body(told)
            assert "Next, question 3" in body(told)
            assert answers(world.engine, round_id) == {
                1: "We moved the guide forward", 2: "Waiting for the data agreement"}
            rows = answer_rows(world.engine, round_id)
            assert {via for _n, via, _at in rows} == {"matrix"}

            # the same event again, its mark lost as if the process died before writing it:
            # each line's own mark stops it, and the answer's transaction id posts nothing new
            source = await alice.wait_for(dm, lambda e: e.get("event_id") == answer_id)
            key = bot.state.seen_key(answer_id)
            with Session(world.engine) as s, s.begin():
                s.execute(delete(KvState).where(KvState.key == key))
            bot.state.events._known.discard(key)
            count = len(_bot_events(alice, dm, bot_id))
            await bot.handle_event(dm, dict(source))
            await bot.handle_event(dm, dict(source))  # and once more, now marked
            await asyncio.sleep(1.0)
            assert answer_rows(world.engine, round_id) == rows
            assert len(_bot_events(alice, dm, bot_id)) == count

            # a reply to a message of the bot's that is about nothing is a command, as ever
            listing = await alice.ask(dm, "tg list")
            plain = await _reply(alice, dm, str(listing["event_id"]), "Groups", ["tg show repl"])
            shown = await alice.wait_for(dm, lambda e: reply_to(e) == plain
                                         and e.get("sender") == bot_id)
            assert "Replication" in body(shown) and "question" not in body(shown)
            # and so is a reply to one's own message
            own = await alice.say(dm, "a note to myself")
            mine = await _reply(alice, dm, own, "a note to myself", ["checkin repl"])
            form = await alice.wait_for(dm, lambda e: reply_to(e) == mine
                                        and e.get("sender") == bot_id)
            assert "We moved the guide forward" in body(form)
            assert answers(world.engine, round_id) == {
                1: "We moved the guide forward", 2: "Waiting for the data agreement"}

            # more lines than a round has questions: the first ten are read, and it says so
            long_id = await _reply(alice, dm, prompt_id, "Check-in",
                                   [f"checkin repl edit 3 answer {i}" for i in range(12)])
            said = await alice.wait_for(dm, lambda e: reply_to(e) == long_id
                                        and e.get("sender") == bot_id)
            assert f"first {REPLY_LINES} lines" in body(said), body(said)
            assert answers(world.engine, round_id)[3] == f"answer {REPLY_LINES - 1}"
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())


def test_a_prompt_sent_after_its_close_is_answered_as_a_command(world: World) -> None:
    """No round open: the lines still go to ``checkin``, which says why nothing was saved."""
    async def scenario() -> None:
        bot = world.bot()
        alice = world.human("alice")
        await bot.start()
        await alice.start()
        bot_id = bot.client.user_id
        try:
            dm = await alice.create_room("", invite=[bot_id], is_direct=True)
            await wait_until(lambda: dm in bot.client.rooms)
            await asyncio.sleep(0.3)
            from handlers.core.messages import Text, topic

            prompt_id = await bot.send_blocks(
                dm, [Text(("Check-in for Replication",)), topic("checkin", "repl")],
                f"checkin_prompt:closed:{dt.datetime.now(dt.UTC).timestamp()}")
            answer_id = await _reply(alice, dm, prompt_id, "Check-in", ["We moved"])
            said = await alice.wait_for(dm, lambda e: reply_to(e) == answer_id
                                        and e.get("sender") == bot_id)
            assert "No check-in" in body(said), body(said)
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())
