"""Fixtures from elsewhere, imported, not copied: the fake Slack, the Matrix ones (one real Synapse per
session, fresh accounts per test), the CLI's (``taskbot`` on a fresh database), and the
database fixtures of tests/conftest.py."""

from tests.bot.conftest import db_url, taskbot  # noqa: F401
from tests.matrix.conftest import synapse, world  # noqa: F401
from tests.slack.conftest import fake  # noqa: F401
