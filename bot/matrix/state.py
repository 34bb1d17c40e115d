"""What the Matrix adapter keeps in the store between runs (the ``kv_state`` table).

- the access token and device id, so a restart reuses the device instead of making one per
  start (and Synapse scopes transaction ids to the device: reuse keeps sends idempotent);
- the sync token, written only after a batch's events were handled;
- handled event ids (``bot.seen``, the store every adapter shares), so an event seen twice
  (a replayed batch) acts once;
- DM room per user, and rooms already told that the bot cannot read encrypted messages.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.seen import SeenEvents
from storage import kv

NS = "matrix:"
SEEN = NS + "seen:"
DM = NS + "dm:"
E2E_TOLD = NS + "e2e-told:"
DIRECT = NS + "direct:"
PENDING = "pending:"
SEEN_KEEP = dt.timedelta(days=2)


class MatrixState:
    def __init__(self, sessions: sessionmaker[Session], account: str) -> None:
        self.sessions = sessions
        # state belongs to one bot account: a changed MATRIX_USER_ID starts afresh
        self.account = account
        self.events = SeenEvents(sessions, SEEN, SEEN_KEEP)
        self.direct: set[str] = set()

    def _key(self, name: str) -> str:
        return f"{NS}{self.account}:{name}"

    def load(self) -> None:
        self.events.load()
        with self.sessions() as session:
            self.direct = {k[len(DIRECT):] for k in kv.get_many(session, DIRECT)}

    # --- login -------------------------------------------------------------------------------

    def login(self) -> tuple[str, str] | None:
        """``(access_token, device_id)`` of an earlier login, if any."""
        with self.sessions() as session:
            raw = kv.get(session, self._key("login"))
        if not raw:
            return None
        data = json.loads(raw)
        return str(data["access_token"]), str(data["device_id"])

    def save_login(self, access_token: str, device_id: str) -> None:
        with self.sessions.begin() as session:
            kv.put(session, self._key("login"),
                   json.dumps({"access_token": access_token, "device_id": device_id}))

    def store_record(self) -> dict[str, str] | None:
        """Which end-to-end store holds which device's keys (bot.matrix.store)."""
        with self.sessions() as session:
            raw = kv.get(session, self._key("store"))
        if not raw:
            return None
        data = json.loads(raw)
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None

    def save_store_record(self, record: dict[str, str]) -> None:
        with self.sessions.begin() as session:
            kv.put(session, self._key("store"), json.dumps(record, sort_keys=True))

    # --- events waiting for their keys ---------------------------------------------------------

    def pending(self) -> list[tuple[str, dict[str, Any], float]]:
        """Encrypted events whose keys had not come, as (room, event, first seen), in the
        order they were sent: kept across a restart, so none is lost while its key comes."""
        with self.sessions() as session:
            found = kv.get_many(session, self._key(PENDING))
        out: list[tuple[str, dict[str, Any], float]] = []
        for raw in found.values():
            data = json.loads(raw)
            out.append((str(data["room"]), dict(data["event"]), float(data["since"])))
        out.sort(key=lambda p: (p[0], int(p[1].get("origin_server_ts", 0))))
        return out

    def save_pending(self, room_id: str, event: dict[str, Any], since: float) -> None:
        with self.sessions.begin() as session:
            kv.put(session, self._key(PENDING + str(event["event_id"])),
                   json.dumps({"room": room_id, "event": event, "since": since}))

    def drop_pending(self, event_id: str) -> None:
        with self.sessions.begin() as session:
            kv.drop(session, self._key(PENDING + event_id))

    def forget_login(self) -> None:
        with self.sessions.begin() as session:
            kv.drop(session, self._key("login"))

    # --- sync --------------------------------------------------------------------------------

    def sync_token(self) -> str | None:
        with self.sessions() as session:
            return kv.get(session, self._key("sync_token"))

    def save_sync_token(self, token: str) -> None:
        """Store the token (after its batch's events were handled), and prune old marks."""
        with self.sessions.begin() as session:
            kv.put(session, self._key("sync_token"), token)
        self.events.prune_if_due()

    def is_seen(self, event_id: str) -> bool:
        """From memory (no read): on the loop, before an event is looked at."""
        return self.events.known(self.seen_key(event_id))

    def seen_key(self, event_id: str) -> str:
        """The event's mark, as the idempotency key (``Incoming.once``) of the command or
        the capture it carries: the router writes it in the work's own transaction."""
        return self.events.key(event_id)

    def mark_seen(self, event_id: str) -> None:
        """For an event that ran nothing (a poison event, one not read)."""
        self.events.mark_alone(self.seen_key(event_id))

    # --- rooms -------------------------------------------------------------------------------

    def dm_room(self, user_id: str) -> str | None:
        with self.sessions() as session:
            return kv.get(session, self._key(DM + user_id))

    def save_dm_room(self, user_id: str, room_id: str) -> None:
        with self.sessions.begin() as session:
            kv.put(session, self._key(DM + user_id), room_id)

    def mark_direct(self, room_id: str) -> None:
        self.direct.add(room_id)
        with self.sessions.begin() as session:
            kv.put(session, DIRECT + room_id, "")

    def told_encrypted(self, room_id: str) -> bool:
        with self.sessions() as session:
            return kv.get(session, E2E_TOLD + room_id) is not None

    def mark_told_encrypted(self, room_id: str) -> None:
        with self.sessions.begin() as session:
            kv.put(session, E2E_TOLD + room_id, "")
