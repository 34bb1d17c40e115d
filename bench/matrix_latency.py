"""Benchmark: Taskbot's reply latency on Matrix, beside a bare echo bot and a peer bot.

Run: ``.venv/bin/python bench/matrix_latency.py [--commands 500] [--no-peer]``.

A throwaway Synapse (``tests.support.synapse``, rate limits raised) on 127.0.0.1. Three bots,
each a process of its own, each in a room of its own with the same person:

- **Taskbot**: ``python -m bot run`` on a migrated SQLite store, the room linked to a group;
  the person types ``!action add bench item N due 2099-01-15``.
- **taskbot-e2e**: the same process in an encrypted room of its own (the person's client
  encrypts, as Element does; the bot decrypts the command and answers encrypted).
- **echo** (the floor): a bare matrix-nio ``AsyncClient`` that answers every text message with
  an ``m.notice`` reply carrying the same body (this script, ``--serve-echo``).
- **peer**: matrix-reminder-bot from PyPI, in a venv of its own (installed on first use),
  answering its own command ``!remindme in 10 days; bench item N`` (it parses the time,
  stores the reminder in SQLite, schedules it and confirms).

The person is a matrix-nio client in this process that long-polls ``/sync`` (its own events
filtered out). Per command: the time from just before ``room_send`` to the sync that brings
the bot's answer (Taskbot and echo: the event whose ``m.in_reply_to`` is the command; the
peer does not reply-thread, so its next message in the room). One command in flight at a
time. Bots take turns, ``--block`` commands each (default 1), so a load spike on the machine
falls on all three alike. ``--warmup`` commands per bot are not counted.

Goals (issue 4): Taskbot p50 at most 1.3x the echo bot's, and no slower than the peer's.
Goal (issue 15): Taskbot's p50 in the encrypted room at most 1.3x its p50 in the plain one
(the same run, the same process). The peer in an encrypted room is not measured:
matrix-reminder-bot's encryption needs libolm, which does not install here.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nio import (  # noqa: E402
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    RoomCreateError,
    RoomMessageText,
    RoomSendError,
    SyncError,
)

from bot.matrix.store import key_upkeep  # noqa: E402
from tests.support.synapse import Account, Synapse, synapse_server  # noqa: E402

P50_RATIO_GOAL = 1.3
E2E_RATIO_GOAL = 1.3  # issue 15: the encrypted round trip beside the plain one
PEER_PACKAGE = "matrix-reminder-bot"
DEFAULT_PEER_VENV = Path(tempfile.gettempdir()) / "taskbot-bench-mrb"

Event = dict[str, Any]


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank, as bench/commands.py."""
    s = sorted(samples)
    return s[max(0, math.ceil(q * len(s)) - 1)]


# --- the echo bot (a child process) -------------------------------------------------------


async def serve_echo() -> None:
    """The floor: sync, and answer each text message with an ``m.notice`` reply."""
    client = AsyncClient(os.environ["ECHO_HOMESERVER"], os.environ["ECHO_USER"],
                         config=AsyncClientConfig(encryption_enabled=False))
    client.restore_login(os.environ["ECHO_USER"], os.environ["ECHO_DEVICE"],
                         os.environ["ECHO_TOKEN"])
    started_ms = int(time.time() * 1000)

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == client.user_id or event.server_timestamp < started_ms:
            return
        await client.room_send(room.room_id, "m.room.message", {
            "msgtype": "m.notice", "body": event.body,
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
        })

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == client.user_id and event.membership == "invite":
            await client.join(room.room_id)

    client.add_event_callback(on_message, RoomMessageText)
    client.add_event_callback(on_invite, InviteMemberEvent)
    print("echo: ready", flush=True)
    try:
        await client.sync_forever(timeout=30_000)
    finally:
        await client.close()


# --- the peer: matrix-reminder-bot in a venv of its own -----------------------------------


def ensure_peer(venv: Path) -> Path:
    """The peer's executable, installed into ``venv`` with pip if missing. Raises
    RuntimeError with the reason when it cannot be installed."""
    exe = venv / "bin" / "matrix-reminder-bot"
    if exe.exists():
        return exe
    print(f"installing {PEER_PACKAGE} into {venv} (once) ...", flush=True)
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "-q", PEER_PACKAGE]]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{tail}")
    if not exe.exists():
        raise RuntimeError(f"{PEER_PACKAGE} installed no {exe}")
    return exe


def peer_config(root: Path, server: Synapse, account: Account) -> Path:
    """matrix-reminder-bot's config.yaml (JSON is YAML)."""
    import json

    config = {
        "command_prefix": "!",
        "matrix": {"user_id": account.user_id, "user_password": account.password,
                   "homeserver_url": server.url, "device_id": "BENCHPEER",
                   "device_name": "reminder-bot"},
        "storage": {"database": f"sqlite://{root / 'reminders.db'}",
                    "store_path": str(root / "store")},
        "reminders": {"timezone": "Europe/Brussels"},
        "allowlist": {"enabled": False, "regexes": []},
        "blocklist": {"enabled": False, "regexes": []},
        # INFO: its "Startup complete" line tells that it logged in
        "logging": {"level": "INFO", "console_logging": {"enabled": True},
                    "file_logging": {"enabled": False}},
    }
    path = root / "config.yaml"
    path.write_text(json.dumps(config, indent=1))
    return path


# --- processes ----------------------------------------------------------------------------


@contextmanager
def child(name: str, cmd: list[str], env: dict[str, str], cwd: Path,
          ready: str | None, timeout: float = 90) -> Iterator[subprocess.Popen[bytes]]:
    """A child process with its output in ``cwd/<name>.log``; stopped (and waited for) on
    exit. ``ready``: a line to wait for in the log."""
    log = cwd / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while ready is not None and ready not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start (exit {proc.poll()}):\n"
                                   + log.read_text(errors="replace")[-3000:])
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "MATRIX_", "TASKBOT_", "DATABASE_URL", "PORT"))}
    env.update(extra)
    return env


# --- the person ---------------------------------------------------------------------------


@dataclass
class Bot:
    label: str
    user_id: str
    room_id: str = ""
    command: Callable[[int], str] = lambda i: f"!echo {i}"
    threaded: bool = True  # answers carry m.in_reply_to
    encrypted: bool = False  # its room is encrypted
    check: Callable[[str], bool] = lambda body: True
    samples: list[float] = field(default_factory=list)
    # the answer's origin_server_ts splits each sample: command sent -> answer created by the
    # homeserver (the bot's turnaround, with the command's own send), and created -> arrived
    to_created: list[float] = field(default_factory=list)
    created_to_arrival: list[float] = field(default_factory=list)


class Person:
    """The person's client: long-polls ``/sync`` and notes when each bot message arrives."""

    def __init__(self, server: Synapse, account: Account, store: Path) -> None:
        # a client that encrypts where the room is encrypted (its keys in ``store``)
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(server.url, account.user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=True,
                                                           store_sync_tokens=False))
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self.user_id = account.user_id
        self.replies: dict[str, tuple[float, Event]] = {}  # in_reply_to -> (arrived, event)
        self.messages: dict[tuple[str, str], list[tuple[float, Event]]] = {}  # (room, sender)
        self.joined: set[tuple[str, str]] = set()
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.sent_wall = self.arrived_wall = 0.0

    async def upkeep(self) -> None:
        await key_upkeep(self.client)

    async def start(self) -> None:
        await self.upkeep()
        first = await self.client.sync(timeout=0)
        assert not isinstance(first, SyncError), first
        await self.upkeep()
        self.task = asyncio.create_task(self._loop(first.next_batch))

    async def _loop(self, token: str) -> None:
        # our own events would only add a sync round per command: leave them out
        flt = {"room": {"timeline": {"not_senders": [self.user_id], "limit": 50}},
               "presence": {"types": []}, "account_data": {"types": []}}
        while True:
            resp = await self.client.sync(timeout=30_000, since=token, sync_filter=flt)
            arrived = time.perf_counter()
            if isinstance(resp, SyncError):
                await asyncio.sleep(0.1)
                continue
            token = resp.next_batch
            await self.upkeep()
            for room_id, info in resp.rooms.join.items():
                for ev in info.timeline.events:
                    src: Event = ev.source
                    sender = str(src.get("sender"))
                    if src.get("type") == "m.room.member":
                        if (src.get("content") or {}).get("membership") == "join":
                            self.joined.add((room_id, sender))
                    elif src.get("type") == "m.room.message":
                        self.messages.setdefault((room_id, sender), []).append((arrived, src))
                        rel = (src.get("content") or {}).get("m.relates_to") or {}
                        target = (rel.get("m.in_reply_to") or {}).get("event_id")
                        if isinstance(target, str):
                            self.replies[target] = (arrived, src)
            self.changed.set()

    async def until(self, pred: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"timed out waiting for {what}")
            self.changed.clear()
            if pred():
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    async def create_room(self, name: str, invite: str, encrypted: bool = False) -> str:
        state = [{"type": "m.room.encryption", "state_key": "",
                  "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        resp = await self.client.room_create(name=name, invite=[invite], initial_state=state)
        assert not isinstance(resp, RoomCreateError), resp
        return str(resp.room_id)

    async def ask(self, bot: Bot, line: str, timeout: float = 30) -> tuple[float, Event]:
        """Send ``line`` in the bot's room; the seconds until its answer arrived, and it."""
        key = (bot.room_id, bot.user_id)
        before = len(self.messages.get(key, []))
        self.sent_wall = time.time()
        t0 = time.perf_counter()
        resp = await self.client.room_send(bot.room_id, "m.room.message",
                                           {"msgtype": "m.text", "body": line},
                                           ignore_unverified_devices=True)
        if isinstance(resp, RoomSendError):
            raise RuntimeError(f"send failed: {resp}")
        event_id = str(resp.event_id)
        if bot.threaded:
            await self.until(lambda: event_id in self.replies, timeout,
                             f"{bot.label}'s reply to {line!r}")
            arrived, event = self.replies.pop(event_id)
        else:
            await self.until(lambda: len(self.messages.get(key, [])) > before, timeout,
                             f"{bot.label}'s answer to {line!r}")
            arrived, event = self.messages[key][before]
        self.arrived_wall = self.sent_wall + (arrived - t0)
        return arrived - t0, event

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
        await self.client.close()


# --- the run ------------------------------------------------------------------------------


async def measure(person: Person, bots: list[Bot], commands: int, warmup: int,
                  block: int) -> None:
    await person.start()
    try:
        for bot in bots:
            bot.room_id = await person.create_room(f"bench {bot.label}", bot.user_id,
                                                   bot.encrypted)
        for bot in bots:
            await person.until(lambda b=bot: (b.room_id, b.user_id) in person.joined,  # type: ignore[misc]
                               60, f"{bot.label} to join its room")
        for n, taskbot in enumerate(b for b in bots if b.label.startswith("taskbot")):
            slug = f"bench{n}"
            for line, expect in ((f"!tg create {slug} Benchmark {n}", slug),
                                 (f"!tg link {slug}", f"linked to Benchmark {n}"),
                                 (f"!tg add {slug} {person.user_id}", "person")):
                _, event = await person.ask(taskbot, line)
                if expect not in body(event):
                    raise RuntimeError(f"{taskbot.label} answered {line!r} with "
                                       f"{body(event)!r}")
        for bot in bots:
            for i in range(warmup):
                _, event = await person.ask(bot, bot.command(-1 - i))
                if not bot.check(text := body(event)):
                    raise RuntimeError(f"{bot.label} answered {text[:200]!r}")
        done = dict.fromkeys((b.label for b in bots), 0)
        while any(n < commands for n in done.values()):
            for bot in bots:
                for _ in range(min(block, commands - done[bot.label])):
                    seconds, event = await person.ask(bot, bot.command(done[bot.label]))
                    if not bot.check(text := body(event)):
                        raise RuntimeError(f"{bot.label} answered {text[:200]!r}")
                    bot.samples.append(seconds)
                    created = int(event.get("origin_server_ts", 0)) / 1000
                    bot.to_created.append(created - person.sent_wall)
                    bot.created_to_arrival.append(person.arrived_wall - created)
                    done[bot.label] += 1
            if sum(done.values()) % (50 * len(bots)) < len(bots) * block:
                print(".", end="", flush=True)
        print()
    finally:
        await person.stop()


def body(event: Event) -> str:
    return str((event.get("content") or {}).get("body", ""))


def report(bots: list[Bot], peer_note: str | None) -> list[str]:
    def ms(x: float) -> str:
        return f"{x * 1e3:7.1f} ms"

    print(f"\n{'bot':<12} {'n':>5} {'p50':>10} {'p99':>10} {'mean':>10} {'max':>10}")
    for b in bots:
        s = b.samples
        print(f"{b.label:<12} {len(s):>5} {ms(percentile(s, .5))} {ms(percentile(s, .99))} "
              f"{ms(statistics.fmean(s))} {ms(max(s))}")
    if peer_note:
        print(f"peer       skipped: {peer_note}")
    print("\nsplit by the answer's origin_server_ts (ms clock of the homeserver), p50:")
    for b in bots:
        print(f"  {b.label:<12} sent -> answer created {ms(percentile(b.to_created, .5))}   "
              f"created -> arrived {ms(percentile(b.created_to_arrival, .5))}")
    by = {b.label: b for b in bots}
    missed: list[str] = []
    tb = percentile(by["taskbot"].samples, .5)
    print()
    if "echo" in by:
        floor = percentile(by["echo"].samples, .5)
        ratio = tb / floor
        ok = ratio <= P50_RATIO_GOAL
        print(f"taskbot p50 / echo p50 = {ratio:.2f}  (goal <= {P50_RATIO_GOAL})   "
              f"{'PASS' if ok else 'MISS'}")
        print(f"taskbot p99 / echo p99 = "
              f"{percentile(by['taskbot'].samples, .99) / percentile(by['echo'].samples, .99):.2f}"
              "  (info)")
        if not ok:
            missed.append("p50 vs echo")
    if "peer" in by:
        peer = percentile(by["peer"].samples, .5)
        ok = tb <= peer
        print(f"taskbot p50 / peer p50 = {tb / peer:.2f}  (goal <= 1.00)   "
              f"{'PASS' if ok else 'MISS'}")
        print(f"taskbot p99 / peer p99 = "
              f"{percentile(by['taskbot'].samples, .99) / percentile(by['peer'].samples, .99):.2f}"
              "  (info)")
        if not ok:
            missed.append("p50 vs peer")
    else:
        print("taskbot p50 vs peer: not measured (no peer)")
    if "taskbot-e2e" in by:
        e2e = by["taskbot-e2e"].samples
        ratio = percentile(e2e, .5) / tb
        ok = ratio <= E2E_RATIO_GOAL
        print(f"taskbot encrypted p50 / plain p50 = {ratio:.2f}  (goal <= {E2E_RATIO_GOAL})   "
              f"{'PASS' if ok else 'MISS'}")
        print(f"taskbot encrypted p99 / plain p99 = "
              f"{percentile(e2e, .99) / percentile(by['taskbot'].samples, .99):.2f}  (info)")
        if not ok:
            missed.append("encrypted p50 vs plain")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=500, help="timed commands per bot")
    parser.add_argument("--warmup", type=int, default=20, help="untimed commands per bot first")
    parser.add_argument("--block", type=int, default=1,
                        help="commands per bot per turn (1: strict rotation)")
    parser.add_argument("--no-peer", action="store_true", help="skip matrix-reminder-bot")
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV,
                        help=f"the peer's venv (default {DEFAULT_PEER_VENV})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (bot logs) and print its path")
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo:
        asyncio.run(serve_echo())
        return 0

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")
    peer_exe: Path | None = None
    peer_note: str | None = None
    if args.no_peer:
        peer_note = "--no-peer given"
    else:
        try:
            peer_exe = ensure_peer(args.peer_venv)
        except RuntimeError as err:
            peer_note = f"{PEER_PACKAGE} could not be installed: {err}"
            print(f"peer: {peer_note}")

    work = Path(tempfile.mkdtemp(prefix="taskbot-bench-matrix-"))
    with ExitStack() as stack, synapse_server() as server:
        person_acc = server.register("person")
        bots: list[Bot] = []

        tb_acc = server.register("taskbot")
        db = work / "taskbot.db"
        tb_env = clean_env(DATABASE_URL=f"sqlite:///{db}", MATRIX_HOMESERVER=server.url,
                           MATRIX_USER_ID=tb_acc.user_id, MATRIX_PASSWORD=tb_acc.password,
                           TASKBOT_ADMINS=person_acc.user_id, PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=tb_env, cwd=work,
                       check=True, capture_output=True)
        stack.enter_context(child("taskbot", [sys.executable, "-m", "bot", "run"], tb_env,
                                  work, "Matrix: connected"))
        bots.append(Bot("taskbot", tb_acc.user_id,
                        command=lambda i: f"!action add bench item {i} due 2099-01-15",
                        check=lambda body: body.startswith("Added A-")))
        bots.append(Bot("taskbot-e2e", tb_acc.user_id, encrypted=True,
                        command=lambda i: f"!action add bench item {i} due 2099-01-15",
                        check=lambda body: body.startswith("Added A-")))

        echo_acc = server.register("echo")
        echo_env = clean_env(ECHO_HOMESERVER=server.url, ECHO_USER=echo_acc.user_id,
                             ECHO_TOKEN=echo_acc.access_token, ECHO_DEVICE=echo_acc.device_id,
                             PYTHONPATH=str(ROOT))
        stack.enter_context(child("echo", [sys.executable, str(Path(__file__).resolve()),
                                           "--serve-echo"], echo_env, work, "echo: ready"))
        bots.append(Bot("echo", echo_acc.user_id,
                        command=lambda i: f"!action add bench item {i} due 2099-01-15",
                        check=lambda body: body.startswith("!action add")))

        if peer_exe is not None:
            peer_acc = server.register("reminders")
            peer_dir = work / "peer"
            peer_dir.mkdir()
            config = peer_config(peer_dir, server, peer_acc)
            try:
                stack.enter_context(child("peer", [str(peer_exe), str(config)],
                                          clean_env(), peer_dir, "Startup complete"))
                bots.append(Bot("peer", peer_acc.user_id, threaded=False,
                                command=lambda i: f"!remindme in 10 days; bench item {i}",
                                check=lambda body: body.startswith("OK, I will remind you")))
            except RuntimeError as err:
                peer_note = f"{PEER_PACKAGE} did not start: {err}"

        print(f"Synapse {server.url}; {args.commands} commands per bot after {args.warmup} "
              f"warm-up, turns of {args.block}: {', '.join(b.label for b in bots)}")
        try:
            asyncio.run(measure(Person(server, person_acc, work / "person-store"), bots,
                                args.commands, args.warmup, args.block))
        except RuntimeError as err:
            peer_log = work / "peer" / "peer.log"
            if peer_log.exists():
                print("peer log:\n" + textwrap.indent(peer_log.read_text()[-3000:], "  "))
            tb_log = (work / "taskbot.log").read_text()[-3000:]
            print(f"taskbot log:\n{textwrap.indent(tb_log, '  ')}")
            raise SystemExit(f"benchmark failed: {err}") from None
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    missed = report(bots, peer_note)
    if args.keep:
        print(f"work directory kept: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print("\nall goals met" if not missed else f"\nmissed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
