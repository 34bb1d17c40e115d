"""``TASKBOT_SMTP_URL`` read into what the sender needs: a leaf, so the settings can check
it at start without loading the sender."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


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
        try:
            parts = urlsplit(raw.strip())
            port = parts.port
        except ValueError:
            raise SmtpUrlError("TASKBOT_SMTP_URL does not parse (not shown: it may hold a "
                               "password); write it as smtp://[user:pass@]host[:port] or "
                               "smtps://..., with @ : / % in the password as %40 %3A %2F %25."
                               ) from None
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise SmtpUrlError("TASKBOT_SMTP_URL must start with smtp:// or smtps://.")
        if not parts.hostname:
            raise SmtpUrlError("TASKBOT_SMTP_URL names no host: smtp://[user:pass@]host[:port].")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SmtpUrlError("TASKBOT_SMTP_URL has a path or query; it takes none "
                               "(not shown: it may hold a password).")
        tls = scheme == "smtps"
        return cls(parts.hostname, port or (465 if tls else 25), tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password is not None else None)

    def shown(self) -> str:
        who = f"{self.user}:***@" if self.user else ""
        return f"{'smtps' if self.tls else 'smtp'}://{who}{self.host}:{self.port}"
