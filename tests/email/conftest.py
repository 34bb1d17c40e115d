from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mailserver import MailServer, start, stop


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    server = start(MailServer())
    try:
        yield server
    finally:
        stop(server)
