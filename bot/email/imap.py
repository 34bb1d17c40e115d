"""The bot's mailbox over IMAP: what is waiting, each mail's bytes, a flag once handled,
and IMAP IDLE to hear of new mail at once where the server offers it.

A handled mail gets the keyword ``$TaskbotDone`` (and ``\\Seen``), so a restart never
handles it twice and a person reading the same mailbox still sees what came in; where
the server allows no keywords, ``\\Seen`` alone marks it. Every wait is bounded: the
connection has a timeout, a mail larger than the inbox reads is flagged without being
fetched, and IDLE is left every few minutes (and at once when the process stops).
"""

from __future__ import annotations

import contextlib
import imaplib
import io
import logging
import re
import select
import ssl
import threading
import time

from bot.email.inbound import MAIL_MAX
from bot.email.settings import ImapUrl, loopback

log = logging.getLogger(__name__)

KEYWORD = "$TaskbotDone"
TIMEOUT = 30.0
BATCH = 200  # mails looked at in one pass; the rest in the next
_SIZE = re.compile(rb"RFC822\.SIZE (\d{1,12})")


class MailboxError(Exception):
    """The mailbox cannot be used as configured (refused login, no such folder, a password
    that would go in clear); the message says which, without the password."""


def _quoted(folder: str) -> str:
    return '"' + folder + '"'  # ImapUrl refuses quotes, backslashes and line breaks


class Mailbox:
    def __init__(self, url: ImapUrl, *, timeout: float = TIMEOUT,
                 tls_context: ssl.SSLContext | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.tls = tls_context or ssl.create_default_context()
        self.conn: imaplib.IMAP4 | None = None
        self.keywords = False
        self.can_idle = False

    # --- the session --------------------------------------------------------------------

    def open(self) -> Mailbox:
        url = self.url
        conn: imaplib.IMAP4
        if url.tls:
            conn = imaplib.IMAP4_SSL(url.host, url.port, ssl_context=self.tls,
                                     timeout=self.timeout)
        else:
            conn = imaplib.IMAP4(url.host, url.port, timeout=self.timeout)
        try:
            if not url.tls:
                if "STARTTLS" in conn.capabilities:
                    conn.starttls(self.tls)
                elif not loopback(url.host):
                    raise MailboxError(f"{url.shown()} offers no STARTTLS: the password is "
                                       "not sent in clear (use imaps://)")
            try:
                conn.login(url.user, url.password)
            except imaplib.IMAP4.error as err:
                raise MailboxError(f"{url.shown()}: login refused ({_said(err)})") from None
            typ, _ = conn.select(_quoted(url.folder))
            if typ != "OK":
                raise MailboxError(f"{url.shown()}: no folder {url.folder!r}")
            flags = b" ".join(v for v in conn.untagged_responses.get("PERMANENTFLAGS", [])
                              if isinstance(v, bytes))
            self.keywords = b"\\*" in flags
            self.can_idle = "IDLE" in conn.capabilities
        except BaseException:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                conn.shutdown()
            raise
        self.conn = conn
        return self

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()

    def __enter__(self) -> Mailbox:
        return self.open() if self.conn is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _c(self) -> imaplib.IMAP4:
        if self.conn is None:
            raise MailboxError("the mailbox is not open")
        return self.conn

    # --- mail ---------------------------------------------------------------------------

    def waiting(self) -> list[str]:
        """The UIDs of the mails not handled yet, oldest first, at most ``BATCH``."""
        conn = self._c()
        conn.noop()  # the server's news (new mail) before searching
        criteria = f"UNKEYWORD {KEYWORD}" if self.keywords else "UNSEEN"
        typ, data = conn.uid("SEARCH", criteria)
        if typ != "OK" or not data or not isinstance(data[0], bytes):
            return []
        uids = [u.decode("ascii") for u in data[0].split() if u.isdigit()]
        return sorted(uids, key=int)[:BATCH]

    def fetch(self, uid: str) -> bytes | None:
        """The mail's bytes; None when it is larger than the inbox reads (or gone)."""
        conn = self._c()
        typ, data = conn.uid("FETCH", uid, "(RFC822.SIZE)")
        size = _SIZE.search(b" ".join(d for d in data if isinstance(d, bytes))) \
            if typ == "OK" else None
        if size is None or int(size.group(1)) > MAIL_MAX:
            return None
        typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK":
            return None
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def done(self, uid: str) -> None:
        flags = f"(\\Seen {KEYWORD})" if self.keywords else "(\\Seen)"
        self._c().uid("STORE", uid, "+FLAGS.SILENT", flags)

    def append(self, raw: bytes) -> None:
        """A mail put in the folder (the tests' and the benchmark's human)."""
        self._c().append(_quoted(self.url.folder), "", imaplib.Time2Internaldate(time.time()),
                         raw)

    # --- waiting for news ---------------------------------------------------------------

    def idle(self, seconds: float, stop: threading.Event) -> bool:
        """IMAP IDLE until the server tells of new mail, ``seconds`` pass or ``stop`` is
        set; True when there is news. The socket is watched with ``select`` (a read timeout
        would leave imaplib's buffered reader unusable)."""
        conn = self._c()
        tag = conn._new_tag()  # imaplib has no public IDLE before 3.14
        conn.send(tag + b" IDLE\r\n")
        news = False
        first = conn.readline()
        while first.startswith(b"* "):  # news the server had for us before the IDLE
            news = news or _is_news(first)
            first = conn.readline()
        if not first.startswith(b"+"):
            raise MailboxError(f"IDLE refused: {first[:100]!r}")
        sock = conn.socket()
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not news:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # a line that came in the same packet as the last one waits in imaplib's
            # reader, where ``select`` on the socket cannot see it
            if not _waiting(conn) and not select.select([sock], [], [], min(left, 0.5))[0]:
                continue
            line = conn.readline()
            if not line:
                raise OSError("the IMAP server closed the connection")
            news = _is_news(line)
        conn.send(b"DONE\r\n")
        while True:  # the rest of the untagged news, then IDLE's own end
            line = conn.readline()
            if not line:
                raise OSError("the IMAP server closed the connection")
            if line.startswith(tag):
                break
            news = news or _is_news(line)
        return news


def _is_news(line: bytes) -> bool:
    return b"EXISTS" in line or b"RECENT" in line


def _waiting(conn: imaplib.IMAP4) -> bool:
    """Whether bytes are already read from the socket and not yet from imaplib's buffered
    reader (or held by TLS): a peek on the socket made non-blocking, so it never waits."""
    sock = conn.socket()
    if isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
        return True
    before = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        reader = conn.file
        return isinstance(reader, io.BufferedReader) and bool(reader.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(before)


def _said(err: BaseException) -> str:
    return " ".join(str(err).split())[:200]
