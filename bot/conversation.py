"""The one conversation pipeline every adapter calls: a line in, the reply to render out.

An adapter translates what it received into an ``Incoming`` (with the event's seen key as
its ``once``) and renders the ``Reply`` this returns; everything between is here, the
same for every platform: the router runs the line in its one transaction, the event's mark
is settled (written with the work, or alone when nothing was written, so a redelivery does
nothing and is not answered twice), the posts the work queued are sent through the
dispatcher at once, and what could not be sent is added to the reply for the person.

A join or a leave of a channel goes the same way (``presence``). The shell has no
redeliveries and so no seen store.

``run`` and ``hear`` block (the store, then the platforms' HTTP): adapters call them from a
worker thread, or ``ask`` and ``listen`` from their event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.dispatch import Dispatcher
from bot.seen import SeenEvents
from handlers.core.i18n import said
from handlers.core.messages import Post, Reply, Text
from handlers.core.router import Command, Incoming, Router

Check = Callable[[Command], Reply | None]


@dataclass(frozen=True)
class Answer:
    """The reply, and one line per post that could not be sent: apart, because an adapter
    may show them apart (a capture acknowledged by a reaction still tells its problems)."""

    reply: Reply
    problems: tuple[str, ...] = ()

    @property
    def notes(self) -> list[Text]:
        """The problems, in the language the reply was said in."""
        return [Text((said(p, self.reply.lang),)) for p in self.problems]

    @property
    def whole(self) -> Reply:
        """The reply with its problems added, for an adapter that shows them together."""
        return self.reply.add(*self.notes) if self.problems else self.reply


class Conversation:
    def __init__(self, router: Router, dispatcher: Dispatcher | None,
                 seen: SeenEvents | None = None) -> None:
        # without a dispatcher (a core process that only runs commands) the posts stay
        # queued for the caller's ``delivered``
        self.router = router
        self.dispatcher = dispatcher
        self.seen = seen

    def run(self, msg: Incoming, check: Check | None = None) -> Reply:
        """The command on the line, its mark settled. A reply marked ``duplicate`` says
        its event had been handled already and nothing was done: the adapter may drop it
        or say so. ``check`` sees the resolved command before it runs (a platform's own
        condition), and may refuse it."""
        ran: list[Command] = []

        def checked(cmd: Command) -> Reply | None:
            refused = check(cmd) if check is not None else None
            if refused is None:
                ran.append(cmd)
            return refused

        reply = self.router.handle(msg, checked)
        if msg.once is not None and self.seen is not None:
            self.seen.settle(msg.once, reply, ran=bool(ran))
        return reply

    def hear(self, msg: Incoming) -> Reply | None:
        """An ordinary channel line, for a listener (a meeting's captures): None when no
        listener took it or its event had been taken already. A line taken wrote its mark
        with the capture; one no listener wants is not marked (it did nothing)."""
        reply = self.router.hear(msg)
        if reply is None:
            return None
        if (msg.once is not None and self.seen is not None
                and not self.seen.settle(msg.once, reply, ran=True)):
            return None
        return reply

    def presence(self, msg: Incoming, joined: bool) -> tuple[str, ...]:
        """``msg``'s person joined (or left) its channel: what that changed, a line each for
        the log. The event's mark is written with the change (``Router.presence``)."""
        return self.router.presence(msg, joined)

    def answer(self, posts: list[Post], base: str) -> Answer:
        """Posts that answer something that was no command (a mail's reply, one message
        for all its lines), queued under ``base`` (written once) and sent now."""
        return self.delivered(Reply(queued=self.router.queue(posts, base)))

    def delivered(self, reply: Reply) -> Answer:
        """The posts the reply's work queued, sent now, and a line for each channel that
        could not be reached (or waits for a process connected to its platform)."""
        if not reply.queued or self.dispatcher is None:
            return Answer(reply)
        return Answer(reply, tuple(self.dispatcher.deliver(reply.queued)))

    async def ask(self, msg: Incoming, check: Check | None = None) -> Answer:
        """``run`` then ``delivered``, on a worker thread."""
        return await asyncio.to_thread(lambda: self.delivered(self.run(msg, check)))

    async def listen(self, msg: Incoming) -> Answer | None:
        """``hear`` then ``delivered``, on a worker thread."""
        def work() -> Answer | None:
            reply = self.hear(msg)
            return None if reply is None else self.delivered(reply)
        return await asyncio.to_thread(work)
