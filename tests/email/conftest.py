from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.email.wiring import Wired
from tests.support import dovecot
from tests.support.dialog import Bot
from tests.support.mailserver import MailServer, start, stop


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    server = start(MailServer())
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture
def imap_server() -> Iterator[dovecot.Dovecot]:
    """A Dovecot of the test's own (it starts in a few milliseconds); ``make test`` installs
    it, so in CI its absence fails rather than skips."""
    if not dovecot.available():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed: make test installs dovecot-imapd")
        pytest.skip("dovecot is not installed (make test installs dovecot-imapd)")
    server = dovecot.start()
    try:
        yield server
    finally:
        dovecot.stop(server)


@pytest.fixture
def wired(bot: Bot, smtp_server: MailServer, imap_server: dovecot.Dovecot) -> Iterator[Wired]:
    w = Wired(bot, smtp_server, imap_server)
    yield w
    w.mail.close()
