"""A real SMTP server on loopback (aiosmtpd) for the mail tests: it keeps what it receives
and answers a recipient with a code the test chose (421, 451, 550), as a provider would."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class MailServer:
    """``refuse[address] = "451 try later"`` answers that recipient so, ``times`` times
    (``None``: until cleared)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    sessions: int = 0
    logins: list[str] = field(default_factory=list)
    tls_sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    # --- aiosmtpd's handler hooks ---------------------------------------------------------

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        with self.lock:
            if session.ssl is not None:
                self.tls_sessions += 1
            else:
                self.sessions += 1
        return responses

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        with self.lock:
            answer = self.refuse.get(address.lower())
            if answer is not None:
                text, times = answer
                if times is not None:
                    if times <= 1:
                        del self.refuse[address.lower()]
                    else:
                        self.refuse[address.lower()] = (text, times - 1)
                return text
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                          parsed, raw))
        return "250 Message accepted"

    # --- the test's side -----------------------------------------------------------------

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received if address in r.rcpt_tos]

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Auth:
    def __init__(self, server: MailServer, user: str, password: str) -> None:
        self.server, self.user, self.password = server, user, password

    def __call__(self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        if ok:
            self.server.logins.append(self.user)
        return AuthResult(success=ok, handled=False)


def start(server: MailServer, **kwargs: Any) -> MailServer:
    """Serve on a free loopback port until :func:`stop`. ``auth=(user, password)`` asks for
    a login; ``tls_context`` offers STARTTLS."""
    auth = kwargs.pop("auth", None)
    if auth is not None:
        kwargs.update(authenticator=_Auth(server, *auth), auth_required=True,
                      auth_require_tls=kwargs.get("tls_context") is not None)
    server.port = free_port()
    controller = Controller(server, hostname=server.host, port=server.port,
                            ready_timeout=10.0, **kwargs)
    controller.start()
    server.controller = controller
    return server


def stop(server: MailServer) -> None:
    if server.controller is not None:
        server.controller.stop()
        server.controller = None
