"""A recording fake of Slack: the Web API, response_urls, file uploads and a Socket Mode
websocket, served over real HTTP on 127.0.0.1 from a thread of its own.

It answers the way Slack does (``ok``, ``ts``, ``channel``...), records every call with its
parsed body, and can be told to answer a method with 429 and ``Retry-After`` a number of times,
or slowly: ``slow(method, pause)`` runs ``pause(call)`` (blocking, on a thread of its own) after
recording each call and before answering it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

T = TypeVar("T")


@dataclass
class Call:
    kind: str  # api | respond | upload | ws
    method: str  # Web API method, response_url id, file id or envelope id
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived (the benchmark)

    @property
    def dump(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)

    def texts(self) -> str:
        """Every text of the call (fallback and blocks), for assertions."""
        return self.dump


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: ``v0=`` HMAC-SHA256 of ``v0:{ts}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class FakeSlack:
    def __init__(self, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
                 ) -> None:
        self.calls: list[Call] = []
        self.names: dict[str, str] = {}
        self.zones: dict[str, str] = {}  # users.info's tz, by user id
        self._limits: dict[str, list[float | str]] = {}
        self._pauses: dict[str, Callable[[Call], None]] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        # the benchmark passes uvloop's, so the fake costs less of the machine it measures
        self._loop = (loop_factory or asyncio.new_event_loop)()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0
        # Socket Mode: envelopes to push once a client connects, and what it answered
        self.ws_outbox: asyncio.Queue[dict[str, Any]] | None = None
        self.ws_connected = threading.Event()
        # called with every recorded call, on the fake's own loop (the benchmark's hook)
        self.listeners: list[Callable[[Call], None]] = []

    # --- control (from the test thread) ---------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/respond/{name}"

    def rate_limit(self, method: str, times: int, retry_after: float | str = 1) -> None:
        """Answer ``method`` with 429 ``times`` times; a str ``retry_after`` is sent as it is
        (a malformed header), a number as whole seconds, as Slack sends it."""
        with self._lock:
            self._limits[method] = [retry_after] * times

    def slow(self, method: str, pause: Callable[[Call], None] | None) -> None:
        """Answer ``method`` only once ``pause(call)`` has returned (None: at once again).
        The call is recorded first, as Slack has posted a message before its answer is in."""
        with self._lock:
            if pause is None:
                self._pauses.pop(method, None)
            else:
                self._pauses[method] = pause

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def find(self, kind: str, method: str | None = None, status: int | None = 200) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.kind == kind
                    and (method is None or c.method == method)
                    and (status is None or c.status == status)]

    def wait_for(self, kind: str, method: str | None = None, count: int = 1,
                 timeout: float = 15, where: Callable[[Call], bool] | None = None) -> list[Call]:
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.find(kind, method) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                with self._lock:
                    seen = [(c.kind, c.method, c.status) for c in self.calls]
                raise AssertionError(f"no {count} x {kind} {method} within {timeout}s; seen {seen}")
            time.sleep(0.02)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the fake's loop and wait for it: a client there sees each
        recorded call through ``listeners`` without crossing threads."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def push_envelope(self, envelope: dict[str, Any]) -> None:
        assert self.ws_outbox is not None
        self._loop.call_soon_threadsafe(self.ws_outbox.put_nowait, envelope)

    # --- the server -----------------------------------------------------------------------

    async def _start(self) -> None:
        self.ws_outbox = asyncio.Queue()
        app = web.Application()
        app.add_routes([
            web.route("*", "/api/{method}", self._api),
            web.post("/respond/{name}", self._respond),
            web.post("/upload/{file_id}", self._upload),
            web.get("/ws", self._ws),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
        for listener in self.listeners:
            listener(call)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                body.update(json.loads(raw))
            else:
                body.update(parse_qsl(raw.decode()))
        headers = {"authorization": request.headers.get("Authorization", "")}
        with self._lock:
            pending = self._limits.get(method)
            limited = pending.pop(0) if pending else None
        if limited is not None:
            self._record(Call("api", method, body, 429, headers))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": limited if isinstance(limited, str)
                                              else str(int(limited))})
        call = Call("api", method, body, 200, headers)
        self._record(call)
        answer = self._answer(method, body)
        with self._lock:
            pause = self._pauses.get(method)
        if pause is not None:
            await asyncio.to_thread(pause, call)
        return web.json_response(answer)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return {**ok, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1",
                    "user": "taskbot", "team": "Test team", "url": "https://test.slack.com/"}
        if method == "chat.postMessage" and str(body.get("channel", "")).startswith("CPRIV"):
            return {"ok": False, "error": "not_in_channel"}  # a channel the bot is not in
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return {**ok, "channel": body.get("channel"), "ts": ts,
                    "message": {"text": body.get("text"), "ts": ts}}
        if method == "chat.postEphemeral":
            return {**ok, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "users.info":
            uid = str(body.get("user"))
            name = self.names.get(uid, f"name-{uid.lower()}")
            return {**ok, "user": {"id": uid, "name": name, "real_name": name.title(),
                                   "tz": self.zones.get(uid, "Europe/Brussels"),
                                   "profile": {"display_name": name, "real_name": name.title()}}}
        if method == "conversations.open":
            return {**ok, "channel": {"id": "D" + str(body.get("users", "X"))[1:]}}
        if method in ("views.publish", "views.open", "views.update"):
            return {**ok, "view": {"id": f"V{next(self._ts)}"}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts)}"
            return {**ok, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = json.loads(body.get("files", "[]"))
            return {**ok, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}
        if method == "apps.connections.open":
            return {**ok, "url": f"ws://127.0.0.1:{self.port}/ws"}
        return ok

    async def _respond(self, request: web.Request) -> web.Response:
        self._record(Call("respond", request.match_info["name"], await request.json()))
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        self._record(Call("upload", request.match_info["file_id"],
                          {"content": data.decode("utf-8", "replace")}))
        return web.Response(text=f"OK - {len(data)}")

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A1"}})
        self.ws_connected.set()
        assert self.ws_outbox is not None
        outbox = self.ws_outbox

        async def pump() -> None:
            while True:
                await ws.send_json(await outbox.get())

        sender = asyncio.ensure_future(pump())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    self._record(Call("ws", str(data.get("envelope_id")), data))
        finally:
            sender.cancel()
        return ws
