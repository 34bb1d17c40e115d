"""``TASKBOT_SMTP_URL`` and ``TASKBOT_IMAP_URL`` read into what the sender and the inbox
need: a leaf, so the settings can check them at start without loading either."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine (where a password may go over a plain socket)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(raw: str, setting: str, schemes: tuple[str, ...], error: type[ValueError], *,
           form: str, starts: str, example: str) -> tuple[SplitResult, int | None, str, str]:
    """A server URL's parts, its port, scheme and host, or ``error`` saying what is wrong
    (never the URL itself: it may hold a password)."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise error(f"{setting} does not parse (not shown: it may hold a password); write it "
                    f"as {form}, with @ : / % in the password as %40 %3A %2F %25.") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise error(f"{setting} must start with {starts}.")
    if not parts.hostname:
        raise error(f"{setting} names no host: {example}.")
    return parts, port, scheme, parts.hostname


class SmtpUrlError(ValueError):
    """``TASKBOT_SMTP_URL`` does not say how to reach a server; the message says why
    (without the password)."""


@dataclass(frozen=True)
class SmtpUrl:
    host: str
    port: int
    tls: bool  # smtps: TLS from the first byte
    user: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, raw: str) -> SmtpUrl:
        parts, port, scheme, host = _split(
            raw, "TASKBOT_SMTP_URL", ("smtp", "smtps"), SmtpUrlError,
            form="smtp://[user:pass@]host[:port] or smtps://...",
            starts="smtp:// or smtps://", example="smtp://[user:pass@]host[:port]")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SmtpUrlError("TASKBOT_SMTP_URL has a path or query; it takes none "
                               "(not shown: it may hold a password).")
        tls = scheme == "smtps"
        return cls(host, port or (465 if tls else 25), tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password is not None else None)

    def shown(self) -> str:
        who = f"{self.user}:***@" if self.user else ""
        return f"{'smtps' if self.tls else 'smtp'}://{who}{self.host}:{self.port}"


@dataclass(frozen=True)
class ImapUrl:
    """``imaps://user:pass@host[:port]/INBOX`` (``imap://`` for a server on this machine
    or one that offers STARTTLS)."""

    host: str
    port: int
    tls: bool
    user: str
    password: str
    folder: str = "INBOX"

    @classmethod
    def parse(cls, raw: str) -> ImapUrl:
        parts, port, scheme, host = _split(
            raw, "TASKBOT_IMAP_URL", ("imap", "imaps"), ImapUrlError,
            form="imaps://user:pass@host[:port]/INBOX",
            starts="imaps:// (or imap://)", example="imaps://user:pass@host/INBOX")
        if not parts.username or parts.password is None:
            raise ImapUrlError("TASKBOT_IMAP_URL needs the mailbox's user and password: "
                               "imaps://user:pass@host/INBOX.")
        if parts.query or parts.fragment:
            raise ImapUrlError("TASKBOT_IMAP_URL has a query; it takes none "
                               "(not shown: it may hold a password).")
        folder = unquote(parts.path.strip("/")) or "INBOX"
        if len(folder) > 200 or any(c in folder for c in '\r\n"\\'):
            raise ImapUrlError("TASKBOT_IMAP_URL: the folder name has a character it "
                               "cannot have (a quote, a backslash or a line break).")
        tls = scheme == "imaps"
        return cls(host, port or (993 if tls else 143), tls,
                   unquote(parts.username), unquote(parts.password), folder)

    def shown(self) -> str:
        return (f"{'imaps' if self.tls else 'imap'}://{self.user}:***@{self.host}:"
                f"{self.port}/{self.folder}")


class ImapUrlError(ValueError):
    """``TASKBOT_IMAP_URL`` does not say how to reach a mailbox; the message says why."""
