"""A throwaway Synapse homeserver on 127.0.0.1, for the Matrix tests and the benchmark.

``matrix-synapse`` is a test dependency (installed by ``pip install -e '.[test]'``); nothing is
installed at run time. The config is generated into a temp directory: SQLite, one client
listener, no federation key servers, presence off and every rate limit raised, so the tests
measure the bot and not the homeserver's throttling. One test restores Synapse's default
message rate: it starts a second homeserver with ``stock_message_rate=True`` (the admin API's
per-user override takes whole messages per second only, and the default is 0.2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVER_NAME = "localhost"
# Synapse's own defaults for rc_message (synapse/config/ratelimiting.py)
DEFAULT_MESSAGES_PER_SECOND = 0.2
DEFAULT_MESSAGE_BURST = 10

_HIGH = {"per_second": 10000, "burst_count": 100000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _HIGH,
    "rc_registration": _HIGH,
    "rc_login": {"address": _HIGH, "account": _HIGH, "failed_attempts": _HIGH},
    "rc_admin_redaction": _HIGH,
    "rc_joins": {"local": _HIGH, "remote": _HIGH},
    "rc_joins_per_room": _HIGH,
    "rc_invites": {"per_room": _HIGH, "per_user": _HIGH, "per_issuer": _HIGH},
    "rc_3pid_validation": _HIGH,
    "rc_third_party_invite": _HIGH,
    "rc_media_create": _HIGH,
    "rc_key_requests": _HIGH,
    "rc_presence": {"per_user": _HIGH},
    "rc_delayed_event_mgmt": _HIGH,
    "rc_room_creation": _HIGH,
    "rc_reports": _HIGH,
    "rc_user_directory": _HIGH,
    "rc_profile": _HIGH,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass
class Synapse:
    url: str
    root: Path
    shared_secret: str
    process: subprocess.Popen[bytes]
    admin: Account | None = None
    accounts: dict[str, Account] = field(default_factory=dict)

    # --- HTTP --------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                token: str | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                result: dict[str, Any] = json.loads(resp.read() or b"{}")
                return result
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{method} {path}: {err.code} {err.read()[:300]!r}") from None

    # --- accounts ----------------------------------------------------------------------------

    def register(self, name: str, password: str | None = None, *, admin: bool = False) -> Account:
        """A user through the shared-secret admin API (registration is closed otherwise)."""
        password = password or secrets.token_urlsafe(12)
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        resp = self.request("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": name, "password": password, "admin": admin,
            "mac": mac.hexdigest(),
        })
        account = Account(resp["user_id"], password, resp["access_token"], resp["device_id"])
        self.accounts[name] = account
        return account

    def admin_account(self) -> Account:
        if self.admin is None:
            self.admin = self.register("synapse-admin", admin=True)
        return self.admin

    def limit_messages(self, user_id: str, per_second: int, burst: int) -> None:
        """Hold one user to a message rate (whole messages per second; 0 lifts the limit)."""
        token = self.admin_account().access_token
        quoted = urllib.request.quote(user_id)
        self.request("POST", f"/_synapse/admin/v1/users/{quoted}/override_ratelimit",
                     {"messages_per_second": per_second, "burst_count": burst}, token)

    def unlimit_messages(self, user_id: str) -> None:
        token = self.admin_account().access_token
        quoted = urllib.request.quote(user_id)
        self.request("DELETE", f"/_synapse/admin/v1/users/{quoted}/override_ratelimit",
                     None, token)

    def user_id(self, name: str) -> str:
        return f"@{name}:{SERVER_NAME}"

    # --- life cycle --------------------------------------------------------------------------

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def write_config(root: Path, port: int, shared_secret: str, stock_message_rate: bool) -> Path:
    from signedjson.key import generate_signing_key, write_signing_keys

    with (root / "signing.key").open("w") as f:
        write_signing_keys(f, [generate_signing_key("a")])
    (root / "media").mkdir()
    (root / "log.yaml").write_text(json.dumps({
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                              "filename": str(root / "homeserver.log")}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }))
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(root / "homeserver.pid"),
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
            "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}},
        "log_config": str(root / "log.yaml"),
        "media_store_path": str(root / "media"),
        "signing_key_path": str(root / "signing.key"),
        "report_stats": False,
        "enable_registration": False,
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "bcrypt_rounds": 4,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        **RATE_LIMITS,
    }
    if stock_message_rate:
        config["rc_message"] = {"per_second": DEFAULT_MESSAGES_PER_SECOND,
                                "burst_count": DEFAULT_MESSAGE_BURST}
    path = root / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"Synapse exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url + "/_matrix/client/versions", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Synapse did not answer on {url} within {timeout:.0f}s")


@contextmanager
def synapse_server(timeout: float = 90, *, stock_message_rate: bool = False) -> Iterator[Synapse]:
    """Start Synapse, yield it, and stop it (no process is left behind).

    ``stock_message_rate`` keeps Synapse's default ``rc_message`` (0.2/s, burst 10) for every
    user; otherwise every limit is raised."""
    root = Path(tempfile.mkdtemp(prefix="taskbot-synapse-"))
    port = free_port()
    secret = secrets.token_hex(16)
    config = write_config(root, port, secret, stock_message_rate)
    out = (root / "stdout.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)],
        cwd=root, stdout=out, stderr=subprocess.STDOUT,
    )
    server = Synapse(f"http://127.0.0.1:{port}", root, secret, process)
    try:
        wait_ready(server.url, process, root / "stdout.log", timeout)
        yield server
    finally:
        server.stop()
        out.close()
        shutil.rmtree(root, ignore_errors=True)
