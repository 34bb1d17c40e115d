"""IMAP IDLE hears news that came with its start: Dovecot may send ``* 1 EXISTS`` in the
same packet as ``+ idling`` (new mail that arrived between the search and the IDLE), or
before it. Which one happens against the real server is timing; a scripted server on
loopback sends each case on purpose, so the test is the same every run."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bot.email.imap import Mailbox
from bot.email.settings import ImapUrl


class Scripted:
    """Answers CAPABILITY, then IDLE with ``answer`` in one send, then DONE."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK ready\r\n")
            idle_tag = b""
            for line in lines:
                if line.strip() == b"DONE":
                    conn.sendall(idle_tag + b" OK idle done\r\n")
                    continue
                tag, _, command = line.strip().partition(b" ")
                if command.upper() == b"CAPABILITY":
                    conn.sendall(b"* CAPABILITY IMAP4rev1 IDLE\r\n" + tag + b" OK done\r\n")
                elif command.upper() == b"IDLE":
                    idle_tag = tag
                    conn.sendall(self.answer)
                else:
                    conn.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                    return


@pytest.fixture(params=[b"+ idling\r\n* 1 EXISTS\r\n", b"* 1 EXISTS\r\n+ idling\r\n"],
                ids=["with-the-continuation", "before-the-continuation"])
def server(request: pytest.FixtureRequest) -> Iterator[Scripted]:
    scripted = Scripted(request.param)
    yield scripted
    scripted.server.close()


def test_idle_hears_news_that_came_with_its_start(server: Scripted) -> None:
    import imaplib

    box = Mailbox(ImapUrl.parse(f"imap://bot:pw@127.0.0.1:{server.port}/INBOX"))
    box.conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    started = time.monotonic()
    assert box.idle(5.0, threading.Event()) is True
    assert time.monotonic() - started < 4.0  # at once, not at the end of the wait
    box.close()
