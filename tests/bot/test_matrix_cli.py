"""``taskbot matrix devices|verify`` as the operator runs them, where there is nothing yet to
show: one clear line each, exit status 1 or 2, no traceback (the whole path, with a device
verified and the bot's next answer readable by it, is tests/matrix/test_encryption.py)."""

from __future__ import annotations

from pathlib import Path

from tests.bot.conftest import Taskbot

MATRIX = {"MATRIX_HOMESERVER": "http://127.0.0.1:9", "MATRIX_USER_ID": "@taskbot:localhost"}


def test_before_the_bot_ever_ran_matrix(taskbot: Taskbot, tmp_path: Path) -> None:
    assert taskbot("db", "upgrade").returncode == 0
    store = str(tmp_path / "store")
    for args in (("matrix", "devices"),
                 ("matrix", "verify", "@ana:localhost", "ABC", "--fingerprint", "AAAA")):
        done = taskbot(*args, MATRIX_STORE_PATH=store, **MATRIX)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "no device of @taskbot:localhost has keys in" in done.stderr
        assert "Traceback" not in done.stderr


def test_without_a_matrix_account(taskbot: Taskbot) -> None:
    done = taskbot("matrix", "devices")
    assert done.returncode == 2
    assert "MATRIX_HOMESERVER and MATRIX_USER_ID are needed" in done.stderr
