"""Taskbot on Matrix: a matrix-nio AsyncClient in front of the shared core.

One sync loop reads the homeserver; each command runs in a worker thread (the core is
synchronous SQLAlchemy) and its reply goes back as an ``m.notice`` reply to the command's
event. Exactly once: an event acts only if its id was not handled before (ids persist), and
the sync token is stored only after a batch's events were handled, so a crash replays a
batch at most and the replay is filtered by those ids. With no stored token (first start),
messages older than the start are history, not commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    JoinError,
    LoginError,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomCreateError,
    RoomEncryptionEvent,
    RoomGetEventResponse,
    RoomGetStateResponse,
    RoomLeaveResponse,
    RoomMemberEvent,
    RoomMessagesError,
    RoomPreset,
    RoomSendError,
    SyncError,
    SyncResponse,
    UploadError,
    WhoamiError,
)
from nio.api import Api
from nio.exceptions import EncryptionError, OlmUnverifiedDeviceError
from sqlalchemy.orm import Session, sessionmaker

from bot.bridge import wait_on
from bot.config import ConfigError, Settings
from bot.container import Container
from bot.conversation import Answer, Conversation
from bot.dispatch import Dispatcher
from bot.matrix.render import (
    PLATFORM,
    REPLY_LINES,
    TOPIC_KEY,
    TooLong,
    command_text,
    file_content,
    render,
    reply_lines,
)
from bot.matrix.state import MatrixState
from bot.matrix.store import DeviceStore, key_upkeep
from bot.matrix.trust import withhold_unverified
from handlers.core.i18n import _, said
from handlers.core.lookups import adopt_names, known_member
from handlers.core.messages import TOPIC, Block, ChannelRef, File, Reply, Text
from handlers.core.router import Command, Incoming, Router
from handlers.delivery import SendFailed

log = logging.getLogger(__name__)

SYNC_TIMELINE_LIMIT = 100
BACKFILL_MAX = 1000  # events fetched per room after a long gap ("limited" timeline)
SEND_ATTEMPTS = 10
SEND_WAIT_MAX = 90.0  # seconds a send may wait on M_LIMIT_EXCEEDED before giving up
BACKOFF_MAX = 60.0
PENDING_MAX = 200  # encrypted events a room may have waiting for their keys
FETCH_TIMEOUT = 10.0  # seconds to fetch the event a reply answers, at most
MATRIX_ID = re.compile(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.:\[\]-]+", re.IGNORECASE)
LINK_COMMANDS = {("tg", "link"), ("tg", "unlink")}
ACK_REACTION = "✅"  # the key of the reaction that acknowledges a meeting capture

DECLINE_REASON = (
    "Taskbot joins rooms on invitation by an admin, the secretariat or a member of a "
    "task group. Ask one of them to invite me."
)
WELCOME = (
    "Hello! I am Taskbot. A chair, the secretariat or an admin can link this room to a task "
    "group with {p}tg link <group>; {p}help lists the commands."
)
ENCRYPTED_NOTICE = (
    "I cannot read encrypted messages, so I do not see commands typed in this room. "
    "Use an unencrypted room for Taskbot, or write to me in a direct message without "
    "encryption."
)


class LoginRefused(RuntimeError):
    """The homeserver refused the credentials: retrying will not help."""


def txn_id(key: str, part: str = "") -> str:
    """A transaction id derived from a delivery key: the same key can only post once."""
    return "tb-" + hashlib.sha256(f"{key}\x00{part}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class MatrixOptions:
    homeserver: str
    user_id: str
    password: str | None
    access_token: str | None
    prefix: str = "!"
    admins: frozenset[str] = frozenset()
    sync_timeout_ms: int = 30_000
    device_name: str = "Taskbot"
    # the device's end-to-end store (a directory): None reads no encrypted room (tests of
    # plain rooms); ``taskbot run`` always has one (MATRIX_STORE_PATH)
    store_path: str | None = None
    trust: str = "tofu"  # tofu: encrypt for every device of a room's members, as first seen
    # how long an encrypted event waits for its key before its sender is told it could
    # not be read
    key_wait_s: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MatrixOptions:
        assert settings.matrix_homeserver and settings.matrix_user_id
        values: dict[str, Any] = {
            "homeserver": settings.matrix_homeserver,
            "user_id": settings.matrix_user_id,
            "password": settings.matrix_password,
            "access_token": settings.matrix_access_token,
            "prefix": settings.matrix_command_prefix,
            "admins": settings.admins,
            "store_path": settings.matrix_store_path,
            "trust": settings.matrix_trust,
        }
        values.update(overrides)
        return cls(**values)


class MatrixBot:
    """The adapter: ``await start()`` logs in and syncs in the background; ``stop()`` ends it."""

    def __init__(
        self,
        options: MatrixOptions,
        sessions: sessionmaker[Session],
        router: Router,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.options = options
        self.sessions = sessions
        self.router = router
        self.dispatcher = dispatcher or Dispatcher(router.sessions, router.settings,
                                                   router.registry.kinds)
        self.state = MatrixState(sessions, options.user_id)
        self.conversation = Conversation(router, self.dispatcher, self.state.events)
        self.encrypted = options.store_path is not None
        self.store = (DeviceStore(options.store_path, options.user_id)
                      if options.store_path is not None else None)
        self.client = AsyncClient(
            options.homeserver,
            options.user_id,
            store_path=options.store_path or "",
            config=AsyncClientConfig(
                max_limit_exceeded=0,  # rate limits are retried here, with a bound
                max_timeouts=3,
                encryption_enabled=self.encrypted,
                store_sync_tokens=False,
                request_timeout=options.sync_timeout_ms / 1000 + 30,
            ),
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.token: str | None = None
        self.start_ms = 0
        self.first_start = False
        self.direct_rooms: set[str] = set()
        # encrypted events waiting for their keys, per room in the order they were sent:
        # (event, when first seen)
        self.pending: dict[str, list[tuple[dict[str, Any], float]]] = {}
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._room_locks: dict[str, asyncio.Lock] = {}
        # room -> creators, who outrank every power level from room version 12 on
        self.creators: dict[str, set[str]] = {}

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (or reuse the stored login), then sync in a background task."""
        self.loop = asyncio.get_running_loop()
        self.start_ms = int(time.time() * 1000)
        if self.store is not None:
            self.store.own()  # before anything: a second process refuses here
        await asyncio.to_thread(self.state.load)
        self.pending = {}  # a retried start reads them afresh
        for room_id, event, since in await asyncio.to_thread(self.state.pending):
            self.pending.setdefault(room_id, []).append((event, since))
        await self._login()
        await self._keys()
        self.token = await asyncio.to_thread(self.state.sync_token)
        # No token: a first start. Everything older than now is history, for the whole run
        # (not only the first batch: Synapse may answer a first sync from its cache, and the
        # next batch then still holds older events).
        self.first_start = self.token is None
        from bot.matrix.sender import MatrixSender

        self.dispatcher.register(PLATFORM, MatrixSender(self))
        self._task = asyncio.create_task(self._sync_forever(), name="matrix-sync")

    async def wait(self) -> None:
        """Until the sync loop ends (``stop()``)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.client.close()
        if self.store is not None:
            self.store.release()

    async def _login(self) -> None:
        opts = self.options
        if opts.access_token:
            if not await self._use_token(opts.access_token, None):
                raise LoginRefused("MATRIX_ACCESS_TOKEN was refused by the homeserver.")
            record = await asyncio.to_thread(self.state.store_record)
            if self.store is not None and record is not None and not self.store.holds(
                    self.client.device_id, record):
                raise LoginRefused(
                    f"the end-to-end store of device {self.client.device_id} is not in "
                    f"{self.store.path} (lost, or another machine's), and MATRIX_ACCESS_TOKEN "
                    "fixes the device: restore the store there, or give a token of a new "
                    "device.")
            await self._note_store()
            return
        stored = await asyncio.to_thread(self.state.login)
        if stored is not None and self.store is not None:
            record = await asyncio.to_thread(self.state.store_record)
            if not self.store.holds(stored[1], record):
                log.error("Matrix: the end-to-end store of device %s is not in %s (lost, or "
                          "another machine's): the messages encrypted for that device cannot "
                          "be read here. Logging in as a new device; set MATRIX_STORE_PATH to "
                          "the old store to keep the old one.", stored[1],
                          self.store.path)
                await asyncio.to_thread(self.state.forget_login)
                stored = None
        if stored is not None:
            if await self._use_token(*stored):
                await self._note_store()
                return
            log.warning("the stored Matrix login is no longer valid; logging in again")
            # a new device: a refused token may mean the device was deleted (a logout),
            # and its keys with it on the server, so reusing its id could leave it unreadable
            await asyncio.to_thread(self.state.forget_login)
        if not opts.password:
            raise LoginRefused("MATRIX_PASSWORD is needed to log in (no valid token).")
        resp = await self.client.login(opts.password, device_name=opts.device_name)
        if isinstance(resp, LoginError):
            if resp.status_code in ("M_FORBIDDEN", "M_USER_DEACTIVATED", "M_INVALID_USERNAME"):
                raise LoginRefused(f"Matrix login of {opts.user_id} refused: {resp.message}")
            raise RuntimeError(f"Matrix login failed: {resp.status_code} {resp.message}")
        await asyncio.to_thread(self.state.save_login, resp.access_token, resp.device_id)
        await self._note_store()
        log.info("logged in to Matrix as %s (device %s)", resp.user_id, resp.device_id)

    async def _use_token(self, token: str, device_id: str | None) -> bool:
        self.client.access_token = token
        who = await self.client.whoami()
        if isinstance(who, WhoamiError):
            self.client.access_token = ""
            if who.status_code in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN", "M_MISSING_TOKEN"):
                return False
            raise RuntimeError(f"Matrix whoami failed: {who.status_code} {who.message}")
        device = who.device_id or device_id or ""
        self.client.restore_login(who.user_id, device, token)
        if device_id is None:
            await asyncio.to_thread(self.state.save_login, token, device)
        return True

    async def _note_store(self) -> None:
        """Record which store holds the logged-in device's keys (first use of a store)."""
        if self.store is not None:
            record = self.store.mark(self.client.device_id)
            await asyncio.to_thread(self.state.save_store_record, record)

    async def _keys(self) -> None:
        """The device's key upkeep, after login and each sync: its keys uploaded, the
        devices of the rooms' members queried, sessions claimed, room keys sent."""
        if self.encrypted:
            await key_upkeep(self.client)

    def _note_device_changes(self, resp: SyncResponse) -> None:
        """Trust on first use: a member whose devices were known and changed (a new phone,
        or someone else's device) is said in the log with the rooms shared, for their
        chairs to check; the new devices are encrypted for, as first seen."""
        if not self.encrypted or self.client.olm is None:
            return
        known = self.client.device_store.users
        for user in getattr(resp.device_list, "changed", None) or []:
            if user == self.client.user_id or user not in known:
                continue
            rooms = sorted(self.room_name(r) for r, room in self.client.rooms.items()
                           if user in room.users and room.encrypted)
            if rooms:
                log.warning("Matrix: the devices of %s changed (rooms: %s); trusted as first "
                            "seen (MATRIX_TRUST=tofu): their chairs may want to check",
                            user, ", ".join(rooms))

    # --- sync --------------------------------------------------------------------------------

    async def _sync_forever(self) -> None:
        backoff = 1.0
        full_state = True  # the first sync of a process loads every room's state into nio
        sync_filter = {
            "room": {"timeline": {"limit": SYNC_TIMELINE_LIMIT}},
            "presence": {"types": []},
        }
        while not self._stopping:
            try:
                resp = await self.client.sync(
                    timeout=self.options.sync_timeout_ms if self.token else 0,
                    since=self.token,
                    full_state=full_state,
                    sync_filter=sync_filter,
                    set_presence="online",
                )
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("Matrix sync failed (%s); retrying in %.0fs", err, backoff)
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            if isinstance(resp, SyncError):
                delay = (resp.retry_after_ms or 0) / 1000 or backoff
                log.warning("Matrix sync error %s %s; retrying in %.0fs",
                            resp.status_code, resp.message, delay)
                if resp.status_code == "M_UNKNOWN_TOKEN":
                    await asyncio.to_thread(self.state.forget_login)
                    await self._login()
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = 1.0
            full_state = False
            try:
                self._note_device_changes(resp)
                await self._keys()
                await self._retry_pending()  # keys this batch brought, before what is new
                await self.handle_sync(resp)
            except asyncio.CancelledError:
                raise
            except Exception:
                # the token is not stored: the batch comes again, and handled ids are skipped
                log.exception("handling a Matrix sync batch failed; it will be retried")
                await asyncio.sleep(backoff)
                continue
            self.token = resp.next_batch
            try:
                await asyncio.to_thread(self.state.save_sync_token, resp.next_batch)
            except Exception:
                # ("database is locked"): the next batch stores its token; until then a
                # restart replays this one, and what it ran is marked seen
                log.exception("could not store the Matrix sync token")
            self.synced.set()

    async def handle_sync(self, resp: SyncResponse) -> None:
        """Handle one batch: invites first, then each joined room's timeline in order."""
        since = self.token
        for room_id, info in resp.rooms.invite.items():
            await self.on_invite(room_id, info.invite_state)
        jobs = []
        for room_id, info in resp.rooms.join.items():
            events = [e.source for e in info.timeline.events]
            for source in [e.source for e in info.state] + events:
                if source.get("type") == "m.room.create":
                    self.note_creators(room_id, source)
            if info.timeline.limited and since is not None and info.timeline.prev_batch:
                events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
            jobs.append(self.handle_room_events(room_id, events))
        # rooms run side by side; within a room, commands are handled in order
        await asyncio.gather(*jobs)

    async def _backfill(self, room_id: str, start: str, until: str) -> list[dict[str, Any]]:
        """Events a limited timeline left out since the last sync (a long outage)."""
        older: list[dict[str, Any]] = []
        token: str | None = start
        while token and len(older) < BACKFILL_MAX:
            resp = await self.client.room_messages(
                room_id, start=token, end=until, direction=MessageDirection.back, limit=100
            )
            if isinstance(resp, RoomMessagesError) or not resp.chunk:
                break
            older.extend(e.source for e in resp.chunk)
            if resp.end == token:
                break
            token = resp.end
        older.reverse()
        return older

    async def handle_room_events(self, room_id: str, events: list[dict[str, Any]]) -> None:
        lock = self._room_locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            for source in events:
                try:
                    await self.handle_event(room_id, source)
                except asyncio.CancelledError:
                    raise
                except SendFailed as err:
                    log.error("could not answer %s in %s: %s",
                              source.get("event_id"), room_id, err)

    async def handle_event(self, room_id: str, source: dict[str, Any]) -> None:
        """One timeline event; acts at most once per event id."""
        event_id = source.get("event_id")
        sender = source.get("sender")
        if not isinstance(event_id, str) or not isinstance(sender, str):
            return
        if sender == self.client.user_id or self.state.is_seen(event_id):
            return
        if self.first_start and int(source.get("origin_server_ts", 0)) < self.start_ms:
            return  # history from before the first start: not a command for us
        kind = source.get("type")
        if kind == "m.room.encrypted":
            if self.encrypted:
                await self._undecrypted(room_id, source)
            else:
                await self._on_encrypted(room_id, event_id)
            return
        if kind != "m.room.message":
            return
        content = source.get("content") or {}
        if content.get("msgtype") != "m.text" or not isinstance(content.get("body"), str):
            return
        if (content.get("m.relates_to") or {}).get("rel_type") == "m.replace":
            return  # an edit: the original was the command
        formatted = content.get("formatted_body")
        html = formatted if isinstance(formatted, str) else None
        prefix = self.options.prefix
        direct = self.is_direct(room_id)
        try:
            line = command_text(content["body"], html)
        except TooLong as err:
            await self._refuse_unreadable(room_id, event_id, content["body"], direct, err)
            return
        about = await self.reply_topic(room_id, content) if direct else None
        if about is not None:
            await self.run_reply(room_id, event_id, sender,
                                 reply_lines(content["body"], html), about)
            return
        if line.startswith(prefix):
            line = line[len(prefix):].strip()
        elif not direct:
            await self.run_capture(room_id, event_id, sender, line)
            return
        if not line:
            return
        await self.run_command(room_id, event_id, sender, line, direct)

    async def _refuse_unreadable(self, room_id: str, event_id: str, body: str, direct: bool,
                                 err: TooLong) -> None:
        """A body too long to read: marked seen first (so neither a retry nor a restart
        meets it again), logged once, and answered in one line if it looked like a command."""
        log.warning("event %s in %s not read: its body is too long (%s)", event_id, room_id, err)
        await asyncio.to_thread(self.state.mark_seen, event_id)
        if direct or body.lstrip().startswith(self.options.prefix):
            lang = self.conversation.router.settings.language
            await self.send_blocks(room_id, [Text((said(_(
                "That message is too long to be a command ({problem}).", problem=str(err)),
                lang),))], f"reply:{event_id}", reply_to=event_id)

    # --- commands ----------------------------------------------------------------------------

    def is_direct(self, room_id: str) -> bool:
        """A direct chat: the invite said so, or the bot opened it for a direct message."""
        return room_id in self.direct_rooms or room_id in self.state.direct

    def display_name(self, room_id: str, user_id: str) -> str | None:
        room = self.client.rooms.get(room_id)
        if room is None:
            return None
        user = room.users.get(user_id)
        name = getattr(user, "display_name", None) if user is not None else None
        return name if isinstance(name, str) and name else None

    async def run_command(self, room_id: str, event_id: str, sender: str, line: str,
                          direct: bool) -> None:
        # read on the loop, where nio keeps the room state; the check itself runs on the
        # command the router parsed (any spelling of tg link), before the command runs
        may_link = direct or self.may_link(room_id, sender)
        level = self.link_level(room_id)
        prefix = self.options.prefix
        incoming = Incoming(
            platform=PLATFORM, user_id=sender, text=line,
            channel_id=None if direct else room_id,
            user_name=self.display_name(room_id, sender), prefix=prefix,
            once=self.state.seen_key(event_id),
        )
        resolved: list[Command] = []

        def guard(cmd: Command) -> Reply | None:
            resolved.append(cmd)
            if (cmd.noun, cmd.verb) in LINK_COMMANDS and not may_link:
                return Reply(error=True).say(_(
                    "{command} needs room power level {level} here (a room moderator), as "
                    "well as a Taskbot role that allows it.",
                    command=f"{prefix}{cmd.noun} {cmd.verb}", level=str(level)))
            return None

        names = {uid: name for uid in set(MATRIX_ID.findall(line))
                 if (name := self.display_name(room_id, uid))}

        def work() -> Answer:
            reply = self.conversation.run(incoming, guard)
            if names:
                adopt_names(self.sessions, PLATFORM, names)
            return self.conversation.delivered(reply)

        answer = await asyncio.to_thread(work)
        reply = answer.reply
        blocks = list(reply.blocks)
        if reply.confidential and not direct:
            blocks = [await self.send_direct_reply(sender, event_id, blocks, reply.lang)]
        cmd = resolved[0] if resolved else None
        if cmd is not None and (cmd.noun, cmd.verb) == ("tg", "show") and not direct:
            blocks.extend(self.power_level_blocks(room_id, reply.lang))
        blocks.extend(answer.notes)
        if blocks:
            await self.send_blocks(room_id, blocks, f"reply:{event_id}", reply_to=event_id)

    async def reply_topic(self, room_id: str, content: dict[str, Any]) -> str | None:
        """What the bot's message this one replies to is about (its topic), or None: not a
        reply, a reply to someone else's message or to one about nothing. One fetch of
        one event, bounded in time; a failure reads as no topic."""
        relates = content.get("m.relates_to")
        replied = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
        target = replied.get("event_id") if isinstance(replied, dict) else None
        if not isinstance(target, str) or not target.startswith("$") or len(target) > 255:
            return None
        try:
            resp = await asyncio.wait_for(self.client.room_get_event(room_id, target),
                                          FETCH_TIMEOUT)
        except Exception as err:  # a timeout, the network, a body nio cannot read
            log.warning("could not fetch %s, replied to in %s: %s", target, room_id,
                        type(err).__name__)
            return None
        if not isinstance(resp, RoomGetEventResponse):
            return None
        source = getattr(resp.event, "source", None)
        if not isinstance(source, dict) or source.get("sender") != self.client.user_id:
            return None
        about = (source.get("content") or {}).get(TOPIC_KEY)
        return about if isinstance(about, str) and TOPIC.fullmatch(about) else None

    async def run_reply(self, room_id: str, event_id: str, sender: str, lines: list[str],
                        about: str) -> None:
        """A direct reply to a message of the bot's about ``about`` (a check-in's prompt):
        each line, at most :data:`REPLY_LINES`, is the command it stands for in answer to
        it (``Registry.expand``), run as the sender with the line's own once-key; then the
        event's mark, and one answer for them all."""
        prefix = self.options.prefix
        kept = lines[:REPLY_LINES]
        incoming = Incoming(platform=PLATFORM, user_id=sender, text="", channel_id=None,
                            user_name=self.display_name(room_id, sender), prefix=prefix)
        expand = self.router.registry.expand

        def work() -> list[tuple[str, Answer]]:
            out: list[tuple[str, Answer]] = []
            for n, typed in enumerate(kept):
                line = typed[len(prefix):].strip() if typed.startswith(prefix) else typed
                if not line:
                    continue
                msg = dataclasses.replace(incoming, text=expand(about, line),
                                          once=self.state.events.key(event_id, str(n)))
                out.append((typed, self.conversation.delivered(self.conversation.run(msg))))
            # every line is written (each with its mark): the event is done
            self.state.mark_seen(event_id)
            return out

        answers = await asyncio.to_thread(work)
        blocks: list[Block] = []
        for typed, answer in answers:
            if len(answers) > 1:
                blocks.append(Text((typed,), "quote"))
            blocks.extend(answer.whole.blocks)
        if len(lines) > REPLY_LINES:
            lang = answers[-1][1].reply.lang if answers else self.router.settings.language
            blocks.append(Text((said(_(
                "Only the first {n} lines were read; send the rest in another reply.",
                n=REPLY_LINES), lang),)))
        if blocks:
            await self.send_blocks(room_id, blocks, f"reply:{event_id}", reply_to=event_id)

    async def send_direct_reply(self, sender: str, event_id: str,
                                blocks: list[Block], lang: str = "en") -> Text:
        """A confidential reply (a link with a key, an export) goes to the person's direct
        room, made on demand; the shared room gets only the returned one-line pointer."""
        try:
            room = await self.room_for(ChannelRef.direct(PLATFORM, sender))
            await self.send_blocks(room, blocks, f"private:{event_id}")
        except SendFailed as err:
            log.warning("could not answer %s in a direct room: %s", event_id, err)
            return Text((said(_("That answer is for you alone, and I could not open a direct "
                                "chat with you ({problem}). Ask me again in a direct chat.",
                                problem=str(err)), lang),))
        return Text((said(_("That answer is for you alone: I sent it to you in a direct "
                            "chat."), lang),))

    def note_creators(self, room_id: str, create: dict[str, Any]) -> None:
        content = create.get("content") or {}
        version = str(content.get("room_version", "1"))
        if version.isascii() and version.isdigit() and len(version) <= 2 and int(version) < 12:
            return  # older rooms: creators hold an ordinary power level
        extra = content.get("additional_creators") or []
        self.creators[room_id] = {str(create.get("sender")), *map(str, extra)}

    def link_level(self, room_id: str) -> int:
        """Binding a room needs the level for state events: a moderator by default."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return 50
        return int(room.power_levels.defaults.state_default)

    def user_level(self, room_id: str, user_id: str) -> float:
        if user_id in self.creators.get(room_id, ()):
            return float("inf")
        room = self.client.rooms.get(room_id)
        return float(room.power_levels.get_user_level(user_id)) if room is not None else 0.0

    def may_link(self, room_id: str, user_id: str) -> bool:
        """Room power levels gate binding a room, next to the Taskbot role the core checks."""
        return self.user_level(room_id, user_id) >= self.link_level(room_id)

    def power_level_blocks(self, room_id: str, lang: str = "en") -> list[Block]:
        room = self.client.rooms.get(room_id)
        if room is None:
            return []
        levels: dict[str, float] = {u: float(v) for u, v in room.power_levels.users.items()}
        levels.update((u, float("inf")) for u in self.creators.get(room_id, ()))
        shown = ", ".join(
            f"{self.display_name(room_id, uid) or uid} "
            f"{'creator' if level == float('inf') else int(level)}"
            for uid, level in sorted(levels.items(), key=lambda kv: (-kv[1], kv[0]))
            if uid != self.client.user_id
        )
        levels_shown = shown or _("everyone at the default")
        return [Text((said(_("Room power levels here: {levels} (linking the room needs "
                             "{level}).", levels=levels_shown,
                             level=str(self.link_level(room_id))), lang),))]

    # --- invites and encryption --------------------------------------------------------------

    async def on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        inviter: str | None = None
        is_direct = False
        for event in invite_state:
            # nio moves the content out of ``source`` for invite events: read its fields
            if (getattr(event, "state_key", None) == self.client.user_id
                    and getattr(event, "membership", None) == "invite"):
                inviter = getattr(event, "sender", None)
                content = getattr(event, "content", None) or {}
                is_direct = bool(content.get("is_direct"))
        if inviter is None:
            return
        allowed = await asyncio.to_thread(known_member, self.sessions, self.options.admins,
                                          PLATFORM, inviter)
        if not allowed:
            log.info("declining the invite to %s from %s", room_id, inviter)
            await self._leave(room_id, DECLINE_REASON)
            return
        resp = await self.client.join(room_id)
        if isinstance(resp, JoinError):
            log.warning("could not join %s: %s", room_id, resp)
            return
        if is_direct:
            self.direct_rooms.add(room_id)
            await asyncio.to_thread(self.state.save_dm_room, inviter, room_id)
            await asyncio.to_thread(self.state.mark_direct, room_id)
        else:
            await self.send_blocks(room_id, [Text((WELCOME.format(p=self.options.prefix),))],
                                   f"welcome:{room_id}")

    async def _leave(self, room_id: str, reason: str) -> None:
        method, path = Api.room_leave(self.client.access_token, room_id)
        resp = await self.client._send(RoomLeaveResponse, method, path,
                                       json.dumps({"reason": reason}))
        if not isinstance(resp, RoomLeaveResponse):
            log.warning("could not decline the invite to %s: %s", room_id, resp)

    async def _undecrypted(self, room_id: str, source: dict[str, Any]) -> None:
        """An event nio could not decrypt (its key has not come): kept, in the store too,
        to be handled when the key comes (``_retry_pending``), and the key asked of the
        sender's devices. Nothing is run and the event is not marked meanwhile."""
        event_id = str(source["event_id"])
        waiting = self.pending.setdefault(room_id, [])
        if any(e.get("event_id") == event_id for e, _ in waiting):
            return
        if len(waiting) >= PENDING_MAX:
            await self._unreadable(room_id, source)  # a flood of keyless events: not kept
            return
        since = time.time()
        waiting.append((source, since))
        await asyncio.to_thread(self.state.save_pending, room_id, source, since)
        event = Event.parse_event(source)
        if isinstance(event, MegolmEvent):
            event.room_id = room_id
            with contextlib.suppress(Exception):  # asked once per session; a repeat raises
                await self.client.request_room_key(event)
        log.warning("event %s in %s cannot be decrypted yet (its key has not come): kept "
                    "until it does", event_id, room_id)

    async def _retry_pending(self) -> None:
        """Events whose keys have come, decrypted and handled once, in the order they were
        sent in each room (one still waiting holds back the later ones); one that waited
        longer than ``key_wait_s`` is given up: its sender is told."""
        now = time.time()
        for room_id in list(self.pending):
            lock = self._room_locks.setdefault(room_id, asyncio.Lock())
            async with lock:
                waiting = self.pending[room_id]
                while waiting:
                    source, since = waiting[0]
                    event = Event.parse_event(source)
                    decrypted: Any = None
                    if isinstance(event, MegolmEvent):
                        event.room_id = room_id
                        try:
                            decrypted = self.client.decrypt_event(event)
                        except EncryptionError:
                            decrypted = None
                    if decrypted is None or not isinstance(decrypted, Event) or isinstance(
                            decrypted, MegolmEvent):
                        if now - since < self.options.key_wait_s and isinstance(
                                event, MegolmEvent):
                            break  # still waiting: the later ones wait behind it
                        waiting.pop(0)
                        await asyncio.to_thread(self.state.drop_pending,
                                                str(source["event_id"]))
                        await self._unreadable(room_id, source)
                        continue
                    try:
                        await self.handle_event(room_id, decrypted.source)
                    except SendFailed as err:
                        log.error("could not answer %s in %s: %s", source.get("event_id"),
                                  room_id, err)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        # kept at the head of its room: the next batch tries it again (its
                        # mark, written with the command, keeps a second run out)
                        log.exception("handling %s in %s failed; it stays waiting",
                                      source.get("event_id"), room_id)
                        break
                    waiting.pop(0)
                    await asyncio.to_thread(self.state.drop_pending, str(source["event_id"]))
                if not waiting:
                    del self.pending[room_id]

    async def _unreadable(self, room_id: str, source: dict[str, Any]) -> None:
        """An encrypted event that cannot be read for good: nothing is run, it is marked,
        and its sender is told once in a direct chat what to do."""
        event_id, sender = str(source.get("event_id")), source.get("sender")
        await asyncio.to_thread(self.state.mark_seen, event_id)
        log.warning("event %s in %s from %s could not be decrypted: given up", event_id,
                    room_id, sender)
        if not isinstance(sender, str) or sender == self.client.user_id:
            return
        # one message a day per room and sender, however many of their events were lost
        day = time.strftime("%Y-%m-%d", time.gmtime())
        told = self.state.events.key("unreadable", room_id, sender, day)
        if not await asyncio.to_thread(self.state.events.mark_alone, told):
            return
        lang = self.router.settings.language
        text = said(_("I could not read your message in {room}: its key never reached me, so "
                      "I did nothing with it. Please send it again; if this keeps happening, "
                      "check that your app shares keys with my device {device}.",
                      room=self.room_name(room_id), device=self.client.device_id), lang)
        try:
            await self.post(ChannelRef.direct(PLATFORM, sender), [Text((text,))],
                            f"unreadable:{room_id}:{sender}:{day}")
        except SendFailed as err:
            log.error("could not tell %s about %s: %s", sender, event_id, err)

    def room_name(self, room_id: str) -> str:
        room = self.client.rooms.get(room_id)
        name = getattr(room, "display_name", None) if room is not None else None
        return name if isinstance(name, str) and name else room_id

    async def _on_encrypted(self, room_id: str, event_id: str) -> None:
        log.warning("encrypted event %s in %s: Taskbot cannot read encrypted rooms",
                    event_id, room_id)
        if await asyncio.to_thread(self.state.told_encrypted, room_id):
            return
        await self.send_blocks(room_id, [Text((ENCRYPTED_NOTICE,))], f"e2e:{room_id}")
        await asyncio.to_thread(self.state.mark_told_encrypted, room_id)

    async def run_capture(self, room_id: str, event_id: str, sender: str, line: str) -> None:
        """An ordinary message: for the meeting open in the room, if any (meeting mode).
        A quiet capture is acknowledged with a reaction, anything else as a reply."""
        incoming = Incoming(platform=PLATFORM, user_id=sender, text=line, channel_id=room_id,
                            user_name=self.display_name(room_id, sender),
                            prefix=self.options.prefix, once=self.state.seen_key(event_id))
        answer = await self.conversation.listen(incoming)
        if answer is None:
            return
        reply = answer.reply
        if reply.private and not reply.error:
            await self.known_room(room_id)
            if not self.tofu:
                await withhold_unverified(self.client, room_id)
            await self.client.room_send(room_id, "m.reaction", {"m.relates_to": {
                "rel_type": "m.annotation", "event_id": event_id, "key": ACK_REACTION,
            }}, tx_id=txn_id(f"ack:{event_id}"), ignore_unverified_devices=self.tofu)
            blocks: list[Block] = list(answer.notes)
        else:
            blocks = [*reply.blocks, *answer.notes]
        if blocks:
            await self.send_blocks(room_id, blocks, f"reply:{event_id}", reply_to=event_id)

    # --- sending -----------------------------------------------------------------------------

    async def send_blocks(self, room_id: str, blocks: list[Block], key: str,
                          reply_to: str | None = None) -> str:
        """Post ``blocks`` (files after the text); idempotent per ``key``. Returns the id of
        the first event sent."""
        rendered = render(blocks, self.options.prefix)
        first = ""
        text_blocks = [b for b in blocks if not isinstance(b, File)]
        if text_blocks:
            first = await self.room_send(room_id, rendered.content("m.notice", reply_to),
                                         txn_id(key, "text"))
        secret = self.room_encrypted(room_id)
        for i, block in enumerate(rendered.files):
            uri, keys = await self.upload(block, encrypt=secret)
            content = file_content(block, uri)
            if keys is not None:  # the file itself encrypted: its key goes in the event
                del content["url"]
                content["file"] = {**keys, "url": uri}
            if reply_to and not first:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
            event = await self.room_send(room_id, content, txn_id(key, f"file{i}"))
            first = first or event
        return first

    async def known_room(self, room_id: str) -> None:
        """Make a room the bot just joined or created known to nio before its first sync
        brings it (nio encrypts only for a room it knows, and refuses one it does not):
        its state read once, whether it is encrypted and who is in it."""
        if not self.encrypted or room_id in self.client.rooms:
            return
        resp = await self.client.room_get_state(room_id)
        if not isinstance(resp, RoomGetStateResponse):
            raise SendFailed(f"cannot read the state of {room_id}: {resp}", retry_after=30.0)
        room = MatrixRoom(room_id, self.client.user_id)
        for raw in resp.events:
            event = Event.parse_event(raw)
            if isinstance(event, RoomEncryptionEvent):
                room.encrypted = True
                self.client.encrypted_rooms.add(room_id)
            elif isinstance(event, RoomMemberEvent):
                room.handle_membership(event)
            elif isinstance(event, Event):
                room.handle_event(event)
        if room_id not in self.client.rooms:  # a sync may have brought it meanwhile
            self.client.rooms[room_id] = room

    async def room_send(self, room_id: str, content: dict[str, Any], tx_id: str) -> str:
        """``m.room.message`` with bounded retries on M_LIMIT_EXCEEDED (same txn id each time,
        so a retry after a lost answer cannot post twice)."""
        await self.known_room(room_id)
        if not self.tofu:
            await withhold_unverified(self.client, room_id)
        waited = 0.0
        for _attempt in range(SEND_ATTEMPTS):
            try:
                resp = await self.client.room_send(room_id, "m.room.message", content,
                                                   tx_id=tx_id,
                                                   ignore_unverified_devices=self.tofu)
            except OlmUnverifiedDeviceError:  # a device came since the check: withheld too
                await withhold_unverified(self.client, room_id)
                continue
            if not isinstance(resp, RoomSendError):
                return str(resp.event_id)
            if resp.status_code != "M_LIMIT_EXCEEDED":
                permanent = resp.status_code in ("M_FORBIDDEN", "M_NOT_FOUND", "M_TOO_LARGE")
                raise SendFailed(f"{resp.status_code} {resp.message}", permanent=permanent)
            delay = (resp.retry_after_ms or 1000) / 1000
            if waited + delay > SEND_WAIT_MAX:
                raise SendFailed("M_LIMIT_EXCEEDED", retry_after=delay)
            log.info("rate limited in %s; retrying in %.1fs", room_id, delay)
            await asyncio.sleep(delay)
            waited += delay
        raise SendFailed("M_LIMIT_EXCEEDED: still limited after retries", retry_after=5.0)

    async def upload(self, block: File, encrypt: bool = False
                     ) -> tuple[str, dict[str, Any] | None]:
        """The file's content URI, and its decryption keys when it was encrypted (a file
        for an encrypted room: the media repository holds only ciphertext)."""
        data = block.content
        resp, keys = await self.client.upload(
            lambda _got_429, _timeouts: data, content_type=block.mime, filename=block.name,
            filesize=len(data), encrypt=encrypt,
        )
        if isinstance(resp, UploadError):
            raise SendFailed(f"upload failed: {resp.status_code} {resp.message}",
                             retry_after=(resp.retry_after_ms or 0) / 1000 or None)
        return str(resp.content_uri), keys if encrypt else None

    @property
    def tofu(self) -> bool:
        """Encrypt for every device of a room's members (trust on first use); else only for
        those the operator verified (``bot.matrix.trust``)."""
        return self.options.trust == "tofu"

    def room_encrypted(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return bool(self.encrypted and room is not None and room.encrypted)

    async def room_for(self, channel: ChannelRef) -> str:
        """The room of a channel ref; ``dm:<user>`` finds or opens a direct chat."""
        user = channel.direct_user
        if user is None:
            return channel.channel_id
        room_id = await asyncio.to_thread(self.state.dm_room, user)
        if room_id and room_id in self.client.rooms:
            return room_id
        resp = await self.client.room_create(
            is_direct=True, invite=[user], preset=RoomPreset.trusted_private_chat,
            # a direct chat of a bot that can encrypt is encrypted, as Element's are
            initial_state=[{"type": "m.room.encryption", "state_key": "",
                            "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
            if self.encrypted else [],
        )
        if isinstance(resp, RoomCreateError):
            raise SendFailed(f"cannot open a direct chat with {user}: {resp.message}",
                             retry_after=(resp.retry_after_ms or 0) / 1000 or None)
        self.direct_rooms.add(resp.room_id)
        await asyncio.to_thread(self.state.save_dm_room, user, resp.room_id)
        await asyncio.to_thread(self.state.mark_direct, resp.room_id)
        return str(resp.room_id)

    async def post(self, channel: ChannelRef, blocks: list[Block], key: str) -> str:
        room_id = await self.room_for(channel)
        return await self.send_blocks(room_id, blocks, key)

    def call_soon(self, make: Callable[[], Awaitable[str]], timeout: float) -> str:
        """Run a coroutine on the bot's loop from a worker thread and wait for its result."""
        loop = self.loop
        if loop is None or self._stopping:
            raise SendFailed("the Matrix client is not running", retry_after=30.0)
        return wait_on(loop, make, timeout)


async def run(box: Container) -> None:
    """``taskbot run``'s Matrix runner: log in, sync until cancelled, stop.

    An unreachable homeserver is waited for (with backoff); refused credentials end the
    run with a configuration error, since retrying cannot fix them.
    """
    bot = MatrixBot(MatrixOptions.from_settings(box.settings), box.sessions, box.router,
                    box.dispatcher)
    backoff = 1.0
    try:
        while True:
            try:
                await bot.start()
                break
            except LoginRefused as err:
                raise ConfigError(str(err)) from None
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                print(f"Matrix: cannot reach {bot.options.homeserver} ({type(err).__name__}); "
                      f"retrying in {backoff:.0f}s", file=sys.stderr)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
        print(f"Matrix: connected as {bot.client.user_id}; commands start with "
              f"{bot.options.prefix!r}", file=sys.stderr)
        await bot.wait()
    finally:
        await bot.stop()
