"""Settings: .env parsing, the environment winning over it, validation, no secrets shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import URL

from bot.config import (
    UNPARSABLE_URL,
    ConfigError,
    Settings,
    load_settings,
    parse_dotenv,
    redact_url,
)
from handlers.core.context import utc_now


def test_parse_dotenv() -> None:
    text = """
# a comment
DATABASE_URL=sqlite:///x.db
export TASKBOT_TIMEZONE = "Europe/Lisbon"
SLACK_BOT_TOKEN='xoxb-1 2'
TASKBOT_ADMINS=U1, U2  # inline comment
EMPTY=
"""
    assert parse_dotenv(text) == {
        "DATABASE_URL": "sqlite:///x.db",
        "TASKBOT_TIMEZONE": "Europe/Lisbon",
        "SLACK_BOT_TOKEN": "xoxb-1 2",
        "TASKBOT_ADMINS": "U1, U2",
        "EMPTY": "",
    }
    with pytest.raises(ConfigError, match="line 1"):
        parse_dotenv("just words")


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({}, tmp_path)
    assert s.database_url == "sqlite:///taskbot.sqlite3"
    assert s.timezone == "Europe/Brussels"
    assert s.matrix_command_prefix == "!"
    assert not s.slack_configured and not s.matrix_configured
    assert s.to_core().timezone == "Europe/Brussels"


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TASKBOT_TIMEZONE=Europe/Lisbon\nTASKBOT_ADMINS=U1,U2\nPORT=3000\n"
        "SLACK_BOT_TOKEN=xoxb-secret\nSLACK_SIGNING_SECRET=shh\n"
    )
    s = load_settings({"TASKBOT_TIMEZONE": "America/New_York", "TASKBOT_ADMINS": "U9 shell:ann"},
                      tmp_path)
    assert s.timezone == "America/New_York"
    assert s.admins == frozenset({"U9", "shell:ann"})
    assert s.port == 3000
    assert s.slack_configured  # HTTP mode: bot token + signing secret
    core = s.to_core(extra_admins=frozenset({"shell:me"}))
    assert core.admins == frozenset({"U9", "shell:ann", "shell:me"})


def test_matrix_configured(tmp_path: Path) -> None:
    env = {"MATRIX_HOMESERVER": "http://localhost:8008", "MATRIX_USER_ID": "@bot:localhost"}
    assert not load_settings(env, tmp_path).matrix_configured
    env["MATRIX_ACCESS_TOKEN"] = "syt_secret"
    assert load_settings(env, tmp_path).matrix_configured


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TASKBOT_TIMEZONE": "Mars/Olympus"}, "TASKBOT_TIMEZONE='Mars/Olympus' is not a time zone"),
        ({"PORT": "http"}, "PORT='http' is not a TCP port"),
        ({"PORT": "70000"}, "is not a TCP port"),
        # digits of other scripts: isdigit() passes "²" (int() then raises), int() reads "٣"
        ({"PORT": "²"}, "PORT='²' is not a TCP port"),
        ({"PORT": "٣٠٠٠"}, "is not a TCP port"),
        ({"PORT": "9" * 5000}, "is not a TCP port"),
        ({"TASKBOT_LANGUAGE": "xx"}, "TASKBOT_LANGUAGE='xx' is not a language the bot has"),
        ({"TASKBOT_LANGUAGE": "français"}, "is not a language the bot has"),
        ({"TASKBOT_RETENTION_DAYS": "0"}, "TASKBOT_RETENTION_DAYS='0' is not a number"),
        ({"TASKBOT_RETENTION_DAYS": "1e3"}, "is not a number of days"),
        ({"TASKBOT_RETENTION_DAYS": "6"}, "is not a number of days from 7 to 36500"),
        ({"TASKBOT_RETENTION_DAYS": "٣٠"}, "is not a number of days"),
        ({"TASKBOT_RETENTION_DAYS": "99999"}, "is not a number of days"),
        ({"MATRIX_TRUST": "always"}, "MATRIX_TRUST='always' is not one of tofu, verified"),
    ],
)
def test_invalid_settings(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env, tmp_path)


def test_repr_never_shows_secrets() -> None:
    s = Settings(
        database_url="postgresql://bot:pg-pass@db/taskbot",
        slack_bot_token="xoxb-tok", slack_app_token="xapp-tok", slack_signing_secret="sig",
        matrix_password="mx-pass", matrix_access_token="mx-tok",
    )
    shown = repr(s) + str(s) + f"{s}"
    for secret in ("pg-pass", "xoxb-tok", "xapp-tok", "sig'", "mx-pass", "mx-tok"):
        assert secret not in shown
    assert "postgresql://bot:***@db/taskbot" in shown
    assert "slack_bot_token='***'" in shown


@pytest.mark.parametrize("raw", ["0", "abc", "-5", "7200", "٣٠", "nan", "1e3", "1_0", "²"])
def test_bad_tick_interval(raw: str) -> None:
    with pytest.raises(ConfigError, match="TASKBOT_TICK_SECONDS"):
        load_settings({"TASKBOT_TICK_SECONDS": raw}, cwd=Path("/nonexistent"))


def test_language_and_retention() -> None:
    nowhere = Path("/nonexistent")
    assert load_settings({}, cwd=nowhere).to_core().language == "en"
    assert load_settings({}, cwd=nowhere).to_core().retention_days is None
    core = load_settings({"TASKBOT_LANGUAGE": "FR", "TASKBOT_RETENTION_DAYS": "365"},
                         cwd=nowhere).to_core()
    assert (core.language, core.retention_days) == ("fr", 365)
    assert load_settings({"TASKBOT_RETENTION_DAYS": "off"}, cwd=nowhere).retention_days is None


def test_tick_interval() -> None:
    assert load_settings({}, cwd=Path("/nonexistent")).tick_seconds == 30
    assert load_settings({"TASKBOT_TICK_SECONDS": "0.5"}, cwd=Path("/nonexistent")).tick_seconds == 0.5


def test_clock_starts_at_the_setting_and_runs_on(tmp_path: Path) -> None:
    """TASKBOT_CLOCK: the core's clock starts there (in UTC) and advances with real time."""
    s = load_settings({"TASKBOT_CLOCK": "2027-03-28T02:30:00+02:00"}, tmp_path)
    clock = s.to_core().clock
    first, second = clock(), clock()
    start = dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC)
    assert start <= first <= second < start + dt.timedelta(minutes=1)
    assert first.tzinfo is not None and first.utcoffset() == dt.timedelta(0)
    assert load_settings({}, tmp_path).to_core().clock is utc_now  # unset: the real clock


@pytest.mark.parametrize("raw", ["2027-03-28T02:30", "tomorrow", "2027-02-30T00:00+00:00"])
def test_clock_needs_an_aware_iso_instant(tmp_path: Path, raw: str) -> None:
    with pytest.raises(ConfigError, match="TASKBOT_CLOCK"):
        load_settings({"TASKBOT_CLOCK": raw}, tmp_path)


# --- database URLs in output and logs ----------------------------------------------------------

# Markers at the start, middle and end of every generated password: none may be shown, so
# neither the whole password nor any end of it leaks. Upper case, absent from the rest of
# the URLs; the filler holds every character that URL parsing treats specially.
_FILL = st.text(alphabet="/@:%?#&=+ ;,.~abc019", max_size=10)
_PASSWORDS = st.builds(lambda a, b: f"Pw{a}Mm{b}Zz", _FILL, _FILL)
_MARKERS = ("Pw", "Mm", "Zz")


def _hidden(shown: str) -> bool:
    return not any(m in shown or quote(m) in shown for m in _MARKERS)


@given(_PASSWORDS, st.sampled_from(["postgresql", "postgres", "postgresql+psycopg"]))
def test_redact_url_hides_an_encoded_password(password: str, scheme: str) -> None:
    url = URL.create(scheme, username="bot", password=password, host="db.example", port=5432,
                     database="tb").render_as_string(hide_password=False)
    shown = redact_url(url)
    assert _hidden(shown), shown
    assert shown == f"{scheme}://bot:***@db.example:5432/tb"


@given(_PASSWORDS)
def test_redact_url_hides_a_raw_password(password: str) -> None:
    # as people paste them: nothing percent-encoded, whatever the parser then makes of it
    shown = redact_url(f"postgresql://bot:{password}@db.example/tb")
    assert _hidden(shown), shown
    assert shown in (UNPARSABLE_URL, "postgresql://***", "postgresql://bot:***@db.example/tb")


@given(_PASSWORDS, st.sampled_from(["password", "PASSWORD", "sslpassword", "pass", "auth_token"]))
def test_redact_url_hides_password_query_parameters(password: str, name: str) -> None:
    encoded = f"postgresql://bot@db.example/tb?sslmode=require&{name}={quote(password)}"
    raw = f"postgresql://bot@db.example/tb?{name}={password.replace('&', '')}"
    for url in (encoded, raw):
        shown = redact_url(url)
        assert _hidden(shown), (url, shown)
    assert redact_url(encoded) in (
        f"postgresql://bot@db.example/tb?{name}=***&sslmode=require",
        f"postgresql://bot@db.example/tb?sslmode=require&{name}=***")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:s3/cr3t@db/tb", "postgresql://bot:***@db/tb"),
        ("postgresql://bot:p@ss@db/tb", "postgresql://***"),
        ("postgresql://bot:p@ss:w0rd@db/tb", UNPARSABLE_URL),
        ("postgresql://bot:p%40ss@db/tb?application_name=a%40b",
         "postgresql://bot:***@db/tb?application_name=a%40b"),
        ("sqlite:////srv/me@host/taskbot.sqlite3", "sqlite:////srv/me%40host/taskbot.sqlite3"),
        ("postgresql://bot@db/tb?password=s3cr3t", "postgresql://bot@db/tb?password=***"),
        ("sqlite:///taskbot.sqlite3", "sqlite:///taskbot.sqlite3"),
        ("bot:s3cr3t@db", UNPARSABLE_URL),
        ("postgresql://bot:s3cr3t@db:port/tb", UNPARSABLE_URL),
    ],
)
def test_redact_url_examples(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url", ["bot:s3cr3t@db/tb", "postgresql://bot:s3cr3t@db:port/tb",
            "postgresql://bot:s3@cr3t@db/tb"])
def test_a_database_url_the_driver_would_misread_is_refused_unshown(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL does not parse") as err:
        load_settings({"DATABASE_URL": url}, cwd=Path("/nonexistent"))
    assert "cr3t" not in str(err.value)


def test_the_matrix_store_lives_beside_a_sqlite_database(tmp_path: Path) -> None:
    """The device's keys travel with the store they belong to; elsewhere ./matrix-store,
    and MATRIX_STORE_PATH wins."""
    db = tmp_path / "data" / "taskbot.sqlite3"
    settings = load_settings({"DATABASE_URL": f"sqlite:///{db}"}, tmp_path)
    assert settings.matrix_store_path == str(tmp_path / "data" / "taskbot.matrix-store")
    assert settings.matrix_trust == "tofu"
    pg = load_settings({"DATABASE_URL": "postgresql://u:p@db/taskbot"}, tmp_path)
    assert pg.matrix_store_path == "matrix-store"
    chosen = load_settings({"MATRIX_STORE_PATH": "/srv/keys", "MATRIX_TRUST": "TOFU"},
                           tmp_path)
    assert (chosen.matrix_store_path, chosen.matrix_trust) == ("/srv/keys", "tofu")
