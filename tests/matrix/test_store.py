"""The device store's one owner, without a homeserver: a start retried in the same process
owns it again, another owner is refused until the first lets go."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.matrix.client import LoginRefused
from bot.matrix.store import DeviceStore


def test_one_owner_and_a_retried_start(tmp_path: Path) -> None:
    first = DeviceStore(str(tmp_path / "store"), "@taskbot:localhost")
    first.own()
    first.own()  # a start retried after a network error: still the owner, not refused
    other = DeviceStore(str(tmp_path / "store"), "@taskbot:localhost")
    with pytest.raises(LoginRefused, match="one process may own the device"):
        other.own()
    first.release()
    other.own()  # the lock went with the first owner
    other.release()
