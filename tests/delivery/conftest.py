"""The Matrix fixtures (one real Synapse per session, fresh accounts per test) and the
database fixtures come from tests/matrix and tests/conftest; nothing is copied here."""

from tests.matrix.conftest import synapse, world  # noqa: F401
