"""The web routes over real HTTP: an aiohttp server on a free port in a thread, on the
test's store, and a real headless Chromium (Debian's package, installed when missing)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.web import routes, start
from tests.support.dialog import Bot

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def served(bare_bot: Bot) -> Iterator[str]:
    """The base URL of the feed and dashboard routes for ``bare_bot``'s store and clock."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(
            start(routes(bare_bot.sessions, bare_bot.settings), "127.0.0.1", 0))
        box["port"] = runner.addresses[0][1]
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "the web server did not start"
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


@dataclass
class Fetched:
    status: int
    body: str
    headers: dict[str, str]


def fetch(url: str) -> Fetched:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return Fetched(resp.status, resp.read().decode("utf-8"), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Fetched(err.code, err.read().decode("utf-8"), dict(err.headers))


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed by the test setup when it is missing and we are root."""
    if not Path(CHROMIUM).exists() and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True,
                       timeout=600, check=False)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                       env=env, capture_output=True, timeout=1200, check=False)
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: the dashboard tests must run there")
        pytest.skip("chromium is not installed and cannot be installed (not root)")
    return CHROMIUM


@dataclass
class Browser:
    binary: str
    profile_root: Path

    def run(self, url: str, *extra: str) -> str:
        profile = self.profile_root / f"profile-{len(list(self.profile_root.iterdir()))}"
        profile.mkdir()
        done = subprocess.run(
            [self.binary, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *extra, url],
            capture_output=True, text=True, timeout=120, check=False)
        shutil.rmtree(profile, ignore_errors=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def dom(self, url: str) -> str:
        return self.run(url, "--dump-dom")

    def screenshot(self, url: str, path: Path, size: str = "1280,1400") -> Path:
        self.run(url, f"--screenshot={path}", f"--window-size={size}",
                 "--hide-scrollbars")
        assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Browser:
    root = tmp_path / "chromium"
    root.mkdir()
    return Browser(chromium, root)
