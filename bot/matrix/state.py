"""What the Matrix adapter keeps in the store between runs (the ``kv_state`` table).

- the access token and device id, so a restart reuses the device instead of making one per
  start (and Synapse scopes transaction ids to the device: reuse keeps sends idempotent);
- the sync token, written only after a batch's events were handled;
- recently handled event ids, so an event seen twice (a replayed batch) acts once;
- DM room per user, and rooms already told that the bot cannot read encrypted messages.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from storage import kv
from storage.models import KvState

NS = "matrix:"
SEEN = NS + "seen:"
DM = NS + "dm:"
E2E_TOLD = NS + "e2e-told:"
DIRECT = NS + "direct:"
SEEN_KEEP = dt.timedelta(days=2)


class MatrixState:
    def __init__(self, sessions: sessionmaker[Session], account: str) -> None:
        self.sessions = sessions
        # state belongs to one bot account: a changed MATRIX_USER_ID starts afresh
        self.account = account
        self.seen: set[str] = set()
        self.direct: set[str] = set()

    def _key(self, name: str) -> str:
        return f"{NS}{self.account}:{name}"

    def load(self) -> None:
        with self.sessions() as session:
            self.seen = {k[len(SEEN):] for k in kv.get_many(session, SEEN)}
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

    def forget_login(self) -> None:
        with self.sessions.begin() as session:
            kv.drop(session, self._key("login"))

    # --- sync --------------------------------------------------------------------------------

    def sync_token(self) -> str | None:
        with self.sessions() as session:
            return kv.get(session, self._key("sync_token"))

    def save_sync_token(self, token: str) -> None:
        """Store the token and prune event ids old enough that no replay can reach them."""
        cutoff = dt.datetime.now(dt.UTC) - SEEN_KEEP
        with self.sessions.begin() as session:
            kv.put(session, self._key("sync_token"), token)
            session.execute(
                delete(KvState).where(KvState.key.startswith(SEEN, autoescape=True),
                                      KvState.updated_at < cutoff)
            )

    def is_seen(self, event_id: str) -> bool:
        return event_id in self.seen

    @staticmethod
    def seen_key(event_id: str) -> str:
        """The event's seen mark, as the idempotency key of the command it carries: the
        router writes it in the command's own transaction."""
        return SEEN + event_id

    def mark_seen(self, event_id: str) -> None:
        """For events that ran no command (help, a refusal, an error, a poison event):
        a command's own run writes its mark itself."""
        self.seen.add(event_id)
        with self.sessions.begin() as session:
            kv.put(session, SEEN + event_id, "")

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
