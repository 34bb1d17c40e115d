"""Mail out, against a real SMTP server on loopback: people known only by an address get
every post to their groups and their personal nudges, one message each, threaded by a
Message-ID derived from the outbox key; a 4xx is retried with backoff, a 5xx fails the row
for good and shows in ``secretariat deliveries``."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from sqlalchemy import select

from bot.email.message import message_id
from bot.email.smtp import SmtpSender, SmtpUrl
from handlers.delivery._engine import DeliveryEngine
from storage import outbox
from storage.models import Outbox
from tests.support.dialog import Bot
from tests.support.mailserver import MailServer

UTC = dt.UTC
ANA, BEN, CAROL = "ana@lighthouse.eu", "ben@follower.eu", "carol@city.eu"


def sender(server: MailServer, **kw: object) -> SmtpSender:
    return SmtpSender(SmtpUrl.parse(server.url), "taskbot@programme.eu", idle_close=5.0,
                      **kw)  # type: ignore[arg-type]


def engine(bot: Bot, mail: SmtpSender) -> DeliveryEngine:
    return DeliveryEngine(bot.sessions, bot.settings, {"shell": bot._poster, "email": mail},
                          kinds=bot.router.registry.kinds)


def rows(bot: Bot) -> dict[str, tuple[str, str | None]]:
    with bot.sessions() as s:
        return {k: (st, err) for k, st, err in s.execute(
            select(Outbox.channel_id, Outbox.status, Outbox.last_error)
            .where(Outbox.platform == "email"))}


def body(msg: object, subtype: str) -> str:
    from email.message import EmailMessage

    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    return str(part.get_content())


def test_a_decision_reaches_each_mail_only_member_as_one_message_of_its_own(
        bot: Bot, smtp_server: MailServer) -> None:
    bot.admin(f"tg add replication {ANA} project Lighthouse One")
    bot.admin(f"tg add replication {BEN}")
    bot.admin("tg add replication @dora")  # a shell person: reads the channel
    out = bot.admin("decision post replication Adopt the <b>kit</b> & share it")
    assert "D-1" in out
    mail = sender(smtp_server)
    result = engine(bot, mail).tick(bot.now)
    to_mail = sorted(d.channel.channel_id for d in result.delivered
                     if d.channel.platform == "email")
    assert to_mail == [f"dm:{ANA}", f"dm:{BEN}"]
    assert mail.connections == 1  # one connection for the whole tick
    for address in (ANA, BEN):
        [msg] = smtp_server.to(address)
        assert msg["To"] == address and msg["Cc"] is None  # no one sees the others
        assert msg["Auto-Submitted"] == "auto-generated"
        assert "D-1" in msg["Subject"]
        text, page = body(msg, "plain"), body(msg, "html")
        assert "Adopt the <b>kit</b> & share it" in text
        assert "Adopt the &lt;b&gt;kit&lt;/b&gt; &amp; share it" in page
        assert "<b>kit" not in page
        assert "decision ack D-1" in text  # the button, as a command to type
    ids = {smtp_server.to(a)[0]["Message-ID"] for a in (ANA, BEN)}
    assert len(ids) == 2
    with bot.sessions() as s:
        keys = dict(s.execute(select(Outbox.channel_id, Outbox.key)
                              .where(Outbox.platform == "email")).all())
    first = smtp_server.to(ANA)[0]
    assert first["Message-ID"] == message_id(keys[f"dm:{ANA}"], "programme.eu", "decision:1")
    assert first["Message-ID"].endswith(".decision.1@programme.eu>")
    # the decision's root: its reminders and answers name the same one, so they thread
    assert first["References"] == first["In-Reply-To"] == "<decision.1@programme.eu>"
    mail.close()


def test_the_same_row_sent_again_is_the_same_message(bot: Bot, smtp_server: MailServer
                                                      ) -> None:
    """A resend (the answer to DATA lost, the row claimed again) carries the same
    Message-ID, which mail clients collapse into one."""
    from handlers.core.messages import ChannelRef, Text

    mail = sender(smtp_server)
    channel = ChannelRef.direct("email", ANA)
    first = mail.send(channel, [Text(("Hello",))], "post:x:0:email:dm:" + ANA)
    again = mail.send(channel, [Text(("Hello",))], "post:x:0:email:dm:" + ANA)
    assert first == again
    assert [m["Message-ID"] for m in smtp_server.to(ANA)] == [first, first]
    mail.close()


def test_a_person_with_a_chat_identity_reads_the_channel_not_mail(
        bot: Bot, smtp_server: MailServer) -> None:
    bot.admin("tg add replication @dora")
    bot.admin("decision post replication Adopt the kit")
    result = engine(bot, sender(smtp_server)).tick(bot.now)
    assert [d for d in result.delivered if d.channel.platform == "email"] == []
    assert smtp_server.received == []


@pytest.mark.parametrize(("answer", "status"), [
    ("451 4.3.0 Mailbox busy, try again later", outbox.PENDING),
    ("421 4.7.0 Too many connections, closing", outbox.PENDING),
    ("550 5.1.1 <ana@lighthouse.eu>: Recipient address rejected", outbox.FAILED),
])
def test_the_server_answer_decides_retry_or_failure(
        bot: Bot, smtp_server: MailServer, answer: str, status: str) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.admin(f"tg add replication {BEN}")
    smtp_server.refuse[ANA] = (answer, None)
    bot.admin("decision post replication Adopt the kit")
    mail = sender(smtp_server)
    engine(bot, mail).tick(bot.now)
    got = rows(bot)
    assert got[f"dm:{ANA}"][0] == status
    assert answer.split()[0] in (got[f"dm:{ANA}"][1] or "")
    assert ANA not in (got[f"dm:{ANA}"][1] or "")  # a server's quote of it is not kept
    assert got[f"dm:{BEN}"][0] == outbox.SENT  # one recipient's refusal is its own
    assert len(smtp_server.to(BEN)) == 1 and smtp_server.to(ANA) == []
    shown = bot.admin("secretariat deliveries")
    if status == outbox.FAILED:
        assert "550" in shown and "failed" in shown
        return
    # temporary: retried with backoff, and delivered once the server takes it
    del smtp_server.refuse[ANA]
    engine(bot, mail).tick(bot.now + dt.timedelta(seconds=5))
    assert rows(bot)[f"dm:{ANA}"][0] == outbox.PENDING  # not before its retry time
    engine(bot, mail).tick(bot.now + dt.timedelta(minutes=5))
    assert rows(bot)[f"dm:{ANA}"][0] == outbox.SENT
    assert len(smtp_server.to(ANA)) == 1
    mail.close()


def test_a_server_that_is_down_leaves_the_rows_for_a_later_tick(bot: Bot,
                                                                smtp_server: MailServer
                                                                ) -> None:
    from tests.support.mailserver import start, stop

    bot.admin(f"tg add replication {ANA}")
    bot.admin("decision post replication Adopt the kit")
    port = smtp_server.port
    stop(smtp_server)
    mail = SmtpSender(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), "taskbot@programme.eu")
    engine(bot, mail).tick(bot.now)
    status, error = rows(bot)[f"dm:{ANA}"]
    assert status == outbox.PENDING and "unreachable" in (error or "")
    back = start(MailServer())
    try:
        mail = sender(back)
        engine(bot, mail).tick(bot.now + dt.timedelta(minutes=5))
        assert rows(bot)[f"dm:{ANA}"][0] == outbox.SENT and len(back.to(ANA)) == 1
        mail.close()
    finally:
        stop(back)


def test_a_connection_the_server_closed_meanwhile_is_reopened(
        bot: Bot, smtp_server: MailServer) -> None:
    from handlers.core.messages import ChannelRef, Text

    mail = sender(smtp_server)
    mail.send(ChannelRef.direct("email", ANA), [Text(("one",))], "k1")
    assert mail._conn is not None
    # the connection ends under the kept session, as a server's idle timeout ends it
    mail._conn.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    mail.send(ChannelRef.direct("email", ANA), [Text(("two",))], "k2")
    assert [m["Subject"] for m in smtp_server.to(ANA)] == ["one", "two"]
    assert mail.connections == 2
    mail.close()


def test_meeting_reminders_and_nudges_reach_mail_only_people(
        bare_bot: Bot, smtp_server: MailServer) -> None:
    bot = bare_bot
    bot.now = dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    bot.admin("tg create repl Replication")
    bot.admin(f"tg add repl {ANA} as chair")
    # the first Tuesday is 3 Nov 2026, 10:00 CET: its reminder a day before, 09:00 UTC
    bot.admin("meeting schedule repl first tuesday 10:00 Europe/Brussels remind 1d")
    bot.admin(f"action add {ANA} send the kit due 2026-11-03 group repl")
    mail = sender(smtp_server)
    got = engine(bot, mail).tick(dt.datetime(2026, 11, 2, 9, 1, tzinfo=UTC))
    assert sorted((d.kind, d.channel.channel_id) for d in got.delivered) == [
        ("action_nudge", f"dm:{ANA}"), ("meeting_reminder", f"dm:{ANA}"),
        ("post", f"dm:{ANA}"), ("weekly_digest", f"dm:{ANA}")]
    # the nudge, the reminder, the new series announced, and Monday's digest
    subjects = {m["Subject"] for m in smtp_server.to(ANA)}
    assert "Reminder: the Replication meeting is in 1 day: Tue 03 Nov 2026 10:00 CET" in subjects
    assert all(m["To"] == ANA for m in smtp_server.to(ANA))
    texts = [body(m, "plain") for m in smtp_server.to(ANA)]
    assert sum("send the kit" in t for t in texts) == 2  # the nudge and the reminder
    # once each: the next tick sends nothing again
    assert engine(bot, mail).tick(dt.datetime(2026, 11, 2, 9, 2, tzinfo=UTC)).delivered == []
    mail.close()


def test_a_group_known_only_by_mail_gets_the_ack_reminder_and_a_meetings_minutes(
        bare_bot: Bot, smtp_server: MailServer) -> None:
    """A group with no channel at all: its members' mail is its only reach, for the
    reminder to acknowledge a decision and for the minutes of a meeting held elsewhere."""
    bot = bare_bot
    bot.now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
    bot.admin("tg create boc Board of Coordinators")
    bot.admin("tg link boc", channel="#boc")
    bot.admin("tg create repl Replication")
    bot.admin(f"tg add repl {ANA} as chair")
    bot.admin("tg link repl", channel="#repl-call")
    bot.admin("decision post repl Adopt the kit", channel="#boc")
    mail = sender(smtp_server)
    engine(bot, mail).tick(bot.now)
    assert [m["Subject"] for m in smtp_server.to(ANA)] == ["BoC decision D-1"]
    # a week on, unacknowledged: the reminder goes in working hours, to her too
    got = engine(bot, mail).tick(dt.datetime(2026, 11, 9, 9, 0, tzinfo=UTC))
    assert ("ack_reminder", f"dm:{ANA}") in [(d.kind, d.channel.channel_id)
                                            for d in got.delivered]
    assert "D-1" in body(smtp_server.to(ANA)[-1], "plain")
    mail.close()


def test_minutes_of_a_meeting_reach_the_mail_readers(bare_bot: Bot,
                                                     smtp_server: MailServer) -> None:
    bot = bare_bot
    bot.now = dt.datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    bot.admin("tg create repl Replication")
    bot.admin("tg link repl", channel="#repl")
    bot.admin(f"tg add repl {ANA}")
    bot.admin("tg add repl @root as chair")
    bot.admin("meeting start repl", channel="#repl")
    from handlers.core.router import Incoming

    heard = bot.router.hear(Incoming(platform="shell", user_id="root", channel_id="#repl",
                                     text="#agreed share the kit with <followers> & co"))
    assert heard is not None and not heard.error
    bot.admin("meeting end", channel="#repl")
    mail = sender(smtp_server)
    engine(bot, mail).tick(bot.now)
    [minutes] = smtp_server.to(ANA)
    text, page = body(minutes, "plain"), body(minutes, "html")
    assert "share the kit with <followers> & co" in text
    assert "share the kit with &lt;followers&gt; &amp; co" in page
    mail.close()


def test_any_language_and_a_file_arrive_whole(smtp_server: MailServer) -> None:
    from handlers.core.messages import ChannelRef, File, Text

    mail = sender(smtp_server)
    title = "Décision: Zürich — 東京 \u202eevil\rBcc: x@y.eu " + "long " * 40
    blocks = [Text((title,), "heading"), Text(("Ça marche, ключ <ok>",)),
              File("actions.csv", "text/csv", b"id,title\r\nA-1,=cmd\r\n")]
    mail.send(ChannelRef.direct("email", ANA), blocks, "k-utf8")
    mail.send(ChannelRef.direct("email", BEN), [Text(("Another post",))], "k-other")
    [msg] = smtp_server.to(ANA)
    subject = str(msg["Subject"])
    assert subject.startswith("Décision: Zürich — 東京 evil Bcc: x@y.eu long")
    assert len(subject) <= 120 and "\n" not in subject and "\u202e" not in subject
    assert msg["Bcc"] is None and smtp_server.received[0].rcpt_tos == [ANA]
    assert "Ça marche, ключ <ok>" in body(msg, "plain")
    [attached] = list(msg.iter_attachments())
    assert attached.get_filename() == "actions.csv"
    assert attached.get_content().replace("\r\n", "\n") == "id,title\nA-1,=cmd\n"
    [other] = smtp_server.to(BEN)  # a second post is its own mail, not the cached first
    assert other["Subject"] == "Another post" and "Ça marche" not in body(other, "plain")
    mail.close()


def test_the_secretariat_sends_a_failed_mail_again(bot: Bot, smtp_server: MailServer) -> None:
    smtp_server.refuse[ANA] = ("550 5.2.1 Mailbox disabled", None)
    bot.admin(f"tg add replication {ANA}")
    bot.admin("decision post replication Adopt the kit")
    mail = sender(smtp_server)
    engine(bot, mail).tick(bot.now)
    assert rows(bot)[f"dm:{ANA}"][0] == outbox.FAILED
    with bot.sessions() as s:
        row_id = s.scalar(select(Outbox.id).where(Outbox.channel_id == f"dm:{ANA}"))
    refused = bot.ask("ana@lighthouse.eu", None, f"secretariat retry {row_id}")
    assert refused.error and rows(bot)[f"dm:{ANA}"][0] == outbox.FAILED  # staff only
    assert bot.ask("root", None, "secretariat retry 99999").error  # no such failed row
    del smtp_server.refuse[ANA]  # the mailbox put right
    out = bot.admin(f"secretariat retry {row_id}")
    assert "1 failed message will be sent again now" in out
    engine(bot, mail).tick(bot.now)
    assert rows(bot)[f"dm:{ANA}"][0] == outbox.SENT
    assert len(smtp_server.to(ANA)) == 1
    missing = bot.ask("root", None, "secretariat retry failed")
    assert missing.error  # nothing failed any more
    mail.close()
