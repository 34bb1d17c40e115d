"""Whose devices get the bot's room keys (``MATRIX_TRUST``), and the operator's check of a
device (``taskbot matrix devices|verify``).

- ``tofu`` (the default): every device of a room's members, as first seen.
- ``verified``: only devices the operator verified, comparing the fingerprint the person's
  app shows with ``taskbot matrix devices``. Before each encrypted send, a member's device
  that is neither verified nor withheld is withheld (nio's blacklist: it gets no room key,
  said once in the log); ``taskbot matrix verify`` verifies it and lifts that.

The check runs on the store itself, with the adapter stopped: the store has one owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nio import AsyncClient, AsyncClientConfig
from nio.crypto import OlmDevice
from sqlalchemy.orm import Session, sessionmaker

from bot.matrix.state import MatrixState
from bot.matrix.store import DeviceStore

log = logging.getLogger(__name__)


async def withhold_unverified(client: AsyncClient, room_id: str) -> list[str]:
    """``verified``: withhold the room key from every member device not verified; returns
    the devices withheld now (``@user DEVICE``), each said once in the log."""
    room = client.rooms.get(room_id)
    if room is None or not room.encrypted or client.olm is None:
        return []
    if not room.members_synced:
        await client.joined_members(room_id)
    if client.should_query_keys:
        await client.keys_query()
    withheld: list[str] = []
    for user in list(room.users):
        for device in client.device_store.active_user_devices(user):
            if device.id == client.device_id and user == client.user_id:
                continue
            if not device.verified and not device.blacklisted:
                client.blacklist_device(device)
                withheld.append(f"{user} {device.id}")
    for who in withheld:
        log.warning("Matrix: the device %s is not verified: it gets no room keys "
                    "(MATRIX_TRUST=verified; see taskbot matrix devices)", who)
    return withheld


def fingerprint(device: OlmDevice) -> str:
    """The ed25519 key in groups of four, as apps show it."""
    key = device.ed25519
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def trust_word(device: OlmDevice) -> str:
    if device.verified:
        return "verified"
    if device.blacklisted:
        return "withheld"
    return "not verified"


@dataclass
class Offline:
    """The bot's device opened from its store, with no connection (for the operator)."""

    client: AsyncClient
    store: DeviceStore

    def devices(self) -> list[tuple[str, str, str, str]]:
        """(user, device, fingerprint, trust) of every device the store knows."""
        rows = []
        for user in sorted(self.client.device_store.users):
            for device in sorted(self.client.device_store.active_user_devices(user),
                                 key=lambda d: d.id):
                if user == self.client.user_id and device.id == self.client.device_id:
                    continue
                rows.append((user, device.id, fingerprint(device), trust_word(device)))
        return rows

    def verify(self, user: str, device_id: str, expected: str) -> str:
        """Mark a device verified (and no longer withheld); ``expected``: the fingerprint
        the person's app shows, which must match. Raises ValueError, changing nothing."""
        device = next((d for d in self.client.device_store.active_user_devices(user)
                       if d.id == device_id), None)
        if device is None:
            raise ValueError(f"no device {device_id} of {user} is known to the bot's store "
                             "(it learns devices of the people in its encrypted rooms)")
        if "".join(expected.split()) != device.ed25519:
            raise ValueError(f"the fingerprint of {user} {device_id} is {fingerprint(device)}, "
                             "not the one given: nothing changed; check with its owner")
        self.client.unblacklist_device(device)
        self.client.verify_device(device)
        return f"verified {user} {device_id} ({fingerprint(device)})"

    async def close(self) -> None:
        await self.client.close()
        self.store.release()


def open_offline(sessions: sessionmaker[Session], homeserver: str, user_id: str,
                 store_path: str) -> Offline:
    """The device's store, owned for the while (refused while ``taskbot run`` holds it).
    Raises ValueError when the bot has not logged in with this store yet."""
    from bot.matrix.client import LoginRefused

    store = DeviceStore(store_path, user_id)
    try:
        store.own()
    except LoginRefused as err:
        raise ValueError(f"{err} Stop it first: the store has one owner.") from None
    login = MatrixState(sessions, user_id).login()
    if login is None or not store.database(login[1]).exists():
        store.release()
        raise ValueError(f"no device of {user_id} has keys in {store_path} yet: run "
                         "taskbot run with Matrix once first")
    token, device = login
    client = AsyncClient(homeserver, user_id, store_path=store_path,
                         config=AsyncClientConfig(encryption_enabled=True,
                                                  store_sync_tokens=False))
    client.restore_login(user_id, device, token)  # loads the store; nothing is sent
    return Offline(client, store)
