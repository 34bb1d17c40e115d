"""Reading a received mail (``bot.email.inbound``), the whole family of what a mail can
hold: any bytes are read without an exception into either lines to run or one reason to
run nothing; the lines are the first paragraph before any quote, bounded in count and
length; what a reply answers is read from our own ids only; DKIM counts only in the
receiving server's own (topmost) result."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, load_settings
from bot.email.inbound import (
    COMMANDS_MAX,
    LINE_MAX,
    MAIL_MAX,
    CalendarAnswer,
    calendar_answer,
    command_lines,
    read_mail,
)
from bot.email.message import message_id, thread_id
from bot.email.settings import ImapUrl, ImapUrlError

DOMAIN = "programme.eu"
HEADERS = ["From", "Subject", "Message-ID", "In-Reply-To", "References", "Auto-Submitted",
           "Precedence", "Return-Path", "Authentication-Results", "Content-Type",
           "Content-Transfer-Encoding", "List-Id"]

header_values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["ana@city.eu", "Ana <ana@city.eu>", "<a@b.eu>, <c@d.eu>", "<>",
                     "multipart/report; report-type=delivery-status", "auto-replied",
                     "bulk", "=?utf-8?q?=C3=A9t=C3=A9?=", "=?bogus?b?////?=",
                     "text/plain; charset=x-unknown", "base64", "quoted-printable",
                     "multipart/mixed; boundary=\"b\"", "mx; dkim=pass header.d=city.eu"]),
)


def _mail(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = b"".join(f"{name}: {value}".encode("utf-8", "surrogatepass") + b"\r\n"
                    for name, value in headers)
    return head + b"\r\n" + body


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(HEADERS), header_values), max_size=12),
       st.binary(max_size=2000) | st.text(max_size=2000).map(lambda t: t.encode("utf-8",
                                                                                 "surrogatepass")))
def test_any_mail_is_read_into_lines_or_one_reason(headers: list[tuple[str, str]],
                                                   body: bytes) -> None:
    got = read_mail(_mail(headers, body), domain=DOMAIN, require="dkim")
    assert bool(got.ignored) != bool(got.lines)
    assert len(got.lines) <= COMMANDS_MAX
    assert all(0 < len(line) <= LINE_MAX and line == line.strip() for line in got.lines)
    assert not any(line.startswith(">") for line in got.lines)
    assert len(got.digest) == 64


@given(st.binary(max_size=3000))
def test_any_bytes_are_read_without_an_exception(raw: bytes) -> None:
    got = read_mail(raw, domain=DOMAIN)
    assert bool(got.ignored) != bool(got.lines)


lines = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                max_size=80).map(str.strip).filter(lambda s: bool(s) and s[0] != ">"
                                                   and not s.lower().startswith(("on ", "le ")))


@given(st.lists(lines, min_size=1, max_size=15), st.lists(lines, max_size=5))
def test_the_first_paragraph_runs_and_nothing_quoted_does(first: list[str],
                                                          quoted: list[str]) -> None:
    from bot.email import inbound

    first = [f for f in first if not inbound._HEADER_BLOCK.match(f)
             and not inbound._ATTRIBUTION.match(f) and f.lower() not in inbound._SEPARATORS
             and not f.lower().startswith("-----original")]
    text = "\n".join(first) + "\n\n" + "\n".join("> " + q for q in quoted)
    # a no-break space (what some clients type) is a space
    assert command_lines(text) == tuple(f.replace("\xa0", " ") for f in first[:COMMANDS_MAX])
    assert command_lines("\n".join("> " + q for q in quoted)) == ()


def test_quotes_signatures_and_attributions_end_the_commands() -> None:
    for text in ("done\nOn Mon, 30 Nov 2026 at 09:00, Taskbot <t@x.eu> wrote:\n> A-1",
                 "done\n-- \nAna", "done\n-----Original Message-----\nFrom: x",
                 "done\nFrom: Taskbot <t@x.eu>\nSent: Monday", "done\n> quoted",
                 "\n\n  done  \n\nthanks, Ana", "done\nLe lun. 30 nov. 2026, Taskbot a écrit :"):
        assert command_lines(text) == ("done",), text


def test_what_a_reply_answers_is_read_from_our_ids_only() -> None:
    ours = message_id("post:x:0:email:dm:ana@city.eu", DOMAIN, "decision:12")
    cases = [
        ({"In-Reply-To": ours}, "decision:12"),
        ({"References": f"<z@city.eu> {thread_id('action:7', DOMAIN)}"}, "action:7"),
        ({"In-Reply-To": ours.replace(DOMAIN, "evil.eu")}, ""),
        ({"In-Reply-To": "<decision.12.drop;table@programme.eu>"}, ""),
        ({}, ""),
    ]
    for headers, topic in cases:
        msg = EmailMessage()
        msg["From"], msg["Message-ID"] = "ana@city.eu", "<m1@city.eu>"
        for k, v in headers.items():
            msg[k] = v
        msg.set_content("ack")
        assert read_mail(msg.as_bytes(), domain=DOMAIN).topic == topic, headers


def test_one_sender_only() -> None:
    for sender, ok in (("Ana <ana@city.eu>", True), ('"Ana, City" <ana@city.eu>', True),
                       ("ana@city.eu", True), ("<ana@city.eu>, <ben@city.eu>", False),
                       ('"Boss <boss@city.eu>" <ana@city.eu>', False), ("nobody", False)):
        raw = f"From: {sender}\r\nMessage-ID: <m@c.eu>\r\n\r\nhelp\r\n".encode()
        got = read_mail(raw, domain=DOMAIN)
        assert (got.sender == "ana@city.eu") == ok, sender


def test_a_mail_over_the_bound_is_not_parsed() -> None:
    raw = b"From: ana@city.eu\r\n\r\n" + b"help\r\n" * (MAIL_MAX // 6 + 1)
    got = read_mail(raw, domain=DOMAIN)
    assert got.ignored.startswith("too large") and got.sender is None


def test_the_imap_url_and_its_settings(tmp_path: Path) -> None:
    assert ImapUrl.parse("imaps://bot%40p.eu:p%40ss@imap.p.eu/Taskbot") == ImapUrl(
        "imap.p.eu", 993, True, "bot@p.eu", "p@ss", "Taskbot")
    assert ImapUrl.parse("imap://bot:pw@127.0.0.1:1143").folder == "INBOX"
    for raw in ("http://h", "imaps://h/INBOX", "imaps://u@h", "imaps://u:p@h?x=1",
                "imaps://u:p@h/a%22b", "imaps://u:p@:99999"):
        with pytest.raises(ImapUrlError) as err:
            ImapUrl.parse(raw)
        assert "p@" not in str(err.value)
    mail = {"TASKBOT_SMTP_URL": "smtp://h", "TASKBOT_MAIL_FROM": "bot@p.eu"}
    with pytest.raises(ConfigError, match="needs TASKBOT_SMTP_URL"):
        load_settings({"TASKBOT_IMAP_URL": "imaps://u:p@h"}, tmp_path)
    with pytest.raises(ConfigError, match="dkim or off"):
        load_settings({**mail, "TASKBOT_MAIL_REQUIRE_AUTH": "spf"}, tmp_path)
    with pytest.raises(ConfigError) as bad:
        load_settings({**mail, "TASKBOT_IMAP_URL": "imaps://u:s3cret@h?x"}, tmp_path)
    assert "s3cret" not in str(bad.value)
    settings = load_settings({**mail, "TASKBOT_IMAP_URL": "imaps://u:s3cret@h",
                              "TASKBOT_MAIL_REQUIRE_AUTH": "DKIM"}, tmp_path)
    assert settings.mail_require_auth == "dkim" and "s3cret" not in repr(settings)


@given(st.text(max_size=3000))
def test_any_calendar_text_is_an_answer_or_none(text: str) -> None:
    got = calendar_answer(text)
    assert got is None or got.answer in ("yes", "no", "maybe")


def test_a_calendar_reply_is_read_and_nothing_else_is() -> None:
    reply = ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:series-3@taskbot\r\n"
             "RECURRENCE-ID;TZID=Europe/Brussels:20261209T100000\r\n"
             "ATTENDEE;PARTSTAT=TENTATIVE;CN=Ana:\r\n mailto:Ana@City.EU\r\n"
             "END:VEVENT\r\nEND:VCALENDAR\r\n")
    got = calendar_answer(reply)
    assert got == CalendarAnswer("series-3@taskbot", "maybe", "ana@city.eu",
                                 dt.date(2026, 12, 9))
    assert calendar_answer(reply.replace("METHOD:REPLY", "METHOD:REQUEST")) is None
    assert calendar_answer(reply.replace("TENTATIVE", "DELEGATED")) is None
    two = reply.replace("END:VEVENT", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:b@c.eu\r\nEND:VEVENT")
    assert calendar_answer(two) is None  # one attendee answers for themself
    whole = reply.replace("RECURRENCE-ID;TZID=Europe/Brussels:20261209T100000\r\n", "")
    assert calendar_answer(whole) == CalendarAnswer("series-3@taskbot", "maybe",
                                                    "ana@city.eu", None)
