"""How the sender reaches its server: the URL, STARTTLS when offered, a login only over
an encrypted connection (or on this machine), and settings that never show the password."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.config import ConfigError, load_settings
from bot.email.smtp import SmtpSender, SmtpUrl, SmtpUrlError
from handlers.core.messages import ChannelRef, Text
from handlers.delivery import SendFailed
from tests.support.mailserver import MailServer, start, stop


@pytest.mark.parametrize(("raw", "want"), [
    ("smtp://mail.example.org", SmtpUrl("mail.example.org", 25, False)),
    ("smtp://u:p@mail.example.org:587", SmtpUrl("mail.example.org", 587, False, "u", "p")),
    ("smtps://bot%40example.org:p%40ss%3Aw@smtp.example.org",
     SmtpUrl("smtp.example.org", 465, True, "bot@example.org", "p@ss:w")),
])
def test_the_url_says_host_port_tls_and_login(raw: str, want: SmtpUrl) -> None:
    assert SmtpUrl.parse(raw) == want


@pytest.mark.parametrize("raw", ["http://mail.example.org", "smtp://", "smtp://host:99999",
                                 "smtp://host/path", "smtp://host?x=1", "mail.example.org"])
def test_a_url_that_says_no_server_is_refused(raw: str) -> None:
    with pytest.raises(SmtpUrlError):
        SmtpUrl.parse(raw)


def test_settings_need_both_and_never_show_the_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both"):
        load_settings({"TASKBOT_SMTP_URL": "smtp://h"}, tmp_path)
    with pytest.raises(ConfigError, match="not a mail address"):
        load_settings({"TASKBOT_SMTP_URL": "smtp://h", "TASKBOT_MAIL_FROM": "bot"}, tmp_path)
    with pytest.raises(ConfigError) as err:
        load_settings({"TASKBOT_SMTP_URL": "smtp://u:s3cret@h/x",
                       "TASKBOT_MAIL_FROM": "bot@example.org"}, tmp_path)
    assert "s3cret" not in str(err.value)
    settings = load_settings({"TASKBOT_SMTP_URL": "smtps://u:s3cret@h",
                              "TASKBOT_MAIL_FROM": "bot@example.org"}, tmp_path)
    assert settings.email_configured and "s3cret" not in repr(settings)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.fixture
def tls_server(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[MailServer]:
    server = start(MailServer(), tls_context=tls[0], require_starttls=True,
                   auth=("bot", "pw"))
    try:
        yield server
    finally:
        stop(server)


def test_starttls_is_used_when_offered_and_the_login_goes_over_it(
        tls_server: MailServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    url = SmtpUrl.parse(f"smtp://bot:pw@127.0.0.1:{tls_server.port}")
    mail = SmtpSender(url, "taskbot@programme.eu", tls_context=tls[1])
    mail.send(ChannelRef.direct("email", "ana@city.eu"), [Text(("Hello",))], "k")
    mail.close()
    assert tls_server.tls_sessions == 1 and tls_server.logins == ["bot"]
    assert [m["Subject"] for m in tls_server.to("ana@city.eu")] == ["Hello"]


def test_a_refused_login_is_retried_and_names_no_password(
        tls_server: MailServer, tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    url = SmtpUrl.parse(f"smtp://bot:wrong-pw@127.0.0.1:{tls_server.port}")
    mail = SmtpSender(url, "taskbot@programme.eu", tls_context=tls[1])
    with pytest.raises(SendFailed) as err:
        mail.send(ChannelRef.direct("email", "ana@city.eu"), [Text(("Hello",))], "k")
    assert "login refused" in str(err.value) and "wrong-pw" not in str(err.value)
    # the bot's settings are wrong, not the recipient: the rows wait for the fix
    assert not err.value.permanent and tls_server.received == []


def test_a_certificate_that_does_not_verify_stops_the_send(tls_server: MailServer) -> None:
    url = SmtpUrl.parse(f"smtp://bot:pw@127.0.0.1:{tls_server.port}")
    mail = SmtpSender(url, "taskbot@programme.eu")  # the system's trust: not this one
    with pytest.raises(SendFailed):
        mail.send(ChannelRef.direct("email", "ana@city.eu"), [Text(("Hello",))], "k")
    assert tls_server.logins == [] and tls_server.received == []


def test_a_recipient_that_is_not_an_address_fails_for_good() -> None:
    mail = SmtpSender(SmtpUrl.parse("smtp://127.0.0.1:1"), "taskbot@programme.eu")
    with pytest.raises(SendFailed) as err:
        mail.send(ChannelRef.direct("email", "not an address"), [Text(("x",))], "k")
    assert err.value.permanent


def test_an_idle_connection_is_closed_and_the_next_send_opens_one(tmp_path: Path) -> None:
    import time

    server = start(MailServer())
    try:
        mail = SmtpSender(SmtpUrl.parse(server.url), "taskbot@programme.eu", idle_close=0.2)
        for n in range(20):  # a burst: one connection, one timer
            mail.send(ChannelRef.direct("email", "ana@city.eu"), [Text((f"m{n}",))], f"k{n}")
        assert mail.connections == 1
        deadline = time.monotonic() + 10
        while mail._conn is not None and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting on the condition, bounded
        assert mail._conn is None
        mail.send(ChannelRef.direct("email", "ana@city.eu"), [Text(("later",))], "k-later")
        assert mail.connections == 2 and len(server.to("ana@city.eu")) == 21
        mail.close()
    finally:
        stop(server)
