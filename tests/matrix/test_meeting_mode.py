"""Meeting mode through a real Synapse: a BoC meeting in its room, captures acknowledged with
reactions, a decision fanned out to two TG rooms, minutes posted at the end."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.matrix.client import ACK_REACTION, MatrixBot
from tests.matrix.conftest import Human, World, body, pill, wait_until


async def _bot_in_room(bot: MatrixBot, room_id: str) -> None:
    await wait_until(lambda: room_id in bot.client.rooms)


async def _reaction(h: Human, room: str, event_id: str) -> dict[str, Any]:
    return await h.wait_for(room, lambda e: e.get("type") == "m.reaction" and (
        e["content"].get("m.relates_to") or {}).get("event_id") == event_id)


def test_boc_meeting_in_matrix(world: World) -> None:
    async def scenario() -> None:
        bot = world.bot()
        alice, bob, carol = world.human("alice"), world.human("bob"), world.human("carol")
        await bot.start()
        for h in (alice, bob, carol):
            await h.start()
        bot_id = bot.client.user_id
        try:
            boc = await alice.create_room("BoC", invite=[bot_id, bob.user_id, carol.user_id])
            repl = await alice.create_room("Replication", invite=[bot_id])
            comms = await alice.create_room("Comms", invite=[bot_id])
            await bob.join(boc)
            await carol.join(boc)
            for room in (boc, repl, comms):
                await _bot_in_room(bot, room)
            await alice.ask(boc, "!tg create boc Board of Coordinators")
            await alice.ask(boc, "!tg create repl Replication")
            await alice.ask(boc, "!tg create comms Communication")
            await alice.ask(boc, "!tg link boc")
            await alice.ask(repl, "!tg link repl")
            await alice.ask(comms, "!tg link comms")
            r = await alice.ask(boc, f"!tg add boc {bob.user_id} project Harbour as chair")
            assert "error" not in body(r).lower(), body(r)
            await alice.ask(boc, f"!tg add boc {carol.user_id} project Riverside")

            # an ordinary message before the meeting: no answer, nothing captured
            quiet = await bob.say(boc, "#info before the meeting")
            r = await bob.ask(boc, "!meeting start")
            assert "Meeting of Board of Coordinators started" in body(r), body(r)
            assert not [e for e in bob.events[boc] if e.get("type") == "m.reaction"
                        and e["content"]["m.relates_to"]["event_id"] == quiet]

            ev = await bob.say(boc, "#topic Manifesto")
            react = await _reaction(bob, boc, ev)
            assert react["sender"] == bot_id
            assert react["content"]["m.relates_to"]["key"] == ACK_REACTION
            await carol.say(boc, "I think we should publish it")  # attendance only
            ev = await bob.say(
                boc, "#action Carol Draft the manifesto due 2099-01-15",
                html=f"#action {pill(carol.user_id, 'Carol')} Draft the manifesto "
                     "due 2099-01-15",
            )
            await _reaction(bob, boc, ev)

            # a decision: recorded, answered in the room, posted to both TG rooms
            r = await bob.ask(boc, "#decision repl, comms Publish the manifesto in March")
            assert "Decision D-1 recorded for repl, comms" in body(r), body(r)
            for room in (repl, comms):
                post = await alice.wait_for(room, lambda e: e.get("sender") == bot_id
                                            and "Publish the manifesto in March" in body(e))
                assert "decision ack D-1" in body(post)

            # a refused capture is answered, not reacted to
            r = await carol.ask(boc, "#agreed Carol is not chairing")
            assert "chair of this meeting" in body(r), body(r)

            r = await bob.ask(boc, "!meeting end")
            minutes = body(r)
            assert "Minutes: Board of Coordinators meeting" in minutes, minutes
            assert "ACTION A-1: Draft the manifesto" in minutes
            assert "Decision D-1 for repl, comms: Publish the manifesto in March" in minutes
            attendance = minutes.split("Attendance")[1]
            assert "(Harbour)" in attendance and "(Riverside)" in attendance
            r = await carol.ask(boc, "!action list mine")
            assert "Draft the manifesto" in body(r), body(r)

            # after the end, tagged lines are plain chat again
            n = len(carol.messages_from(boc, bot_id))
            await carol.say(boc, "#info after the end")
            await carol.ask(boc, "!meeting minutes")
            assert len(carol.messages_from(boc, bot_id)) >= n + 1
            assert not [e for e in carol.messages_from(boc, bot_id)
                        if "after the end" in body(e)]
        finally:
            await bot.stop()
            for h in (alice, bob, carol):
                await h.stop()

    asyncio.run(scenario())
