"""Benchmark: mail out and in (issue 14) — a decision to 1,000 members known only by
address, then 100 of their replies read back and answered.

Run: ``.venv/bin/python bench/mail.py [--recipients 1000] [--rounds 3] [--replies 100]``.

A SQLite store with the preset, one group of ``--recipients`` email-only members and a
shell channel. Each round posts one decision to that group through the real Router and then
runs delivery ticks (the real ``DeliveryEngine`` with the real ``SmtpSender``) until every
mail row is sent, timing the ticks. Beside it, in the same round, the floor: a bare
``smtplib`` loop sending the same number of prepared messages (their bytes made before
the clock starts) over one connection: SMTP's own cost, nothing of the bot's. The SMTP
server is aiosmtpd in a child process that counts and discards what it receives, so its
work is not in this process's time or memory. Printed:
the median of each over the rounds, their ratio (goal: at most 2x, and under 10 s), and this
process's peak RSS (goal: at most 200 MB).

Inbound (``--replies``, 0 to skip; needs Debian's Dovecot, as the tests do): that many
replies, each from a member and each a command (``action add ...``), put in a real
Dovecot's mailbox; the bot's inbox pass (read, run each command as its sender, queue and
send the answer over SMTP, flag) is timed beside the floor: a bare imaplib loop that
fetches and flags the same number of mails on one connection. Goal: under 10 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file's name is the standard library's ``email``: its folder must not shadow it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import smtplib  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.email.message import message_bytes, prepare  # noqa: E402
from bot.email.render import render_mail  # noqa: E402
from bot.email.settings import SmtpUrl  # noqa: E402
from bot.email.smtp import SmtpSender  # noqa: E402
from bot.governance import apply_preset  # noqa: E402
from bot.platforms import registered_platforms  # noqa: E402
from handlers.catalog import build_registry  # noqa: E402
from handlers.core.context import CoreSettings  # noqa: E402
from handlers.core.messages import Block, ChannelRef  # noqa: E402
from handlers.core.router import Incoming, Router  # noqa: E402
from handlers.delivery._engine import DeliveryEngine  # noqa: E402
from storage.db import make_engine, make_session_factory, upgrade  # noqa: E402
from storage.models import Action, Group, Identity, Membership, Outbox, Person  # noqa: E402

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
SINK = r'''
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.n += 1
        return "250 OK"
import socket
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
print(port, flush=True)
sys.stdin.read()
c.stop()
'''


class _Shell:
    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        return key


def seed(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    settings = CoreSettings(platforms=registered_platforms(), clock=lambda: NOW)
    with sessions.begin() as s:
        apply_preset(s, settings)
        group = s.scalar(select(Group).where(Group.slug == "replication"))
        assert group is not None
        people = [{"display_name": f"m{i:04d}", "is_admin": False, "created_at": NOW}
                  for i in range(n)]
        s.execute(insert(Person), people)
        ids = s.scalars(select(Person.id).where(Person.display_name.like("m%"))
                        .order_by(Person.id)).all()
        s.execute(insert(Identity), [{"person_id": pid, "platform": "email",
                                      "external_id": f"m{i:04d}@follower{i % 37}.eu"}
                                     for i, pid in enumerate(ids)])
        s.execute(insert(Membership), [{"group_id": group.id, "person_id": pid,
                                        "role": "member", "created_at": NOW} for pid in ids])
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replies", type=int, default=100)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.recipients} recipients, "
          f"{args.rounds} rounds")
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    url = SmtpUrl.parse(f"smtp://127.0.0.1:{port}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            seed(db, args.recipients)
            engine = make_engine(db)
            sessions = make_session_factory(engine)
            settings = CoreSettings(platforms=registered_platforms(), clock=lambda: NOW,
                                    admins=frozenset({"shell:root"}))
            router = Router(sessions, settings, build_registry(settings.platforms))
            bot_times: list[float] = []
            bare_times: list[float] = []
            connections: list[int] = []
            warm = DeliveryEngine(sessions, settings, {"shell": _Shell()},
                                  kinds=router.registry.kinds)
            warm.tick(NOW)  # the preset's own due messages (digests, the BoC report), untimed
            for r in range(args.rounds):
                reply = router.handle(Incoming(
                    platform="shell", user_id="root", channel_id="#boc",
                    text=f"decision post replication Round {r}: adopt the replication kit"))
                assert not reply.error, reply
                with sessions() as s:
                    key, blocks_json = s.execute(
                        select(Outbox.key, Outbox.payload).where(Outbox.platform == "email",
                                                                 Outbox.status == "pending")
                        .limit(1)).one()
                from handlers.core.posts import blocks_from_json

                blocks = blocks_from_json(blocks_json["blocks"])
                # the floor: the same number of prepared messages over one connection
                once = prepare(render_mail(blocks))
                prepared = [message_bytes(once, to=f"m{i:04d}@follower.eu",
                                          sender="taskbot@programme.eu", key=f"{key}{i}",
                                          now=NOW) for i in range(args.recipients)]
                t0 = time.perf_counter()
                with smtplib.SMTP(url.host, url.port) as conn:
                    for i, raw in enumerate(prepared):
                        conn.sendmail("taskbot@programme.eu", [f"m{i:04d}@follower.eu"], raw)
                bare_times.append(time.perf_counter() - t0)
                del prepared
                mail = SmtpSender(url, "taskbot@programme.eu", idle_close=60.0)
                delivery = DeliveryEngine(sessions, settings, {"shell": _Shell(), "email": mail},
                                          kinds=router.registry.kinds)
                t0 = time.perf_counter()
                sent = 0
                while True:
                    result = delivery.tick(NOW)
                    sent += sum(1 for d in result.delivered if d.channel.platform == "email")
                    with sessions() as s:
                        left = s.scalar(select(func.count()).select_from(Outbox).where(
                            Outbox.platform == "email", Outbox.status == "pending"))
                    if not left:
                        break
                bot_times.append(time.perf_counter() - t0)
                connections.append(mail.connections)
                mail.close()
                assert sent == args.recipients, sent
            bot_p50, bare_p50 = statistics.median(bot_times), statistics.median(bare_times)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"bare smtplib loop, {args.recipients} messages: {bare_p50:.2f} s "
                  f"(rounds {', '.join(f'{t:.2f}' for t in bare_times)})")
            print(f"taskbot ticks, decision to {args.recipients}: {bot_p50:.2f} s "
                  f"(rounds {', '.join(f'{t:.2f}' for t in bot_times)}); "
                  f"SMTP connections per round {connections}")
            print(f"ratio {bot_p50 / bare_p50:.2f}x (goal <= 2x); "
                  f"under 10 s: {'yes' if bot_p50 < 10 else 'NO'}; "
                  f"peak RSS {rss:.0f} MB (goal <= 200 MB)")
            if args.replies:
                inbound(args.replies, sessions, settings, router, url)
            engine.dispose()
    finally:
        if sink.stdin is not None:
            sink.stdin.close()
        sink.wait(timeout=10)


def inbound(n: int, sessions: Any, settings: CoreSettings, router: Router,
            smtp: SmtpUrl) -> None:
    from bot.conversation import Conversation
    from bot.dispatch import Dispatcher
    from bot.email.imap import Mailbox
    from bot.email.inbox import SEEN, Inbox
    from bot.email.settings import ImapUrl
    from bot.seen import SeenEvents
    from tests.support import dovecot

    def replies(tag: str) -> list[bytes]:
        return [(f"From: m{i:04d} <m{i:04d}@follower{i % 37}.eu>\r\nTo: taskbot@programme.eu"
                 f"\r\nSubject: Re: the kit\r\nMessage-ID: <{tag}.{i}@follower.eu>\r\n\r\n"
                 f"action add Reply {tag} {i} group replication\r\n\r\n> quoted\r\n"
                 ).encode() for i in range(n)]

    server = dovecot.start()
    try:
        url = ImapUrl.parse(server.url)
        with Mailbox(url) as box:
            for raw in replies("floor"):
                box.append(raw)
        t0 = time.perf_counter()
        with Mailbox(url) as box:
            for uid in box.waiting():
                assert box.fetch(uid) is not None
                box.done(uid)
        floor = time.perf_counter() - t0
        with Mailbox(url) as box:
            for raw in replies("bot"):
                box.append(raw)
        mail = SmtpSender(smtp, "taskbot@programme.eu", replies=True, idle_close=60.0)
        dispatcher = Dispatcher(sessions, settings, router.registry.kinds,
                                dt.timedelta(minutes=5))
        dispatcher.register("email", mail)
        dispatcher.register("shell", _Shell())
        seen = SeenEvents(sessions, SEEN, dt.timedelta(days=90))
        inbox = Inbox(Conversation(router, dispatcher, seen), lambda: Mailbox(url),
                      mail_from="taskbot@programme.eu")
        t0 = time.perf_counter()
        handled = inbox.check()
        took = time.perf_counter() - t0
        mail.close()
        assert len(handled) == n and not any(h.ignored for h in handled), handled[:3]
        with sessions() as s:
            made = s.scalar(select(func.count()).select_from(Action).where(
                Action.title.like("Reply bot %")))
        assert made == n, made
        print(f"inbound, {n} replies: bare imaplib fetch-and-flag {floor:.2f} s; taskbot "
              f"inbox pass (run, answer by SMTP, flag) {took:.2f} s "
              f"({took / n * 1000:.1f} ms a mail); ratio {took / floor:.1f}x; "
              f"under 10 s: {'yes' if took < 10 else 'NO'}")
    finally:
        dovecot.stop(server)


if __name__ == "__main__":
    main()
