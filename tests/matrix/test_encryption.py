"""Encrypted rooms against the real Synapse: a person whose client encrypts (matrix-nio with
vodozemac) creates an encrypted room, invites the bot, links it and adds an action; the
bot reads the command and answers encrypted. After a restart the bot is the same device and
reads the next command; a second process on the same store refuses to start Matrix; a lost
store is detected at start (a new device, said in the log), never silently."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import AsyncClient, AsyncClientConfig, RoomSendError, SyncError

from bot.matrix.client import LoginRefused, MatrixBot
from tests.matrix.conftest import Event, Human, World, body, wait_until
from tests.support.synapse import Account, Synapse

ENCRYPTION = {"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


class SecretHuman(Human):
    """A person whose client encrypts: its own device keys in a store of its own, key upkeep
    after each sync, sends encrypted for every device of the room (as Element does once
    the person accepts them)."""

    def __init__(self, server: Synapse, account: Account, store: Path) -> None:
        super().__init__(server, account)
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(server.url, account.user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=True,
                                                           store_sync_tokens=False))
        self.client.restore_login(account.user_id, account.device_id, account.access_token)

    async def upkeep(self) -> None:
        c = self.client
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())
        await c.send_to_device_messages()

    async def start(self) -> None:
        await self.upkeep()
        first = await self.client.sync(timeout=0, full_state=True)
        assert not isinstance(first, SyncError), first
        await self.upkeep()
        self.task = asyncio.create_task(self._loop(first.next_batch))

    async def _loop(self, token: str) -> None:
        while True:
            resp = await self.client.sync(timeout=500, since=token)
            if isinstance(resp, SyncError):
                await asyncio.sleep(0.2)
                continue
            token = resp.next_batch
            await self.upkeep()
            async with self.changed:
                for room_id, info in resp.rooms.join.items():
                    # decrypted by nio: the plaintext event, with its id and sender
                    self.events[room_id].extend(e.source for e in info.timeline.events)
                self.invites.update(resp.rooms.invite)
                self.changed.notify_all()

    async def say(self, room_id: str, body: str, html: str | None = None,
                  msgtype: str = "m.text") -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert not isinstance(resp, RoomSendError), resp
        return str(resp.event_id)

    async def raw(self, room_id: str, event_id: str) -> dict[str, Any]:
        """The event as the server holds it (ciphertext, for an encrypted room), read
        over plain HTTP: nio would decrypt it."""
        url = (f"{self.client.homeserver}/_matrix/client/v3/rooms/{quote(room_id)}/event/"
               f"{quote(event_id)}")
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {self.client.access_token}"})

        def get() -> dict[str, Any]:
            with urllib.request.urlopen(request, timeout=10) as resp:
                found = json.loads(resp.read())
            assert isinstance(found, dict)
            return found

        return await asyncio.to_thread(get)


async def encrypted_room(alice: SecretHuman, bot: MatrixBot) -> str:
    bot_id = bot.client.user_id
    room = await alice.create_room("Replication", invite=[bot_id], initial_state=[ENCRYPTION])
    # the bot's welcome, readable by her: the bot joined, encrypts, and shared its key
    await alice.wait_for(room, lambda e: e.get("sender") == bot_id and "tg link" in body(e),
                         timeout=40)
    return room


async def ask(who: SecretHuman, room: str, line: str) -> Event:
    """Say a line; the bot's reply to it (key sharing takes a sync or two more)."""
    return await who.wait_reply(room, await who.say(room, line), timeout=40)


def is_ciphertext(event: Event) -> bool:
    return event.get("type") == "m.room.encrypted" and "ciphertext" in event.get("content", {})


def test_an_encrypted_room_across_a_restart(world: World, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    store = tmp_path / "bot.matrix-store"

    async def scenario() -> None:
        alice = SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
        bot = world.bot(store_path=str(store))
        await bot.start()
        await alice.start()
        try:
            room = await encrypted_room(alice, bot)
            device = bot.client.device_id
            r = await ask(alice, room, "!tg create repl Replication")
            assert "repl" in body(r), body(r)
            r = await ask(alice, room, "!tg link repl")
            assert "linked to Replication" in body(r)
            r = await ask(alice, room, "!action add Draft the replication guide")
            assert "A-1" in body(r), body(r)
            # what the server holds of the bot's answer is ciphertext
            assert is_ciphertext(await alice.raw(room, str(r["event_id"])))
            await bot.stop()

            # a restart: the same device, the same keys; the next command is read
            again = world.bot(store_path=str(store))
            await again.start()
            try:
                assert again.client.device_id == device
                # a second process on the same store does not start Matrix
                second = world.bot(store_path=str(store))
                with pytest.raises(LoginRefused, match="one process may own the device"):
                    await second.start()
                await second.client.close()
                r = await ask(alice, room, "!action list all")
                assert "Draft the replication guide" in body(r), body(r)
                assert is_ciphertext(await alice.raw(room, str(r["event_id"])))
            finally:
                await again.stop()

            # the store lost: detected at start, said in the log; a new device takes over
            shutil.rmtree(store)
            caplog.set_level(logging.ERROR, logger="bot.matrix.client")
            fresh = world.bot(store_path=str(store))
            await fresh.start()
            try:
                assert fresh.client.device_id != device
                assert any("end-to-end store of device" in rec.getMessage()
                           for rec in caplog.records)
                await wait_until(lambda: room in fresh.client.rooms, timeout=40)
                r = await ask(alice, room, "!action list all")
                assert "Draft the replication guide" in body(r), body(r)
            finally:
                await fresh.stop()
        finally:
            await alice.stop()

    asyncio.run(scenario())
