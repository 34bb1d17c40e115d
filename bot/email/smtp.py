"""The mail side of the Sender port: outbox rows for ``email`` over SMTP.

One connection serves the sends of a tick and is closed once idle; a dropped one is
reopened for the next send. ``smtp://`` upgrades with STARTTLS whenever the server offers
it, and refuses to send a password over a connection that is not encrypted unless the
server is on this machine; ``smtps://`` is TLS from the start. The server's answer decides
what happens to the row: a 4xx (or a connection that failed) is temporary, so the row is
retried with backoff; a 5xx is permanent, so the row is marked failed and shows in
``secretariat deliveries``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable

from bot.email.address import PLATFORM, parse_address
from bot.email.message import Prepared, domain_of, message_bytes, message_id, prepare
from bot.email.render import render_mail
from bot.email.settings import SmtpUrl, SmtpUrlError, loopback
from handlers.core.messages import Block, ChannelRef
from handlers.delivery import SendFailed

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0
IDLE_CLOSE = 20.0  # seconds a connection stays open with nothing to send
CACHE_POSTS = 8  # posts whose rendering is kept for their next recipients


def _answer(code: int, text: bytes | str, to: str | None = None) -> str:
    """The server's answer for a log and a reply line: one line, bounded, and without the
    recipient's address (servers quote it; the reply may be read in a shared channel)."""
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    said = " ".join(said.split())
    if to:
        said = re.sub(rf"<?{re.escape(to)}>?", "<recipient>", said, flags=re.IGNORECASE)
    return f"{code} {said[:200]}"


def _failure(code: int, text: bytes | str, to: str | None = None) -> SendFailed:
    """A server's refusal as the delivery engine reads it: 5xx for good, else again."""
    return SendFailed(f"mail server said {_answer(code, text, to)}",
                      permanent=500 <= code < 600)


class SmtpSender:
    # a resend of one outbox row is the same message (its Message-ID comes from the row's
    # key, and mail clients collapse it): the delivery engine may mark rows a few at a time
    idempotent = True

    def __init__(self, url: SmtpUrl, mail_from: str, *, replies: bool = False,
                 clock: Callable[[], dt.datetime] | None = None,
                 idle_close: float = IDLE_CLOSE,
                 tls_context: ssl.SSLContext | None = None) -> None:
        if parse_address(mail_from) is None:
            raise SmtpUrlError(f"TASKBOT_MAIL_FROM={mail_from!r} is not a mail address.")
        self.url = url
        self.mail_from = mail_from
        self.replies = replies  # the bot reads its mailbox: mails say a reply runs commands
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.idle_close = idle_close
        self.tls = tls_context or ssl.create_default_context()
        self._lock = threading.Lock()
        self._conn: smtplib.SMTP | None = None
        self._timer: threading.Timer | None = None
        self._last_used = 0.0
        self.connections = 0  # opened so far (the benchmark and the tests read it)
        self._cache: dict[tuple[Block, ...], Prepared] = {}

    # --- the connection -----------------------------------------------------------------

    def _open(self, timeout: float) -> smtplib.SMTP:
        url = self.url
        conn: smtplib.SMTP
        if url.tls:
            conn = smtplib.SMTP_SSL(url.host, url.port, timeout=timeout, context=self.tls)
        else:
            conn = smtplib.SMTP(url.host, url.port, timeout=timeout)
        try:
            conn.ehlo()
            if not url.tls and conn.has_extn("starttls"):
                conn.starttls(context=self.tls)
                conn.ehlo()
            if url.user is not None:
                encrypted = url.tls or (conn.sock is not None and isinstance(conn.sock,
                                                                           ssl.SSLSocket))
                if not encrypted and not loopback(url.host):
                    log.error("mail: %s offers no STARTTLS; the password is not sent in "
                              "clear", url.shown())
                    raise SendFailed(
                        f"{url.shown()} offers no STARTTLS: the password is not sent in "
                        "clear (use smtps:// or a server that offers STARTTLS)")
                conn.login(url.user, url.password or "")
        except BaseException:
            _quietly_close(conn)
            raise
        self.connections += 1
        return conn

    def _connection(self, timeout: float) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._open(timeout)
        else:
            sock = self._conn.sock
            if sock is not None:
                sock.settimeout(timeout)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None

    def _close_when_idle(self) -> None:
        """Called under the lock after each send: one timer per open connection, which
        closes it once no send has used it for ``idle_close`` seconds (a fan-out of a
        thousand rows keeps the one connection and starts one timer)."""
        self._last_used = time.monotonic()
        if self._timer is None and self._conn is not None:
            self._start_timer(self.idle_close)

    def _start_timer(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._idle_check)
        self._timer.daemon = True
        self._timer.start()

    def _idle_check(self) -> None:
        with self._lock:
            self._timer = None
            if self._conn is None:
                return
            idle = time.monotonic() - self._last_used
            if idle < self.idle_close:
                self._start_timer(self.idle_close - idle)
                return
            self._quit()

    def _quit(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._drop()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._quit()

    # --- the port -----------------------------------------------------------------------

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        to = channel.direct_user
        if channel.platform != PLATFORM or to is None or parse_address(to) is None:
            raise SendFailed(f"not a mail recipient: {channel.platform}:{channel.channel_id}",
                             permanent=True)
        bound = CONNECT_TIMEOUT if timeout is None else min(CONNECT_TIMEOUT, timeout)
        if bound <= 0:
            raise SendFailed("no time left to send", retry_after=30.0)
        with self._lock:
            prepared = self._prepared(blocks)
            msg = message_bytes(prepared, to=to, sender=self.mail_from, key=key,
                                now=self.clock())
            try:
                self._send(msg, to, bound, key)
            finally:
                self._close_when_idle()
        return message_id(key, domain_of(self.mail_from), prepared.topic)

    def _prepared(self, blocks: list[Block]) -> Prepared:
        """The post's rendering, made once for all its recipients (the rows of one post
        are claimed and sent together)."""
        whole = tuple(blocks)
        found = self._cache.get(whole)
        if found is None:
            found = prepare(render_mail(blocks, replies=self.replies))
            if len(self._cache) >= CACHE_POSTS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[whole] = found
        return found

    def _send(self, msg: bytes, to: str, bound: float, key: str) -> None:
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                conn = self._connection(bound)
                conn.sendmail(self.mail_from, [to], msg)
                return
            except smtplib.SMTPRecipientsRefused as err:
                code, text = err.recipients.get(to, (450, b"recipient refused"))
                self._reset()
                raise _failure(code, text, to) from None
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
                self._reset()
                if err.smtp_code == 421:
                    self._drop()
                raise _failure(err.smtp_code, err.smtp_error, to) from None
            except smtplib.SMTPServerDisconnected:
                # a connection kept from an earlier send that the server has since closed:
                # one fresh try, within the bound
                self._drop()
                if attempt == 2 or time.monotonic() - started >= bound:
                    raise SendFailed("the mail server closed the connection") from None
            except smtplib.SMTPConnectError as err:
                self._drop()
                raise _failure(err.smtp_code if err.smtp_code >= 400 else 421,
                               err.smtp_error) from None
            except smtplib.SMTPAuthenticationError as err:
                # the bot's own settings, not the recipient: every row would fail alike,
                # so they wait (with backoff) for the password to be put right
                self._drop()
                log.error("mail: %s refused the login: %s", self.url.shown(),
                          _answer(err.smtp_code, err.smtp_error))
                raise SendFailed(f"{self.url.shown()}: login refused "
                                 f"({_answer(err.smtp_code, err.smtp_error)})") from None
            except smtplib.SMTPResponseException as err:
                self._drop()
                raise _failure(err.smtp_code, err.smtp_error, to) from None
            except (TimeoutError, smtplib.SMTPException, OSError) as err:
                self._drop()
                log.warning("mail %s: %s: %s", key, type(err).__name__, err)
                raise SendFailed(f"mail server unreachable: {type(err).__name__}") from None

    def _reset(self) -> None:
        """After a refusal the server is mid-transaction: RSET, or drop the connection."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()
