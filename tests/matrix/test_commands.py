"""Every command family through a real Synapse: people type, the bot answers as a reply."""

from __future__ import annotations

import asyncio

from bot.matrix.client import ENCRYPTED_NOTICE, MatrixBot
from tests.matrix.conftest import Human, World, body, pill, reply_to, wait_until


async def _bot_in_room(bot: MatrixBot, room_id: str) -> None:
    await wait_until(lambda: room_id in bot.client.rooms)


def test_command_families_in_a_bound_room(world: World) -> None:
    async def scenario() -> None:
        bot = world.bot()
        alice, bob, carol = world.human("alice"), world.human("bob"), world.human("carol")
        await bot.start()
        for h in (alice, bob, carol):
            await h.start()
        bot_id = bot.client.user_id
        try:
            repl = await alice.create_room("Replication", invite=[bot_id, bob.user_id])
            comms = await alice.create_room("Comms", invite=[bot_id, carol.user_id])
            welcome = await alice.wait_for(
                repl, lambda e: e.get("sender") == bot_id and e.get("type") == "m.room.message"
            )
            assert "tg link" in body(welcome)
            await bob.join(repl)
            await carol.join(comms)
            await _bot_in_room(bot, comms)

            # groups: create, link, add (with a pill, as Element sends it)
            r = await alice.ask(repl, "!tg create repl Replication")
            assert "repl" in body(r)
            assert r["content"]["msgtype"] == "m.notice"
            assert r["content"]["format"] == "org.matrix.custom.html"
            await alice.ask(repl, "!tg create comms Communication")
            await alice.ask(repl, "!tg create boc Board of Coordinators")
            await alice.ask(repl, "!tg create secretariat Secretariat")
            r = await alice.ask(repl, "!tg link repl")
            assert "linked to Replication" in body(r)
            r = await alice.ask(comms, "!tg link comms")
            assert "linked to Communication" in body(r)
            r = await alice.ask(
                repl, "!tg add repl Bob as chair",
                html=f"!tg add repl {pill(bob.user_id, 'Bob')} as chair",
            )
            assert "error" not in body(r).lower(), body(r)
            await alice.ask(comms, f"!tg add comms {carol.user_id}")
            await alice.ask(repl, f"!tg add secretariat {alice.user_id}")
            r = await alice.ask(repl, "!tg show")
            assert "bob" in body(r) and "chair" in body(r)  # the profile's display name
            assert bob.user_id not in body(r)
            assert "Room power levels here" in body(r)
            assert f"https://matrix.to/#/{bob.user_id}" in r["content"]["formatted_body"]

            # meetings
            r = await bob.ask(repl, "!meeting schedule repl first tuesday 10:00 Europe/Brussels")
            assert "first tuesday" in body(r).lower() or "Tue" in body(r), body(r)
            r = await bob.ask(repl, "!meeting next")
            assert "Tue" in body(r), body(r)

            # actions: the assignee is pinged by a pill listed in m.mentions
            r = await alice.ask(
                repl, "!action add Bob write the replication plan due 2099-01-15",
                html=f"!action add {pill(bob.user_id, 'Bob')} write the replication plan "
                     "due 2099-01-15",
            )
            assert "A-1" in body(r), body(r)
            assert r["content"]["m.mentions"]["user_ids"] == [bob.user_id]
            r = await bob.ask(repl, "!action list mine")
            assert "write the replication plan" in body(r)
            r = await bob.ask(repl, "!action done A-1")
            assert body(r).startswith("Completed A-1"), body(r)

            # decisions fan out to the target group's room
            r = await alice.ask(repl, "!decision post comms Publish the newsletter monthly")
            assert "D-1" in body(r), body(r)
            post = await carol.wait_for(
                comms, lambda e: e.get("sender") == bot_id and "newsletter" in body(e)
            )
            assert reply_to(post) is None
            r = await carol.ask(comms, "!decision ack D-1")
            assert "ack" in body(r).lower(), body(r)
            r = await bob.ask(repl, "!decision ack D-1")
            assert "member of" in body(r), body(r)  # refused: repl is not a target

            # secretariat
            r = await alice.ask(repl, "!secretariat summary")
            assert "direct chat" in body(r)  # staff-only figures: not in a group's room
            assert "<table>" not in r["content"].get("formatted_body", "")
            r = await bob.ask(repl, "!secretariat summary")
            assert "secretariat" in body(r).lower()  # refused, names the role
            r = await alice.ask(repl, "!secretariat actions all csv")
            assert "direct chat" in body(r)  # an export never lands in a shared room
            await wait_until(lambda: bool(alice.invites))
            dm = next(iter(alice.invites))
            await alice.join(dm)
            files = await alice.wait_for(
                dm, lambda e: e.get("content", {}).get("msgtype") == "m.file"
            )
            assert files["content"]["url"].startswith("mxc://")
            summary = await alice.wait_for(
                dm, lambda e: "<table>" in e.get("content", {}).get("formatted_body", "")
            )
            assert "repl" in body(summary)

            # help, an error with usage, and plain chat that is not a command
            r = await bob.ask(repl, "!help action")
            assert "!action add" in body(r)
            r = await bob.ask(repl, "!action due")
            assert "Usage: !action due" in body(r)
            n = len(bob.messages_from(repl, bot_id))
            await bob.say(repl, "thanks all, see you tuesday")
            await bob.ask(repl, "!meeting next")
            assert len(bob.messages_from(repl, bot_id)) == n + 1
        finally:
            await bot.stop()
            for h in (alice, bob, carol):
                await h.stop()

    asyncio.run(scenario())


def test_direct_message_and_declined_stranger(world: World) -> None:
    async def scenario() -> None:
        bot = world.bot()
        alice, eve = world.human("alice"), world.human("eve")
        await bot.start()
        await alice.start()
        await eve.start()
        bot_id = bot.client.user_id
        try:
            # a stranger's invite is declined, with a reason
            room = await eve.create_room("Random", invite=[bot_id])
            leave = await eve.wait_for(
                room, lambda e: e.get("type") == "m.room.member"
                and e.get("state_key") == bot_id
                and e["content"].get("membership") == "leave"
            )
            assert "invite" in leave["content"].get("reason", "")
            assert room not in bot.client.rooms

            # an admin's direct chat: commands work with or without the prefix
            dm = await alice.create_room("", invite=[bot_id], is_direct=True)
            await _bot_in_room(bot, dm)
            await asyncio.sleep(0.3)
            r = await alice.ask(dm, "tg create data Data Management")
            assert "data" in body(r)
            r = await alice.ask(dm, "!tg list")
            assert "Data Management" in body(r)
            r = await alice.ask(dm, "!tg link data")
            assert "direct message" in body(r)
            # no welcome banner in a direct chat
            assert not any(body(e).startswith("Hello!")
                           for e in alice.messages_from(dm, bot_id))
        finally:
            await bot.stop()
            await alice.stop()
            await eve.stop()

    asyncio.run(scenario())


def test_mentions_never_ping_the_room(world: World) -> None:
    async def scenario() -> None:
        bot = world.bot()
        alice = world.human("alice")
        await bot.start()
        await alice.start()
        try:
            room = await alice.create_room("Data", invite=[bot.client.user_id])
            await _bot_in_room(bot, room)
            await alice.ask(room, "!tg create data Data")
            await alice.ask(room, "!tg link data")
            await alice.ask(room, f"!tg add data {alice.user_id}")
            r = await alice.ask(room, "!action add @room <b>look</b> here")
            assert "@room" not in body(r)
            assert "@room" not in r["content"]["formatted_body"]
            assert "<b>" not in r["content"]["formatted_body"]
            assert "&lt;b&gt;" in r["content"]["formatted_body"]
            assert "room" not in r["content"]["m.mentions"]
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())


def test_encrypted_room_is_told_once(world: World) -> None:
    async def scenario() -> None:
        bot = world.bot()
        alice = world.human("alice")
        await bot.start()
        await alice.start()
        bot_id = bot.client.user_id
        try:
            room = await alice.create_room("Secret", invite=[bot_id], initial_state=[{
                "type": "m.room.encryption", "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }])
            await _bot_in_room(bot, room)
            await asyncio.sleep(0.3)
            for _ in range(2):
                resp = await alice.client.room_send(room, "m.room.encrypted", {
                    "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEn...",
                    "sender_key": "x", "device_id": "D", "session_id": "s",
                })
                assert hasattr(resp, "event_id"), resp
            told = await alice.wait_for(room, lambda e: body(e) == ENCRYPTED_NOTICE)
            assert told["content"]["msgtype"] == "m.notice"
            await alice.say(room, "!help")  # a later message: the notice is not repeated
            await asyncio.sleep(1.5)
            assert sum(body(e) == ENCRYPTED_NOTICE for e in alice.events[room]) == 1
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())


_ = Human  # re-exported for type checkers of this module
