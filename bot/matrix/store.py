"""The Matrix device's end-to-end store: a directory of nio's keys and sessions that one
process owns at a time, and that is known to hold a given device's keys.

- **One owner**: an exclusive ``flock`` on ``owner.lock`` inside the directory, taken before
  login and held until the adapter stops (the operating system drops it when the process
  dies, so a restart after a crash takes it again at once). A second ``taskbot run`` on the
  same store is refused, saying why, instead of running two copies of one device.
- **The right store**: the directory carries a random ``store-id``; the database records
  which store id holds which device (``MatrixState.store_record``). At start a stored device
  whose store is not here (lost, or another machine's) is detected before any key is made,
  so the bot never becomes a silent new device on every start.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path

from nio import AsyncClient


class DeviceStore:
    def __init__(self, path: str, user_id: str) -> None:
        self.path = Path(path)
        self.user_id = user_id
        self._fd: int | None = None

    def own(self) -> None:
        """Take the store for this process (again after a failed start: a no-op), or
        raise LoginRefused saying another process has it."""
        from bot.matrix.client import LoginRefused

        if self._fd is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path / "owner.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LoginRefused(
                f"another Taskbot process runs Matrix as {self.user_id} with the end-to-end "
                f"store {self.path}: one process may own the device at a time, so Matrix is "
                "not started here.") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def store_id(self) -> str | None:
        try:
            return (self.path / "store-id").read_text(encoding="ascii").strip() or None
        except OSError:
            return None

    def database(self, device_id: str) -> Path:
        """nio's file for the device's keys and sessions (``<user>_<device>.db``)."""
        return self.path / f"{self.user_id}_{device_id}.db"

    def holds(self, device_id: str, record: dict[str, str] | None) -> bool:
        """Whether this directory is the store the database says holds ``device_id``'s
        keys (a device the database has no record of: it holds them if nio's file is
        here)."""
        if not self.database(device_id).exists():
            return False
        if record is None or record.get("device_id") != device_id:
            return True
        return record.get("store_id") == self.store_id()

    def mark(self, device_id: str) -> dict[str, str]:
        """The record of this store holding ``device_id`` (its id made on first use)."""
        found = self.store_id()
        if found is None:
            found = secrets.token_hex(16)
            target = self.path / "store-id"
            tmp = target.with_suffix(".tmp")
            tmp.write_text(found + "\n", encoding="ascii")
            os.chmod(tmp, 0o600)
            tmp.replace(target)
        return {"device_id": device_id, "store_id": found}


async def key_upkeep(client: AsyncClient) -> None:
    """A device's key upkeep, after login and each sync: its own keys uploaded, the devices
    of its rooms' members queried, Olm sessions claimed, room keys sent (what nio's own
    sync loop does, for a client that syncs by itself: the bot, and the tests' people)."""
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()
