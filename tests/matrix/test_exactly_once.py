"""Exactly once on Matrix: restarts, replays, first starts, transaction ids, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bot.matrix.client import MatrixBot
from bot.matrix.sender import MatrixSender
from bot.matrix.state import MatrixState
from handlers.core.messages import ChannelRef, Text
from storage import kv
from storage.models import Action
from tests.matrix.conftest import Human, World, body, reply_to, wait_until
from tests.support.synapse import Synapse, synapse_server


def _actions(world: World) -> int:
    with world.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Action)) or 0)


async def _bound_room(bot: MatrixBot, alice: Human, slug: str = "repl") -> str:
    room = await alice.create_room(slug, invite=[bot.client.user_id])
    await wait_until(lambda: room in bot.client.rooms)
    await alice.ask(room, f"!tg create {slug} {slug.title()}")
    await alice.ask(room, f"!tg link {slug}")
    await alice.ask(room, f"!tg add {slug} {alice.user_id}")
    return room


def _replies(human: Human, room: str, bot_id: str, event_id: str) -> int:
    return sum(reply_to(e) == event_id for e in human.messages_from(room, bot_id))


def test_restart_mid_conversation_no_replay_no_loss(world: World) -> None:
    async def scenario() -> None:
        alice = world.human("alice")
        await alice.start()
        bot = world.bot()
        await bot.start()
        bot_id, device = bot.client.user_id, bot.client.device_id
        try:
            room = await _bound_room(bot, alice)
            before = await alice.say(room, "!action add first thing")
            await alice.wait_reply(room, before)
            first_post = await MatrixSender(bot).send_async(
                ChannelRef("matrix", room), [Text(("reminder one",))], "outbox:key-1")
            await bot.stop()

            # while the bot is away, two commands arrive
            during = [await alice.say(room, f"!action add while away {i}") for i in range(2)]
            await asyncio.sleep(0.5)

            bot2 = world.bot()
            await bot2.start()
            try:
                assert bot2.client.device_id == device  # the stored login, not a new device
                for event_id in during:
                    await alice.wait_reply(room, event_id)
                after = await alice.say(room, "!action list all")
                r = await alice.wait_reply(room, after)
                assert "while away 1" in body(r)
                # the same outbox key after the restart: the same event, nothing new posted
                again = await MatrixSender(bot2).send_async(
                    ChannelRef("matrix", room), [Text(("reminder one",))], "outbox:key-1")
                assert again == first_post
                await asyncio.sleep(1.0)
            finally:
                await bot2.stop()
            assert _actions(world) == 3
            for event_id in [before, *during, after]:
                assert _replies(alice, room, bot_id, event_id) == 1
            assert sum(body(e) == "reminder one" for e in alice.messages_from(room, bot_id)) == 1
        finally:
            await alice.stop()

    asyncio.run(scenario())


def test_the_same_event_twice_acts_once(world: World) -> None:
    async def scenario() -> None:
        alice = world.human("alice")
        await alice.start()
        bot = world.bot()
        await bot.start()
        bot_id = bot.client.user_id
        try:
            room = await _bound_room(bot, alice)
            old_token = bot.token
            event_id = await alice.say(room, "!action add only once")
            await alice.wait_reply(room, event_id)
            source = next(e for e in alice.events[room] if e.get("event_id") == event_id)
            await bot.handle_event(room, source)  # fed again, as a replayed batch would
            await bot.stop()

            # a restart from an older sync token replays the batch: still acted on once
            assert old_token is not None
            MatrixState(bot.sessions, bot.options.user_id).save_sync_token(old_token)
            bot2 = world.bot()
            await bot2.start()
            await wait_until(lambda: bot2.synced.is_set())
            await asyncio.sleep(1.0)
            await bot2.stop()
            assert _actions(world) == 1
            assert _replies(alice, room, bot_id, event_id) == 1
        finally:
            await alice.stop()

    asyncio.run(scenario())


def test_first_start_ignores_commands_from_before(world: World) -> None:
    async def scenario() -> None:
        alice = world.human("alice")
        await alice.start()
        bot = world.bot()
        await bot.start()
        try:
            room = await _bound_room(bot, alice)
        finally:
            await bot.stop()
        old = await alice.say(room, "!action add typed before the first start")
        # no sync token stored: a first start for this account
        with bot.sessions.begin() as session:
            kv.drop(session, f"matrix:{bot.options.user_id}:sync_token")
        await asyncio.sleep(1.1)
        bot2 = world.bot()
        await bot2.start()
        try:
            await wait_until(lambda: bot2.synced.is_set())
            new = await alice.say(room, "!action add typed after it")
            await alice.wait_reply(room, new)
            assert _replies(alice, room, bot2.client.user_id, old) == 0
            assert _actions(world) == 1
        finally:
            await bot2.stop()
            await alice.stop()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def stock_synapse() -> Iterator[Synapse]:
    """A second homeserver that keeps Synapse's default message rate (0.2/s, burst 10)."""
    with synapse_server(stock_message_rate=True) as server:
        yield server


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_held_to_the_default_message_rate_every_post_arrives(
    world: World, stock_synapse: Synapse
) -> None:
    alice_account = stock_synapse.register("ratealice")
    stock = World(stock_synapse, world.engine, stock_synapse.register("ratebot"),
                  {"alice": alice_account}, frozenset({alice_account.user_id}))
    posts = 12  # more than the burst of 10: the rest wait for Synapse to let them through

    async def scenario() -> None:
        alice = stock.human("alice")
        await alice.start()
        bot = stock.bot()
        await bot.start()
        try:
            room = await alice.create_room("busy", invite=[bot.client.user_id])
            await wait_until(lambda: room in bot.client.rooms)
            sender = MatrixSender(bot)
            channel = ChannelRef("matrix", room)

            def deliver_all() -> list[str]:  # the delivery engine's worker thread
                return [sender.send(channel, [Text((f"post {i}",))], f"burst:{i}")
                        for i in range(posts)]

            ids = await asyncio.to_thread(deliver_all)
            assert len(set(ids)) == posts
            await alice.wait_for(room, lambda e: body(e) == f"post {posts - 1}", timeout=60)
            got = [body(e) for e in alice.messages_from(room, bot.client.user_id)
                   if body(e).startswith("post ")]
            assert got == [f"post {i}" for i in range(posts)]
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())
