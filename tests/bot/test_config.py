"""Settings: .env parsing, the environment winning over it, validation, no secrets shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings, parse_dotenv
from handlers.context import utc_now


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


@pytest.mark.parametrize("raw", ["0", "abc", "-5", "7200"])
def test_bad_tick_interval(raw: str) -> None:
    with pytest.raises(ConfigError, match="TASKBOT_TICK_SECONDS"):
        load_settings({"TASKBOT_TICK_SECONDS": raw}, cwd=Path("/nonexistent"))


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
