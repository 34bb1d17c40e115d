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
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomSendError,
    RoomSendResponse,
    ShareGroupSessionResponse,
    SyncError,
)
from nio.api import Api

from bot.matrix.client import LoginRefused, MatrixBot
from bot.matrix.store import key_upkeep
from tests.matrix.conftest import Event, Human, World, body, reply_to, wait_until
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
        await key_upkeep(self.client)

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


class Keyless:
    """An encrypted message whose room key is held back: a new session, its key wrapped for
    the room's devices as a client would, but the to-device messages that carry it kept
    (``deliver`` sends them later; never calling it is a key that never comes)."""

    def __init__(self, alice: SecretHuman, room_id: str) -> None:
        self.alice, self.room_id = alice, room_id
        self.held: list[tuple[set[tuple[str, str]], dict[str, Any]]] = []

    async def send(self, line: str) -> str:
        client = self.alice.client
        olm = client.olm
        assert olm is not None
        olm.create_outbound_group_session(self.room_id)
        users = list(client.rooms[self.room_id].users)
        for sharing_with, to_device in olm.share_group_session_parallel(
                self.room_id, users, ignore_unverified_devices=True):
            self.held.append((sharing_with, to_device))
        olm.outbound_group_sessions[self.room_id].shared = True
        content = olm.group_encrypt(self.room_id, {
            "type": "m.room.message", "content": {"msgtype": "m.text", "body": line}})
        method, path, data = Api.room_send(client.access_token, self.room_id,
                                           "m.room.encrypted", content, uuid.uuid4())
        resp = await client._send(RoomSendResponse, method, path, data, (self.room_id,))
        assert isinstance(resp, RoomSendResponse), resp
        # her next message starts a session of its own, shared as usual
        del olm.outbound_group_sessions[self.room_id]
        return str(resp.event_id)

    async def deliver(self) -> None:
        client = self.alice.client
        for sharing_with, to_device in self.held:
            method, path, data = Api.to_device(client.access_token, "m.room.encrypted",
                                               to_device, uuid.uuid4())
            resp = await client._send(ShareGroupSessionResponse, method, path, data,
                                      response_data=(self.room_id, sharing_with))
            assert isinstance(resp, ShareGroupSessionResponse), resp


def replies_to(alice: SecretHuman, room: str, event_id: str) -> list[Event]:
    return [e for e in alice.events[room] if reply_to(e) == event_id]


def test_an_event_whose_key_comes_late_is_handled_once(world: World, tmp_path: Path) -> None:
    """The key of a command comes after the command, and the bot restarts in between: the
    event waits in the store, and is run once when the key comes."""
    store = str(tmp_path / "bot.matrix-store")

    async def scenario() -> None:
        alice = SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
        bot = world.bot(store_path=store)
        await bot.start()
        await alice.start()
        try:
            room = await encrypted_room(alice, bot)
            await ask(alice, room, "!tg create repl Replication")
            keyless = Keyless(alice, room)
            late = await keyless.send("!tg show repl")
            await wait_until(lambda: any(e.get("event_id") == late
                                         for e, _ in bot.pending.get(room, [])), timeout=40)
            assert not replies_to(alice, room, late)
            await bot.stop()
            # the key goes out while the bot is down; the restarted bot finds the event kept
            await keyless.deliver()
            again = world.bot(store_path=store)
            await again.start()
            try:
                r = await alice.wait_reply(room, late, timeout=40)
                assert "Replication" in body(r), body(r)
                after = await ask(alice, room, "!tg list")
                assert "repl" in body(after)
                assert len(replies_to(alice, room, late)) == 1
                assert not again.pending
            finally:
                await again.stop()
        finally:
            await alice.stop()

    asyncio.run(scenario())


def test_an_event_whose_key_never_comes_is_answered_once_in_a_direct_chat(
        world: World, tmp_path: Path) -> None:
    async def scenario() -> None:
        alice = SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
        bot = world.bot(store_path=str(tmp_path / "bot.matrix-store"), key_wait_s=0.5)
        await bot.start()
        await alice.start()
        try:
            room = await encrypted_room(alice, bot)
            lost = await Keyless(alice, room).send("!tg create lost Never Run")
            also = await Keyless(alice, room).send("!tg create gone Never Run")
            await wait_until(lambda: bool(alice.invites), timeout=40)
            dm = next(iter(alice.invites))
            await alice.join(dm)
            told = await alice.wait_for(dm, lambda e: "could not read your message" in body(e),
                                        timeout=40)
            assert bot.client.device_id in body(told)
            r = await ask(alice, room, "!tg list")
            assert "lost" not in body(r)  # nothing was run
            assert "gone" not in body(r)
            assert not replies_to(alice, room, lost) and not replies_to(alice, room, also)
            await wait_until(lambda: not bot.pending, timeout=40)
            # two events lost, one message: she is told once a day for the room
            assert sum("could not read your message" in body(e)
                       for e in alice.events[dm]) == 1
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())


def test_a_new_member_reads_the_bots_next_post_and_a_new_device_is_said(
        world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.matrix.client")

    async def scenario() -> None:
        alice = SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
        bob = SecretHuman(world.server, world.people["bob"], tmp_path / "bob")
        bot = world.bot(store_path=str(tmp_path / "bot.matrix-store"))
        await bot.start()
        await alice.start()
        await bob.start()
        phone: AsyncClient | None = None
        try:
            room = await encrypted_room(alice, bot)
            await ask(alice, room, "!tg create repl Replication")
            invited = await alice.client.room_invite(room, bob.user_id)
            assert not hasattr(invited, "status_code") or invited.status_code is None
            await wait_until(lambda: room in bob.invites, timeout=40)
            await bob.join(room)
            await wait_until(lambda: bob.user_id in bot.client.rooms[room].users, timeout=40)
            r = await ask(alice, room, "!tg show repl")
            seen = await bob.wait_for(room, lambda e: e.get("event_id") == r["event_id"],
                                      timeout=40)
            assert "Replication" in body(seen)  # bob decrypted the bot's post
            # alice signs in on a second device: the bot says so in its log (trust on first use)
            phone = AsyncClient(world.server.url, alice.user_id,
                                store_path=str(tmp_path / "phone"),
                                config=AsyncClientConfig(encryption_enabled=True,
                                                         store_sync_tokens=False))
            (tmp_path / "phone").mkdir()
            login = await phone.login(world.people["alice"].password, device_name="phone")
            assert not hasattr(login, "status_code") or login.status_code is None, login
            await phone.keys_upload()
            await wait_until(lambda: any(
                f"the devices of {alice.user_id} changed" in rec.getMessage()
                for rec in caplog.records), timeout=40)
        finally:
            if phone is not None:
                await phone.close()
            await bot.stop()
            await alice.stop()
            await bob.stop()

    asyncio.run(scenario())


def test_verified_trust_gives_room_keys_only_to_devices_the_operator_verified(
        world: World, tmp_path: Path) -> None:
    """MATRIX_TRUST=verified: her device, unverified, gets no room key (the bot still reads
    her); the operator compares the fingerprint her app shows and verifies it with the bot
    stopped (``taskbot matrix verify``); the bot's next answer is hers to read."""
    from bot.matrix.trust import open_offline
    from storage.db import make_session_factory

    store = str(tmp_path / "bot.matrix-store")

    async def scenario() -> None:
        alice = SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
        bot = world.bot(store_path=store, trust="verified")
        await bot.start()
        await alice.start()
        bot_id = bot.client.user_id
        try:
            room = await alice.create_room("Replication", invite=[bot_id],
                                           initial_state=[ENCRYPTION])
            # her messages are for the room's members: wait until the bot is one
            await wait_until(lambda: any(
                e.get("type") == "m.room.member" and e.get("state_key") == bot_id
                and (e.get("content") or {}).get("membership") == "join"
                for e in alice.events[room]), timeout=40)
            await alice.say(room, "!tg create repl Replication")
            # the bot read her command and answered, but not for her device (nio shows her
            # a message it could not decrypt as its ciphertext)
            from storage.models import Group

            def created() -> bool:
                with make_session_factory(world.engine)() as s:
                    return s.query(Group).filter_by(slug="repl").count() == 1

            await wait_until(created, timeout=40)
            await wait_until(lambda: any(
                e.get("sender") == bot_id and is_ciphertext(e) for e in alice.events[room]),
                timeout=40)
            assert not any(e.get("sender") == bot_id and e.get("type") == "m.room.message"
                           for e in alice.events[room])
            await bot.stop()

            offline = open_offline(make_session_factory(world.engine), world.server.url,
                                   bot_id, store)
            try:
                olm = alice.client.olm
                assert olm is not None
                key = olm.account.identity_keys["ed25519"]
                shown = " ".join(key[i:i + 4] for i in range(0, len(key), 4))
                assert (alice.user_id, alice.client.device_id, shown, "withheld") in (
                    offline.devices())
                with pytest.raises(ValueError, match="not the one given"):
                    offline.verify(alice.user_id, alice.client.device_id, "AAAA BBBB")
                with pytest.raises(ValueError, match="no device NOPE"):
                    offline.verify(alice.user_id, "NOPE", shown)
                assert offline.verify(alice.user_id, alice.client.device_id, shown).startswith(
                    "verified")
            finally:
                await offline.close()

            again = world.bot(store_path=store, trust="verified")
            await again.start()
            try:
                r = await ask(alice, room, "!tg show repl")
                assert "Replication" in body(r), r
            finally:
                await again.stop()
        finally:
            await alice.stop()

    asyncio.run(scenario())


def test_a_meeting_in_an_encrypted_room(world: World, tmp_path: Path) -> None:
    """Meeting mode where every line is encrypted: captures read and acknowledged (the
    reaction carries no words), the decision posted to another encrypted room, the
    minutes answered encrypted."""

    async def scenario() -> None:
        alice = SecretHuman(world.server, world.people["alice"], tmp_path / "alice")
        bot = world.bot(store_path=str(tmp_path / "bot.matrix-store"))
        await bot.start()
        await alice.start()
        bot_id = bot.client.user_id
        try:
            boc = await encrypted_room(alice, bot)
            repl = await encrypted_room(alice, bot)
            for line in ("!tg create boc Board of Coordinators", "!tg create repl Replication",
                         "!tg link boc", f"!tg add boc {alice.user_id} as chair"):
                await ask(alice, boc, line)
            await ask(alice, repl, "!tg link repl")
            r = await ask(alice, boc, "!meeting start")
            assert "started" in body(r), body(r)
            topic = await alice.say(boc, "#topic The manifesto")
            await alice.wait_for(boc, lambda e: e.get("type") == "m.reaction" and e.get(
                "sender") == bot_id and (e["content"].get("m.relates_to") or {}).get(
                "event_id") == topic, timeout=40)
            r = await ask(alice, boc, "#decision repl Publish the manifesto in March")
            assert "Decision D-1 recorded for repl" in body(r), body(r)
            post = await alice.wait_for(repl, lambda e: e.get("sender") == bot_id
                                        and "Publish the manifesto in March" in body(e),
                                        timeout=40)
            assert is_ciphertext(await alice.raw(repl, str(post["event_id"])))
            r = await ask(alice, boc, "!meeting end")
            assert "The manifesto" in body(r) and "Publish the manifesto" in body(r), body(r)
            assert is_ciphertext(await alice.raw(boc, str(r["event_id"])))
        finally:
            await bot.stop()
            await alice.stop()

    asyncio.run(scenario())

