"""Settings from the environment and an optional ``.env`` file (the real environment wins).

Everything the runtime needs is read once, here, into a frozen value that is passed down;
nothing else reads ``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.platforms import registered_platforms
from handlers.core.context import Clock, CoreSettings, utc_now
from handlers.core.grammar import ascii_int
from handlers.core.i18n import LANGUAGES
from storage.db import normalise_url
from storage.retention import MIN_DAYS

DEFAULT_DATABASE_URL = "sqlite:///taskbot.sqlite3"
DEFAULT_TIMEZONE = "Europe/Brussels"
DEFAULT_EXPORT_DIR = "exports"
# the databases the bot is built and tested for (SQLAlchemy dialect names)
DATABASES = ("sqlite", "postgresql")
SECRET_FIELDS = frozenset(
    {"slack_bot_token", "slack_app_token", "slack_signing_secret", "matrix_password",
     "matrix_access_token", "smtp_url", "imap_url"}
)


class ConfigError(Exception):
    """A setting has a value the bot cannot start with; the message says which and why."""


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments, blank lines, optional quotes and ``export``."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ConfigError(f".env line {number} is not KEY=VALUE: {line[:40]!r}")
        key, value = m.group(1), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            if m.group(2)[0] == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            # an unquoted value ends at an inline comment
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
        values[key] = value
    return values


def read_environment(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> dict[str, str]:
    """The ``.env`` file of ``cwd`` (if any) overlaid by the real environment."""
    env = dict(os.environ if environ is None else environ)
    dotenv = (cwd or Path.cwd()) / ".env"
    merged: dict[str, str] = {}
    if dotenv.is_file():
        merged.update(parse_dotenv(dotenv.read_text(encoding="utf-8")))
    merged.update(env)
    return merged


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = DEFAULT_TIMEZONE
    admins: frozenset[str] = frozenset()
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    port: int | None = None
    slack_api_url: str | None = None
    matrix_homeserver: str | None = None
    matrix_user_id: str | None = None
    matrix_password: str | None = None
    matrix_access_token: str | None = None
    matrix_command_prefix: str = "!"
    # where the Matrix device's end-to-end keys and sessions live (a directory; default:
    # beside a SQLite database, else ./matrix-store), and whose devices it encrypts for
    matrix_store_path: str = "matrix-store"
    matrix_trust: str = "tofu"  # tofu | verified
    # how often ``taskbot run`` (and the interactive shell) runs the delivery engine
    tick_seconds: float = 30.0
    # how long a claimed outbox row is held before another process may take it over
    lease_seconds: float = 300.0
    # the address people reach ``taskbot run``'s web pages at (feed and dashboard links)
    public_url: str = ""
    # TASKBOT_CLOCK (tests and rehearsals): the instant the bot's clock read when the
    # settings were loaded; from there it runs on at the real pace
    clock_start: dt.datetime | None = None
    clock_origin: float = 0.0
    # where the shell and ``taskbot report`` put the files the bot returns
    export_dir: str = DEFAULT_EXPORT_DIR
    # mail: the SMTP server outbox rows for ``email`` go through, and the bot's address
    smtp_url: str | None = None
    mail_from: str | None = None
    # the mailbox replies are read from, and the check a mail must have passed to act
    imap_url: str | None = None
    mail_require_auth: str | None = None  # "dkim"
    # what the bot writes in where a person or a group chose no language
    language: str = "en"
    # closed actions' notes and the outbox's finished rows older than this are purged by
    # the delivery tick (None: kept)
    retention_days: int | None = None

    @property
    def slack_configured(self) -> bool:
        """A bot token plus either Socket Mode (app token) or HTTP mode (signing secret)."""
        return bool(self.slack_bot_token and (self.slack_app_token or self.slack_signing_secret))

    @property
    def matrix_configured(self) -> bool:
        return bool(
            self.matrix_homeserver
            and self.matrix_user_id
            and (self.matrix_password or self.matrix_access_token)
        )

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_url and self.mail_from)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                shown = "'***'"
            elif f.name == "database_url":
                shown = repr(redact_url(value))
            else:
                shown = repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    def clock(self) -> Clock:
        """The real clock, or with ``TASKBOT_CLOCK`` one that started at that instant."""
        start, origin = self.clock_start, self.clock_origin
        if start is None:
            return utc_now

        def shifted() -> dt.datetime:
            return start + dt.timedelta(seconds=time.monotonic() - origin)

        return shifted

    def to_core(self, *, extra_admins: frozenset[str] = frozenset()) -> CoreSettings:
        return CoreSettings(timezone=self.timezone, admins=self.admins | extra_admins,
                            public_url=self.public_url, clock=self.clock(),
                            export_dir=self.export_dir, platforms=registered_platforms(),
                            language=self.language, retention_days=self.retention_days)


UNPARSABLE_URL = "<a database URL that does not parse (not shown: it may hold a password)>"
# query parameters that carry credentials (libpq's password, sslpassword, a token, a key)
_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|auth|cred", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A database URL as it can be shown in logs and output: SQLAlchemy's own rendering with
    the password hidden, credential-like query parameters too, and nothing of a URL that does
    not parse (its text may be all password).

    A raw ``@`` beyond the one that ends the user part (a password pasted unencoded) makes
    the parser read the rest of the password as the host, path or query: then only the
    scheme is shown.
    """
    parsed = _parse(url)
    if parsed is None:
        return UNPARSABLE_URL
    if _misplaced_at(url, parsed):
        return f"{url.partition('://')[0]}://***"
    query = {k: ("***" if _SECRET_PARAM.search(k) else v) for k, v in parsed.query.items()}
    shown = parsed.set(query=query).render_as_string(hide_password=True)
    return shown.replace("=%2A%2A%2A", "=***")


def _parse(url: str) -> URL | None:
    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError):
        return None


def _misplaced_at(url: str, parsed: URL) -> bool:
    """Whether a raw ``@`` after ``scheme://`` is not the one that ends the user part. SQLite
    URLs hold a file path, where ``@`` is just a character."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest or scheme.startswith("sqlite"):
        return False
    if rest.count("@") > 1:
        return True
    # one @: it ends the user part, or sits in a query value of a URL without one
    return parsed.username is None and "@" in rest.split("?", 1)[0]


def check_database_url(url: str) -> None:
    """Refuse, without quoting it, a URL the driver would misread: one that does not parse
    (the parser's own error would print it) or with a raw ``@`` outside the user part (the
    driver would take the rest of a password for the host and say so in its error)."""
    url = normalise_url(url)
    parsed = _parse(url)
    if parsed is None or _misplaced_at(url, parsed):
        raise ConfigError(
            "DATABASE_URL does not parse as a database URL (not shown: it may hold a "
            "password); in a password or a query value, write @ : / % ? # & as "
            "%40 %3A %2F %25 %3F %23 %26.")


_SECONDS = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")


def _opt(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(key, "").strip()
    return value or None


def _seconds(env: Mapping[str, str], key: str, default: float, low: float,
             high: float) -> float:
    raw = _opt(env, key)
    if raw is None:
        return default
    # ASCII digits with an optional fraction: float() also reads "nan", "1e3", "1_0" and
    # other scripts' digits
    value = float(raw) if _SECONDS.fullmatch(raw) else low - 1
    if not low <= value <= high:
        raise ConfigError(f"{key}={raw!r} is not a number of seconds from {low:g} to {high:g}.")
    return value


def _clock_start(env: Mapping[str, str]) -> dt.datetime | None:
    """``TASKBOT_CLOCK``: an ISO instant with its offset (a naive one would be ambiguous)."""
    raw = _opt(env, "TASKBOT_CLOCK")
    if raw is None:
        return None
    try:
        start = dt.datetime.fromisoformat(raw)
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise ConfigError(f"TASKBOT_CLOCK={raw!r} is not an ISO date and time with an offset "
                          "(like 2026-11-28T09:00+00:00).")
    return start.astimezone(dt.UTC)


MATRIX_TRUSTS = ("tofu", "verified")


def default_store_path(database_url: str) -> str:
    """Beside a SQLite file (``taskbot.sqlite3`` -> ``taskbot.matrix-store``): the keys
    travel with the store they belong to; else ``matrix-store`` in the working directory."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return str(db.with_name(db.stem + ".matrix-store"))
    return "matrix-store"


def _database_url(env: Mapping[str, str]) -> str:
    """``DATABASE_URL``, refused at start (without being shown) when it does not parse or
    names a database the bot does not work on."""
    url = _opt(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    check_database_url(url)
    backend = make_url(normalise_url(url)).get_backend_name()
    if backend not in DATABASES:
        raise ConfigError(f"DATABASE_URL names {backend}, which Taskbot does not work on: "
                          "use sqlite:///<file> or postgresql://user:password@host/db.")
    return url


def _mail(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``TASKBOT_SMTP_URL`` and ``TASKBOT_MAIL_FROM``, checked at start (the URL is never
    shown: it may hold a password)."""
    from bot.email.address import parse_address
    from bot.email.settings import SmtpUrl

    url, sender = _opt(env, "TASKBOT_SMTP_URL"), _opt(env, "TASKBOT_MAIL_FROM")
    if url is None and sender is None:
        return None, None
    if url is None or sender is None:
        raise ConfigError("Mail needs both TASKBOT_SMTP_URL and TASKBOT_MAIL_FROM.")
    try:
        SmtpUrl.parse(url)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if parse_address(sender) is None:
        raise ConfigError(f"TASKBOT_MAIL_FROM={sender[:80]!r} is not a mail address "
                          "(like taskbot@example.org).")
    return url, sender


def _inbox(env: Mapping[str, str], sending: bool) -> tuple[str | None, str | None]:
    """``TASKBOT_IMAP_URL`` and ``TASKBOT_MAIL_REQUIRE_AUTH``, checked at start."""
    from bot.email.settings import ImapUrl

    url, auth = _opt(env, "TASKBOT_IMAP_URL"), _opt(env, "TASKBOT_MAIL_REQUIRE_AUTH")
    if auth is not None and auth.lower() not in ("dkim", "off"):
        raise ConfigError(f"TASKBOT_MAIL_REQUIRE_AUTH={auth[:40]!r}: it takes dkim or off.")
    auth = None if auth is None or auth.lower() == "off" else auth.lower()
    if url is None:
        return None, auth
    if not sending:
        raise ConfigError("TASKBOT_IMAP_URL needs TASKBOT_SMTP_URL and TASKBOT_MAIL_FROM: "
                          "the bot answers every mail it reads.")
    try:
        ImapUrl.parse(url)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return url, auth


def load_settings(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    """Settings from ``environ`` (default: the process environment) and ``cwd``/.env."""
    env = read_environment(environ, cwd)
    timezone = _opt(env, "TASKBOT_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"TASKBOT_TIMEZONE={timezone!r} is not a time zone (use an Area/City name, "
            "like Europe/Brussels)."
        ) from None
    port_raw = _opt(env, "PORT")
    port: int | None = None
    if port_raw is not None:
        port = ascii_int(port_raw, 5)
        if port is None or not 0 < port < 65536:
            raise ConfigError(f"PORT={port_raw!r} is not a TCP port number.")
    admins = frozenset(a for a in re.split(r"[,\s]+", env.get("TASKBOT_ADMINS", "")) if a)
    tick_seconds = _seconds(env, "TASKBOT_TICK_SECONDS", 30.0, 0.1, 3600)
    lease_seconds = _seconds(env, "TASKBOT_LEASE_SECONDS", 300.0, 1, 86400)
    smtp_url, mail_from = _mail(env)
    imap_url, mail_require_auth = _inbox(env, smtp_url is not None)
    language = (_opt(env, "TASKBOT_LANGUAGE") or "en").lower()
    if language not in LANGUAGES:
        raise ConfigError(f"TASKBOT_LANGUAGE={language!r} is not a language the bot has "
                          f"({', '.join(LANGUAGES)}).")
    retention_raw = _opt(env, "TASKBOT_RETENTION_DAYS")
    retention_days: int | None = None
    if retention_raw is not None and retention_raw.lower() != "off":
        retention_days = ascii_int(retention_raw, 5)
        if retention_days is None or not MIN_DAYS <= retention_days <= 36500:
            raise ConfigError(f"TASKBOT_RETENTION_DAYS={retention_raw!r} is not a number of "
                              f"days from {MIN_DAYS} to 36500 (or off).")
    database_url = _database_url(env)
    trust = (_opt(env, "MATRIX_TRUST") or "tofu").lower()
    if trust not in MATRIX_TRUSTS:
        raise ConfigError(f"MATRIX_TRUST={trust!r} is not one of {', '.join(MATRIX_TRUSTS)}.")
    return Settings(
        database_url=database_url,
        matrix_store_path=_opt(env, "MATRIX_STORE_PATH") or default_store_path(database_url),
        matrix_trust=trust,
        timezone=timezone,
        admins=admins,
        slack_bot_token=_opt(env, "SLACK_BOT_TOKEN"),
        slack_app_token=_opt(env, "SLACK_APP_TOKEN"),
        slack_signing_secret=_opt(env, "SLACK_SIGNING_SECRET"),
        port=port,
        slack_api_url=_opt(env, "SLACK_API_URL"),
        matrix_homeserver=_opt(env, "MATRIX_HOMESERVER"),
        matrix_user_id=_opt(env, "MATRIX_USER_ID"),
        matrix_password=_opt(env, "MATRIX_PASSWORD"),
        matrix_access_token=_opt(env, "MATRIX_ACCESS_TOKEN"),
        matrix_command_prefix=_opt(env, "MATRIX_COMMAND_PREFIX") or "!",
        tick_seconds=tick_seconds,
        lease_seconds=lease_seconds,
        public_url=_opt(env, "TASKBOT_PUBLIC_URL") or "",
        clock_start=_clock_start(env),
        clock_origin=time.monotonic(),
        export_dir=_opt(env, "TASKBOT_EXPORT_DIR") or DEFAULT_EXPORT_DIR,
        smtp_url=smtp_url,
        mail_from=mail_from,
        imap_url=imap_url,
        mail_require_auth=mail_require_auth,
        language=language,
        retention_days=retention_days,
    )
