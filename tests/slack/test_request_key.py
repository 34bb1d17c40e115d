"""A request's idempotency key is stored as it is made: any id a request carries, however
malformed, gives a key every store accepts, and two different ids never give one key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.seen import key_part
from bot.slack.state import EVENT_PREFIX, REQUEST_PREFIX, request_key

_STORABLE = st.characters(blacklist_categories=["Cs"])  # what a JSON or form body can carry


def storable(key: str) -> bool:
    return len(key) <= 255 and key.isascii() and key.isprintable()


@given(trigger=st.text(_STORABLE, min_size=1, max_size=600))
def test_any_trigger_id_gives_a_storable_key(trigger: str) -> None:
    key = request_key({"trigger_id": trigger}, {})
    assert key is not None and key.startswith(REQUEST_PREFIX) and storable(key)


@given(event_id=st.text(_STORABLE, min_size=1, max_size=600))
def test_any_event_id_gives_a_storable_key(event_id: str) -> None:
    key = request_key({"type": "event_callback", "event_id": event_id}, {})
    assert key is not None and key.startswith(EVENT_PREFIX) and storable(key)


@given(ts=st.text(_STORABLE, min_size=1, max_size=80),
       sig=st.text(_STORABLE, min_size=1, max_size=400))
def test_any_signature_gives_a_storable_key(ts: str, sig: str) -> None:
    key = request_key({}, {"x-slack-signature": sig, "x-slack-request-timestamp": ts})
    assert key is not None and storable(key)


@given(a=st.text(_STORABLE, min_size=1, max_size=400),
       b=st.text(_STORABLE, min_size=1, max_size=400))
def test_different_ids_never_share_a_key(a: str, b: str) -> None:
    if a != b:
        assert key_part(a) != key_part(b)


def test_slacks_own_ids_are_kept_as_they_are() -> None:
    assert request_key({"trigger_id": "13345224609.738474920.8088930838d88f008e0"}, {}) == (
        REQUEST_PREFIX + "t:13345224609.738474920.8088930838d88f008e0")
    assert request_key({"type": "event_callback", "event_id": "Ev9UQ52YNA"}, {}) == (
        EVENT_PREFIX + "Ev9UQ52YNA")
    # the review's case: a NUL in a trigger id, which PostgreSQL refuses in a text column
    assert "\x00" not in (request_key({"trigger_id": "\x00"}, {}) or "")
