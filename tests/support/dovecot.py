"""A real IMAP server for the mail tests: Debian's Dovecot, started in a temporary
directory with a config of its own (plain login on 127.0.0.1, one passwd-file user, mail
in Maildir), the way the tests start PostgreSQL. ``make test`` installs it."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    user: str = "bot"
    password: str = "pw"

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def available() -> bool:
    return os.path.exists(DOVECOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start() -> Dovecot:
    """A running Dovecot with one user, ``bot``, whose mail lives in the temp dir."""
    root = Path(tempfile.mkdtemp(prefix="taskbot-dovecot-"))
    root.chmod(0o755)
    user = pwd.getpwnam("dovenull")
    gid = grp.getgrgid(user.pw_gid).gr_gid
    home = root / "home"
    home.mkdir()
    os.chown(home, user.pw_uid, gid)
    for sub in ("run", "state"):
        (root / sub).mkdir()
    users = root / "users"
    users.write_text(f"bot:{{PLAIN}}pw:{user.pw_uid}:{gid}::{home}\n")
    users.chmod(0o644)
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(CONFIG.format(root=root, port=port))
    # it forks into the background: its children must not hold a pipe of ours open
    with open(root / "start.log", "wb") as out:
        subprocess.run([DOVECOT, "-c", str(conf)], check=True, stdin=subprocess.DEVNULL,
                       stdout=out, stderr=subprocess.STDOUT, timeout=30)
    server = Dovecot(root, port)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"dovecot did not start: {server.log()[-2000:]}")
        time.sleep(0.05)


def stop(server: Dovecot) -> None:
    pid_file = server.root / "run" / "master.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.05)
    except (OSError, ValueError):
        pass
    shutil.rmtree(server.root, ignore_errors=True)
