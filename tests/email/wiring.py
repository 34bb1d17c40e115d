"""The mail adapter wired as ``taskbot run`` wires it, against the tests' own servers."""

from __future__ import annotations

import datetime as dt

from bot.conversation import Conversation
from bot.dispatch import Dispatcher
from bot.email.imap import KEYWORD, Mailbox
from bot.email.inbox import SEEN, Inbox
from bot.email.settings import ImapUrl, SmtpUrl
from bot.email.smtp import SmtpSender
from bot.seen import SeenEvents
from tests.support.dialog import Bot
from tests.support.dovecot import Dovecot
from tests.support.mailserver import MailServer

BOT = "taskbot@programme.eu"
ANA, BEN = "ana@lighthouse.eu", "ben@follower.eu"


class Wired:
    def __init__(self, bot: Bot, smtp: MailServer, imap: Dovecot,
                 require: str | None = None) -> None:
        self.bot, self.smtp, self.imap = bot, smtp, imap
        self.mail = SmtpSender(SmtpUrl.parse(smtp.url), BOT, replies=True, idle_close=5.0)
        dispatcher = Dispatcher(bot.sessions, bot.settings, bot.router.registry.kinds,
                                dt.timedelta(minutes=5))
        dispatcher.register("email", self.mail)
        dispatcher.register("shell", bot._poster)
        self.dispatcher = dispatcher
        self.url = ImapUrl.parse(imap.url)
        self.inbox = self.fresh_inbox(require)

    def fresh_inbox(self, require: str | None = None) -> Inbox:
        """An inbox as a (re)started process builds it: no memory of its own."""
        seen = SeenEvents(self.bot.sessions, SEEN, dt.timedelta(days=90))
        return Inbox(Conversation(self.bot.router, self.dispatcher, seen),
                     lambda: Mailbox(self.url), mail_from=BOT, require=require)

    def tick(self) -> None:
        self.dispatcher.engine().tick(self.bot.now)

    def append(self, raw: bytes) -> None:
        with Mailbox(self.url) as box:
            box.append(raw)

    def flagged(self) -> list[str]:
        with Mailbox(self.url) as box:
            _, data = box._c().uid("SEARCH", f"KEYWORD {KEYWORD}")
            return data[0].decode().split() if data and data[0] else []
