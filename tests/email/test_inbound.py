"""Replies come back in, against a real Dovecot (IMAP) and a real SMTP server: a known
address's reply runs its command lines as that person, a short ``ack`` or ``done`` answers
the decision or action the replied-to mail was about, every mail is answered once in its
thread, and mail that must run nothing (unknown senders, auto-replies, bounces, mail that
failed DKIM where it is required) runs nothing; a handled mail is flagged, and no restart
handles it twice."""

from __future__ import annotations

import datetime as dt
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from bot.email.imap import Mailbox, MailboxError
from bot.email.inbox import Inbox
from bot.email.settings import ImapUrl
from storage.models import Action, DecisionTarget, Group
from tests.email.wiring import ANA, BOT, Wired
from tests.support.dialog import Bot


def reply_to(original: EmailMessage | None, body: str, *, sender: str = ANA,
             subject: str | None = None, html: str | None = None,
             headers: dict[str, str] | None = None) -> bytes:
    """A human's reply as their client writes it: threading headers, quoted original."""
    msg = EmailMessage()
    msg["From"] = f"Ana Alves <{sender}>"
    msg["To"] = BOT
    msg["Subject"] = subject or ("Re: " + str(original["Subject"]) if original else "hello")
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2])
    if original is not None:
        msg["In-Reply-To"] = original["Message-ID"]
        msg["References"] = f"{original.get('References', '')} {original['Message-ID']}".strip()
    for name, value in (headers or {}).items():
        msg[name] = value
    quoted = ""
    if original is not None:
        text = original.get_body(preferencelist=("plain",))
        assert text is not None
        quoted = "\n".join("> " + line for line in str(text.get_content()).splitlines())
    msg.set_content(f"{body}\n\nOn Mon, 30 Nov 2026 at 09:00, Taskbot <{BOT}> wrote:\n{quoted}\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_ack_in_reply_to_a_decision_acknowledges_it_for_the_person_s_group(
        bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA} project Lighthouse One")
    bot.admin("decision post replication Adopt the replication kit")
    wired.tick()
    [decision_mail] = wired.smtp.to(ANA)
    wired.append(reply_to(decision_mail, "ack"))
    [handled] = wired.inbox.check()
    assert handled.ran == ("ack",) and not handled.ignored
    with bot.sessions() as s:
        target = s.scalar(select(DecisionTarget).join(Group).where(Group.slug == "replication"))
        assert target is not None and target.acked_at is not None
        assert target.acked_by is not None and target.acked_by.display_name == "ana"
    wired.tick()
    answer = wired.smtp.to(ANA)[-1]
    assert len(wired.smtp.to(ANA)) == 2
    text = answer.get_body(preferencelist=("plain",))
    assert text is not None and "acknowledged" in str(text.get_content()).lower()
    # in the same thread: it answers the human's mail and names the decision's root
    assert answer["In-Reply-To"].endswith("@lighthouse.eu>")
    assert "<decision.1@programme.eu>" in answer["References"]
    assert answer["Subject"].startswith("Re: ")
    assert wired.flagged() == ["1"]


def test_done_in_reply_to_a_nudge_about_one_action_closes_it(bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.admin(f"action add {ANA} Send the kit due 2026-11-28 group replication")
    bot.now = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)  # 09:30 in Brussels
    wired.tick()
    [nudge] = wired.smtp.to(ANA)
    assert "A-1" in str(nudge.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    wired.append(reply_to(nudge, "done"))
    wired.inbox.check()
    with bot.sessions() as s:
        assert s.scalar(select(Action.status).where(Action.id == 1)) == "done"


def test_whole_commands_run_and_a_bad_line_is_answered_with_its_usage(
        bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    wired.append(reply_to(None, "action add Draft the guide due 2026-12-15 group replication"
                                "\naction frobnicate\nmeeting next replication"))
    [handled] = wired.inbox.check()
    assert len(handled.ran) == 3
    wired.tick()
    [answer] = wired.smtp.to(ANA)
    text = str(answer.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "A-1" in text
    assert "Unknown action subcommand 'frobnicate'" in text and "Usage:" in text
    assert "| meeting next replication" in text  # each line quoted before its answer
    with bot.sessions() as s:
        assert s.scalar(select(Action.title)) == "Draft the guide"


def test_an_html_only_reply_is_read_without_its_quote(bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ANA, BOT, "hi"
    msg["Message-ID"] = make_msgid(domain="lighthouse.eu")
    msg.set_content("<div>action add Write it up group replication</div><blockquote>"
                    "action add Quoted one group replication</blockquote>", subtype="html")
    wired.append(msg.as_bytes())
    wired.inbox.check()
    with bot.sessions() as s:
        assert list(s.scalars(select(Action.title))) == ["Write it up"]


@pytest.mark.parametrize(("sender", "headers", "why"), [
    ("stranger@elsewhere.eu", {}, "an unknown sender"),
    (ANA, {"Auto-Submitted": "auto-replied"}, "an automatic mail (Auto-Submitted)"),
    (ANA, {"Precedence": "bulk"}, "an automatic mail (Precedence)"),
    (ANA, {"Return-Path": "<>"}, "a delivery report (bounce)"),
    (ANA, {"List-Id": "<tg.lists.example>"}, "an automatic or mailing-list mail"),
    ("mailer-daemon@lighthouse.eu", {}, "a delivery report (bounce)"),
    (BOT, {}, "the bot's own mail"),
])
def test_mail_that_must_run_nothing_runs_nothing_and_is_flagged(
        bot: Bot, wired: Wired, sender: str, headers: dict[str, str], why: str) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.admin(f"tg add replication {BOT}")  # the bot's own address, as if a member
    bot.admin("tg add replication mailer-daemon@lighthouse.eu")
    before = bot.counts()
    wired.append(reply_to(None, "action add Sneaky group replication", sender=sender,
                          headers=headers))
    [handled] = wired.inbox.check()
    assert handled.ignored == why
    assert bot.counts() == before  # nothing run, no answer queued
    assert wired.flagged() == ["1"]


def test_dkim_is_required_when_configured(bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    strict = wired.fresh_inbox(require="dkim")
    forged = "mx.programme.eu; dkim=pass header.d=lighthouse.eu"
    # a sender's own header below the receiving server's does not count
    wired.append(reply_to(None, "action add One group replication",
                          headers={"Authentication-Results":
                                   "mx.programme.eu; dkim=fail header.d=lighthouse.eu"}))
    raw = reply_to(None, "action add Two group replication")
    wired.append(f"Authentication-Results: {forged}\r\n".encode() + raw)
    raw3 = reply_to(None, "action add Three group replication")
    wired.append(b"Authentication-Results: mx.programme.eu; dkim=pass header.d=evil.eu\r\n"
                 + raw3)
    handled = strict.check()
    assert [h.ignored for h in handled] == [
        "not authenticated (no DKIM pass for the sender's domain)", "",
        "not authenticated (no DKIM pass for the sender's domain)"]
    with bot.sessions() as s:
        assert list(s.scalars(select(Action.title))) == ["Two"]


def test_a_mail_read_again_after_a_crash_runs_nothing_twice(bot: Bot, wired: Wired) -> None:
    """The process stopped after running the lines and before flagging the mail: the
    next process reads it again, runs nothing, and the answer is not queued twice."""
    bot.admin(f"tg add replication {ANA}")
    raw = reply_to(None, "action add Only once group replication")
    first = wired.inbox.handle(raw)  # handled, never flagged: the crash
    assert first.ran
    wired.append(raw)
    [again] = wired.fresh_inbox().check()
    assert again.digest == first.digest
    with bot.sessions() as s:
        assert list(s.scalars(select(Action.title))) == ["Only once"]
    wired.tick()
    assert len(wired.smtp.to(ANA)) == 1  # one answer
    assert wired.fresh_inbox().check() == []  # flagged now: nothing waits


def test_the_running_inbox_hears_new_mail_through_idle(bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    stop = threading.Event()
    thread = threading.Thread(target=wired.inbox.serve, args=(stop,),
                              kwargs={"idle_for": 30.0}, daemon=True)
    thread.start()
    try:
        wired.append(reply_to(None, "action add Heard at once group replication"))
        deadline = time.monotonic() + 20
        while not wired.smtp.to(ANA) and time.monotonic() < deadline:
            time.sleep(0.05)  # waits on the condition: the answer reaching the server
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert wired.smtp.to(ANA), "no answer"
    with bot.sessions() as s:
        assert list(s.scalars(select(Action.title))) == ["Heard at once"]


def test_a_refused_login_is_said_without_the_password_and_the_inbox_keeps_trying(
        bot: Bot, wired: Wired, caplog: pytest.LogCaptureFixture) -> None:
    wrong = ImapUrl.parse(wired.imap.url.replace(":pw@", ":s3cret@"))
    with pytest.raises(MailboxError) as err:
        Mailbox(wrong).open()
    assert "login refused" in str(err.value) and "s3cret" not in str(err.value)
    inbox = Inbox(wired.inbox.conversation, lambda: Mailbox(wrong), mail_from=BOT)
    stop = threading.Event()
    thread = threading.Thread(target=inbox.serve, args=(stop,), daemon=True)
    with caplog.at_level("ERROR", logger="bot.email.inbox"):
        thread.start()
        deadline = time.monotonic() + 10
        while "login refused" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(10)
    assert "login refused" in caplog.text and "s3cret" not in caplog.text
    assert not thread.is_alive()


def test_a_digest_offers_unsubscribe_and_the_button_s_mail_stops_it(
        bot: Bot, wired: Wired) -> None:
    bot.admin(f"tg add replication {ANA}")
    bot.admin(f"action add {ANA} Draft the guide due 2026-12-20 group replication")
    monday = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)  # 09:00 in Brussels
    bot.now = monday
    wired.tick()
    [digest] = [m for m in wired.smtp.to(ANA) if "week ahead" in str(m["Subject"])]
    assert digest["List-Unsubscribe"] == f"<mailto:{BOT}?subject=me%20digest%20off>"
    # what a mail client's unsubscribe button sends: the subject, nothing in the body
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ANA, BOT, "me digest off"
    msg["Message-ID"] = make_msgid(domain="lighthouse.eu")
    wired.append(msg.as_bytes())
    [handled] = wired.inbox.check()
    assert handled.ran == ("me digest off",)
    bot.now = monday + dt.timedelta(days=7)
    wired.tick()
    assert [m for m in wired.smtp.to(ANA) if "week ahead" in str(m["Subject"])] == [digest]
    # a subject that is no "me" command runs nothing
    other = EmailMessage()
    other["From"], other["To"], other["Subject"] = ANA, BOT, "action cancel 1"
    other["Message-ID"] = make_msgid(domain="lighthouse.eu")
    wired.append(other.as_bytes())
    [ignored] = wired.inbox.check()
    assert ignored.ignored == "no command in it"
