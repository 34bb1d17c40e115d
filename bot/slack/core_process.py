"""The Slack adapter's commands run in child processes of their own.

The adapter's event loop parses Slack's requests, checks signatures, acknowledges and sends
answers; a command itself (its transaction, its SQL, its Block Kit rendering) is CPU work in
Python. Run on a thread beside the loop, the two fight for one interpreter lock and every
acknowledgement waits behind commands; in a child the loop stays free and a second core does
the commands. A child builds its own engine and router from the same settings, so only the
command in and the rendered reply out cross its pipes: length-prefixed pickles, read by the
loop itself (a ``ProcessPoolExecutor`` cost the parent a millisecond a command in its
feeder and manager threads). A child ends when its request pipe closes, so it cannot
outlive a ``taskbot run`` killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import logging
import os
import pickle
import struct
import sys
from typing import Any

from bot.config import Settings
from bot.conversation import Conversation
from bot.slack.render import Rendered, render_blocks
from bot.slack.state import seen_events
from handlers.core.messages import Reply
from handlers.core.router import Incoming

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
Result = tuple[Reply, Rendered | None]


def handle(conversation: Conversation, incoming: Incoming,
           key: str | None = None) -> Result | None:
    """One command in its transaction (``Conversation.run``), and its reply rendered as
    Block Kit unless it has posts for other channels (the parent sends them and adds their
    problems to it first).

    With a request ``key``, the request's mark is the command's idempotency key; None
    means the request had been handled already and nothing was done.

    A rendered reply goes back without its neutral blocks, which the parent would not read
    (unless there are files, whose names it needs): pickling a fifty-row table twice cost
    both processes more than sending it to Slack.
    """
    reply = conversation.run(dataclasses.replace(incoming, once=key))
    if reply.duplicate:
        return None
    if reply.posts:
        return reply, None
    rendered = render_blocks(list(reply.blocks))
    if not rendered.files:
        reply = Reply(private=reply.private, error=reply.error, secret=reply.secret)
    return reply, rendered


class CoreProcess:
    """``workers`` children that run commands; each takes the next command when it has the
    fewest waiting, so with one child commands run in the order they came."""

    def __init__(self, settings: Settings, workers: int = 1) -> None:
        self.settings = settings
        self.workers = workers
        self._children: list[_Child] = []
        self._restarting = asyncio.Lock()

    async def start(self) -> None:
        """Start every child and wait until each has built its router, so the first
        command does not pay for the imports."""
        self._children = [_Child(self.settings) for _ in range(self.workers)]
        await asyncio.gather(*(c.start() for c in self._children))

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self._children if c.pid is not None]

    async def handle(self, incoming: Incoming, key: str | None = None) -> Result | None:
        """None: the request (``key``) had been handled already; nothing was done."""
        if not all(c.alive for c in self._children):
            await self._replace_ended()
        child = min(self._children, key=lambda c: len(c.pending))
        result: Result | None = await child.call((incoming, key))
        return result

    async def _replace_ended(self) -> None:
        async with self._restarting:
            for i, child in enumerate(self._children):
                if not child.alive:
                    log.warning("slack: a core process had ended; starting another")
                    fresh = _Child(self.settings)
                    await fresh.start()
                    self._children[i] = fresh

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._children))
        self._children = []


class _Child:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.alive = False
        self._ids = itertools.count(1)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.slack.core_process", str(to_child_r),
                str(from_child_w), pass_fds=(to_child_r, from_child_w),
                stdin=asyncio.subprocess.DEVNULL)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        reader = self._reader = asyncio.StreamReader(limit=2**26)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(from_child_r, "rb", buffering=0))
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(to_child_w, "wb", buffering=0))
        self.alive = True
        self._pump = loop.create_task(self._read_replies())
        await asyncio.wait_for(self.call(self.settings), 120)  # the first frame: settings

    def _send(self, payload: object) -> None:
        assert self._writer is not None
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        self._writer.write(_HEADER.pack(len(data)) + data)

    async def call(self, payload: object) -> Any:
        if not self.alive:
            raise RuntimeError("the core process has ended")
        rid = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        self._send((rid, payload))
        return await future

    async def _read_replies(self) -> None:
        assert self._reader is not None
        try:
            while True:
                size = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))[0]
                rid, ok, value = pickle.loads(await self._reader.readexactly(size))
                future = self.pending.pop(rid, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(RuntimeError(f"core process: {value}"))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.alive = False
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(RuntimeError("the core process has ended"))
            self.pending.clear()

    async def close(self) -> None:
        self.alive = False
        if self._writer is not None:
            self._writer.close()  # the child reads EOF and exits
        if self._proc is not None:
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._pump is not None:
            self._pump.cancel()


# --- the child --------------------------------------------------------------------------------


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(fd_in: int, fd_out: int) -> None:
    """The child's loop: a settings frame first, then one command per frame, until EOF."""
    from bot.container import build
    from bot.logs import setup_logging

    setup_logging()
    conversation: Conversation | None = None
    while True:
        head = _read_exactly(fd_in, _HEADER.size)
        if head is None:
            return
        body = _read_exactly(fd_in, _HEADER.unpack(head)[0])
        if body is None:
            return
        rid, payload = pickle.loads(body)
        try:
            if isinstance(payload, Settings):
                # the parent migrated the store and applied the preset before it started us
                router = build(payload, migrate=False, preset=False).router
                # the parent delivers the posts: it has the platforms' senders
                conversation = Conversation(router, None, seen_events(router.sessions))
                gc.collect()
                gc.freeze()  # start-up objects out of the cyclic collector's walks
                result: tuple[int, bool, Any] = (rid, True, None)
            else:
                assert conversation is not None, "no settings frame"
                incoming, key = payload
                result = (rid, True, handle(conversation, incoming, key))
        except Exception as err:  # Router.handle answers its own errors; this is a bug
            log.exception("core process: request failed")
            result = (rid, False, f"{type(err).__name__}: {err}")
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(fd_out, _HEADER.pack(len(data)) + data)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
