"""SlackSender against the recording fake (429 bounds, DMs, files, the thread hop), event
dedup on both stores, and the manifest."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms import registered_platforms
from bot.slack import manifest
from bot.slack.sender import SlackSender
from handlers.catalog import build_registry
from handlers.core.messages import ChannelRef, File, Text
from handlers.delivery._engine import SendFailed
from tests.slack.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def make_sender(fake: FakeSlack, **kw: float) -> tuple[SlackSender, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = AsyncWebClient(token="xoxb-t", base_url=fake.api_url)
    return SlackSender(client, sleep=sleep, **kw), slept  # type: ignore[arg-type]


def test_429_then_200_posts_once(fake: FakeSlack) -> None:
    sender, slept = make_sender(fake)
    fake.rate_limit("chat.postMessage", times=2, retry_after=3)
    ts = asyncio.run(sender.post("C1", [Text(("hello <!channel>",))]))
    assert ts and slept == [3.0, 3.0]
    ok = fake.find("api", "chat.postMessage")
    assert len(ok) == 1 and "&lt;!channel&gt;" in ok[0].dump
    assert len(fake.find("api", "chat.postMessage", status=429)) == 2


def test_429_beyond_the_bound_raises_with_retry_after(fake: FakeSlack) -> None:
    sender, slept = make_sender(fake, max_retries=2)
    fake.rate_limit("chat.postMessage", times=5, retry_after=4)
    with pytest.raises(SendFailed) as err:
        asyncio.run(sender.post("C1", [Text(("hi",))]))
    assert err.value.retry_after == 4 and not err.value.permanent
    assert slept == [4.0, 4.0] and not fake.find("api", "chat.postMessage")
    # a Retry-After longer than the wait bound is not waited for at all
    sender, slept = make_sender(fake, max_wait=10)
    fake.rate_limit("chat.postMessage", times=1, retry_after=60)
    with pytest.raises(SendFailed) as err:
        asyncio.run(sender.post("C1", [Text(("hi",))]))
    assert err.value.retry_after == 60 and slept == []


@pytest.mark.parametrize("header", ["inf", "nan", "-5", "1e9", "3.5", "\u0663", "Wed, 21 Oct",
                                    "9999999"])
def test_a_malformed_retry_after_is_read_as_one_second(fake: FakeSlack, header: str) -> None:
    """Retry-After is whole seconds in ASCII digits: anything else (``float`` took ``inf``,
    ``nan`` and ``1e9``) is read as Slack's usual 1 s, never as a wait without end."""
    sender, slept = make_sender(fake)
    fake.rate_limit("chat.postMessage", times=1, retry_after=header)
    assert asyncio.run(sender.post("C1", [Text(("hi",))]))
    assert slept == [1.0]


def test_a_retry_after_past_the_deadline_is_not_waited(fake: FakeSlack) -> None:
    """The delivery engine's deadline (the row's lease) bounds the 429 waits: a Retry-After
    that would end past it is handed back to the engine at once, nothing slept."""
    sender, slept = make_sender(fake)
    fake.rate_limit("chat.postMessage", times=1, retry_after=20)
    deadline = time.monotonic() + 10
    with pytest.raises(SendFailed) as err:
        asyncio.run(sender.post("C1", [Text(("late",))], deadline))
    assert err.value.retry_after == 20 and slept == []
    fake.rate_limit("chat.postMessage", times=1, retry_after=2)
    assert asyncio.run(sender.post("C1", [Text(("in time",))], deadline)) and slept == [2.0]


def test_send_with_no_time_left_posts_nothing(fake: FakeSlack) -> None:
    sender, _ = make_sender(fake)
    sender.bind(asyncio.new_event_loop())
    raised: list[BaseException] = []

    def send() -> None:
        try:
            sender.send(ChannelRef("slack", "C1"), [Text(("x",))], "k", timeout=0.0)
        except SendFailed as err:
            raised.append(err)

    worker = threading.Thread(target=send)
    worker.start()
    worker.join(10)
    assert raised and fake.find("api", "chat.postMessage") == []


def test_direct_messages_and_files(fake: FakeSlack) -> None:
    sender, _ = make_sender(fake)
    blocks = [Text(("your file",)), File("a.csv", "text/csv", b"id\n1\n", "Actions")]
    asyncio.run(sender.post("dm:U0ALICE", blocks))
    assert fake.find("api", "conversations.open")[0].body["users"] == "U0ALICE"
    assert fake.find("api", "chat.postMessage")[0].body["channel"] == "D0ALICE"
    done = fake.find("api", "files.completeUploadExternal")[0]
    assert done.body["channel_id"] == "D0ALICE"
    assert fake.find("upload")[0].body["content"] == "id\n1\n"


def test_send_from_a_worker_thread_hops_to_the_loop(fake: FakeSlack) -> None:
    sender, _ = make_sender(fake)
    results: list[str] = []

    async def main() -> None:
        sender.bind(asyncio.get_running_loop())
        with pytest.raises(RuntimeError):
            sender.send(ChannelRef("slack", "C1"), [Text(("x",))], "k0")
        worker = threading.Thread(target=lambda: results.append(
            sender.send(ChannelRef("slack", "C9"), [Text(("from a thread",))], "k1")))
        worker.start()
        while worker.is_alive():
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert results and results[0].startswith("1700000000.")
    assert [c.body["channel"] for c in fake.find("api", "chat.postMessage")] == ["C9"]


def test_permanent_errors_are_marked(fake: FakeSlack) -> None:
    sender, _ = make_sender(fake)

    async def not_in_channel() -> None:
        from slack_sdk.errors import SlackApiError
        from slack_sdk.web.async_slack_response import AsyncSlackResponse

        resp = AsyncSlackResponse(client=sender.client, http_verb="POST", api_url="x",
                                  req_args={}, data={"ok": False, "error": "not_in_channel"},
                                  headers={}, status_code=200)
        raise SlackApiError("not_in_channel", resp)

    with pytest.raises(SendFailed) as err:
        asyncio.run(sender.call("chat.postMessage", not_in_channel))
    assert err.value.permanent


def test_manifest_is_generated_from_the_registry() -> None:
    """The file Slack installs is what bot.slack.manifest renders from the registry, so a
    command added to the core is a slash command (`make manifest` rewrites the file)."""
    on_disk = (ROOT / "slack-app-manifest.yml").read_text()
    assert on_disk == manifest.render(build_registry(registered_platforms())), "run `make manifest`"


def test_manifest_matches_the_app() -> None:
    yaml = pytest.importorskip("yaml")
    registry = build_registry(registered_platforms())
    data = yaml.safe_load(manifest.render(registry))
    commands = data["features"]["slash_commands"]
    assert {c["command"] for c in commands} == set(manifest.slash_commands(registry))
    # every noun of the core can be reached on Slack (admin had no slash command)
    assert set(registry.nouns) | {"help"} == set(manifest.slash_commands(registry).values())
    assert all(c["should_escape"] is True for c in commands)
    for c in commands:
        assert 0 < len(c["description"]) <= manifest.DESCRIPTION_WIDTH, c
        assert 0 < len(c["usage_hint"]) <= manifest.HINT_WIDTH, c
    for noun, common in registry.common.items():  # a hint names real verbs, first of all
        assert set(common) <= set(registry.commands[noun]), noun
        slash = next(c for c in commands
                     if c["command"] == manifest.RESERVED.get(noun, f"/{noun}"))
        if not common:  # a noun that is a command of its own (vote): its arguments
            assert slash["usage_hint"] == registry.commands[noun][""].usage, slash
            continue
        assert slash["usage_hint"].startswith(common[0]), slash
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["event_subscriptions"]["bot_events"] == [
        *manifest.EVENTS, *manifest.MESSAGE_EVENTS]
    # member_joined_channel / member_left_channel need channels:read and groups:read
    assert set(data["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "users:read", "im:write", "files:write", "channels:read",
        "groups:read", "channels:history", "groups:history", "reactions:write"}
