"""The real program with mail configured: a person added by address gets the decision a
command posts at once from the shell, and the meeting reminder ``taskbot tick`` delivers,
each as mail to a real SMTP server; their replies, read from a real Dovecot by ``taskbot
tick`` and by ``taskbot run``, run as commands."""

from __future__ import annotations

import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.bot.conftest import Taskbot
from tests.support.dovecot import Dovecot
from tests.support.mailserver import MailServer
from tests.support.processes import stop_process

ANA = "ana@lighthouse.eu"


@pytest.fixture
def program(tmp_path: Path, smtp_server: MailServer) -> Taskbot:
    work = tmp_path / "work"
    work.mkdir()
    bot = Taskbot(work, f"sqlite:///{tmp_path / 'taskbot.sqlite3'}")
    return bot


def mail_env(server: MailServer) -> dict[str, str]:
    return {"TASKBOT_SMTP_URL": server.url, "TASKBOT_MAIL_FROM": "taskbot@programme.eu"}


def test_the_shell_and_tick_send_mail_to_a_person_added_by_address(
        program: Taskbot, smtp_server: MailServer) -> None:
    env = mail_env(smtp_server)
    out = program.shell(f"tg add replication {ANA} project Lighthouse One\n"
                        "decision post replication Share the replication kit\n", **env)
    assert "Added @ana in replication" in out and "D-1" in out
    [decision] = smtp_server.to(ANA)  # sent at once, as the command's posts are
    assert "D-1" in decision["Subject"] and decision["To"] == ANA
    # the preset's Replication meeting: second Wednesday 10:00 Brussels, reminded 1 day
    # before: Tue 8 Dec 2026 at 10:00 CET
    done = program("tick", "--at", "2026-12-08T10:00", **env)
    assert done.returncode == 0, done.stderr
    assert f"to email:dm:{ANA}" in done.stdout
    subjects = [m["Subject"] for m in smtp_server.to(ANA)]
    assert "Reminder: the Replication meeting is in 1 day: Wed 09 Dec 2026 10:00 CET" in subjects
    again = program("tick", "--at", "2026-12-08T10:01", **env)
    assert f"to email:dm:{ANA}" not in again.stdout  # once
    assert len(smtp_server.to(ANA)) == len(subjects)


def test_without_mail_configured_the_rows_wait_for_a_process_that_has_it(
        program: Taskbot, smtp_server: MailServer) -> None:
    out = program.shell(f"tg add replication {ANA}\n"
                        "decision post replication Share the replication kit\n")
    assert "wait" in out and "email" in out  # said, not dropped
    assert smtp_server.received == []
    done = program("tick", "--at", "2026-11-28T10:05", **mail_env(smtp_server))
    assert done.returncode == 0, done.stderr
    assert len(smtp_server.to(ANA)) == 1


def test_a_refused_recipient_is_reported_to_the_author_without_the_address(
        program: Taskbot, smtp_server: MailServer) -> None:
    smtp_server.refuse[ANA] = (f"550 5.1.1 <{ANA}>: Recipient address rejected", None)
    out = program.shell(f"tg add replication {ANA}\n"
                        "decision post replication Share the replication kit\n",
                        **mail_env(smtp_server))
    assert "Could not post to a person by email (mail server said 550 5.1.1 <recipient>" in out
    assert ANA not in out.split("Added @ana", 1)[1]


def reply(original: object, body: str) -> bytes:
    from email.message import EmailMessage
    from email.utils import make_msgid

    assert isinstance(original, EmailMessage)
    msg = EmailMessage()
    msg["From"], msg["To"] = f"Ana <{ANA}>", "taskbot@programme.eu"
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="lighthouse.eu")
    msg["In-Reply-To"] = msg["References"] = original["Message-ID"]
    msg.set_content(f"{body}\n\n> {original['Subject']}\n")
    return msg.as_bytes()


def append(imap: Dovecot, raw: bytes) -> None:
    from bot.email.imap import Mailbox
    from bot.email.settings import ImapUrl

    with Mailbox(ImapUrl.parse(imap.url)) as box:
        box.append(raw)


def test_tick_reads_the_replies_and_ack_acknowledges_the_decision(
        program: Taskbot, smtp_server: MailServer, imap_server: Dovecot) -> None:
    env = {**mail_env(smtp_server), "TASKBOT_IMAP_URL": imap_server.url}
    program.shell(f"tg add replication {ANA} project Lighthouse One\n"
                  "decision post replication Share the replication kit\n", **env)
    [decision] = smtp_server.to(ANA)
    assert "reply" in str(decision.get_body(preferencelist=("plain",)).get_content()).lower()  # type: ignore[union-attr]
    append(imap_server, reply(decision, "ack"))
    done = program("tick", "--at", "2026-11-28T10:05", **env)
    assert done.returncode == 0, done.stderr
    assert "read 1 mail(s): 1 answered, 0 run nothing" in done.stdout
    assert len(smtp_server.to(ANA)) == 2  # the answer, sent by the same tick
    out = program.shell("decision show 1\n", **env)
    assert "acknowledged" in out.lower() and "@ana" in out
    again = program("tick", "--at", "2026-11-28T10:06", **env)
    assert "read 0 mail(s)" in again.stdout  # flagged: never handled twice


def test_run_with_mail_alone_answers_a_reply_as_it_arrives(
        program: Taskbot, smtp_server: MailServer, imap_server: Dovecot) -> None:
    env = {**mail_env(smtp_server), "TASKBOT_IMAP_URL": imap_server.url}
    program.shell(f"tg add replication {ANA}\n", **env)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=program.cwd,
                            env=program.env(**env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        original = EmailMessage()
        original["Subject"], original["Message-ID"] = "hello", "<x@elsewhere.eu>"
        original.set_content("hello")
        append(imap_server, reply(original, "action add Bring the kit group replication"))
        deadline = time.monotonic() + 60
        while not smtp_server.to(ANA) and time.monotonic() < deadline:
            time.sleep(0.1)  # the condition: the answer at the SMTP server
        assert smtp_server.to(ANA), "no answer"
    finally:
        stop_process(proc)  # type: ignore[arg-type]
    assert proc.returncode != -9, "taskbot run did not stop on SIGINT"  # the inbox let go
    [answer] = smtp_server.to(ANA)
    assert "A-1" in str(answer.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
