"""The dashboard in a real headless Chromium: it loads, filters work as GET parameters, an
expired or forged link is refused, and a screenshot is kept as a test artifact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.handlers.test_secretariat import seed
from tests.support.dialog import Bot
from tests.web.conftest import ARTIFACTS, Browser, fetch


@pytest.fixture
def dash(bare_bot: Bot, served: str) -> tuple[Bot, str]:
    """The seeded store and a fresh dashboard link handed out to the secretariat."""
    seed(bare_bot)
    bare_bot.admin("meeting schedule repl first tuesday 10:00")
    bare_bot.router.settings = dataclasses.replace(bare_bot.settings, public_url=served)
    out = bare_bot.say("sam", None, "secretariat dashboard")
    found = re.search(r"(http://\S+/dashboard\?exp=\d+&who=\d+&sig=[0-9a-f]{32})", out)
    assert found, out
    return bare_bot, found.group(1)


def ids(dom: str) -> list[str]:
    """Action ids in the actions table, in page order."""
    section = dom.split('id="actions"', 1)[1].split("Recent decisions", 1)[0]
    return re.findall(r">(A-\d+)<", section)


def total(dom: str) -> int:
    found = re.search(r'<span id="total">(\d+)</span>', dom)
    assert found, dom[:500]
    return int(found.group(1))


def test_page_loads_with_every_section(dash: tuple[Bot, str], browser: Browser,
                                       tmp_path: Path) -> None:
    _, url = dash
    dom = browser.dom(url)
    assert "<title>Taskbot dashboard</title>" in dom
    assert "<script" not in dom.lower()
    for slug in ("boc", "secretariat", "repl", "comms", "data"):
        assert f"<td data-label=\"group\">{slug}</td>" in dom
    # open actions, oldest due first, as in secretariat actions
    assert ids(dom) == ["A-1", "A-5", "A-10", "A-7", "A-2", "A-3"] and total(dom) == 6
    assert "Tue 01 Dec 2026 10:00 CET" in dom  # repl's next meeting
    assert "comms acknowledged" in dom and "repl waiting" in dom  # D-1
    shot = browser.screenshot(url, tmp_path / "dashboard-laptop.png")
    phone = browser.screenshot(url + "&overdue=1", tmp_path / "dashboard-phone.png",
                               size="390,1600")
    assert shot.stat().st_size > 10_000 and phone.stat().st_size > 5_000
    assert (ARTIFACTS / "dashboard-laptop.png").exists()
    shutil.copy(shot, tmp_path / "kept.png")


@pytest.mark.parametrize(("params", "expected"), [
    ({"group": "repl"}, ["A-1", "A-2", "A-3"]),
    ({"overdue": "1"}, ["A-1", "A-5", "A-10", "A-7"]),
    ({"group": "repl", "overdue": "1"}, ["A-1"]),
    ({"project": "Bravo City"}, ["A-1", "A-3"]),
    ({"project": "bravo comms"}, ["A-5"]),
    ({"group": "nope"}, []),
])
def test_filters_are_get_parameters(dash: tuple[Bot, str], browser: Browser,
                                    params: dict[str, str], expected: list[str]) -> None:
    _, url = dash
    dom = browser.dom(url + "&" + urlencode(params))
    assert ids(dom) == expected
    assert total(dom) == len(expected)
    # the form keeps the link's own parameters, so filtering needs no JavaScript
    assert re.search(r'<input type="hidden" name="sig" value="[0-9a-f]{32}">', dom)
    if "group" in params and params["group"] != "nope":
        assert f'<option value="{params["group"]}" selected="">' in dom


def test_person_filter(dash: tuple[Bot, str], browser: Browser) -> None:
    _, url = dash
    dom = browser.dom(url)
    bob = re.search(r'<option value="(\d+)">bob</option>', dom)
    assert bob, dom
    assert ids(browser.dom(url + f"&person={bob.group(1)}")) == ["A-1", "A-5", "A-3"]


def test_expired_and_forged_links_are_refused(dash: tuple[Bot, str], browser: Browser) -> None:
    bot, url = dash
    forged = re.sub(r"sig=[0-9a-f]{32}", "sig=" + "0" * 32, url)
    assert fetch(forged).status == 403
    dom = browser.dom(forged)
    assert "This link is not valid." in dom and "A-1" not in dom
    longer = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 86400}", url)
    assert fetch(longer).status == 403  # the expiry is signed too
    assert fetch(url).status == 200
    bot.now = bot.now + dt.timedelta(days=7, seconds=1)
    resp = fetch(url)
    assert resp.status == 403 and resp.headers["Cache-Control"] == "no-store"
    dom = browser.dom(url)
    assert "This link has expired" in dom and "A-1" not in dom


def test_only_the_secretariat_gets_a_link(dash: tuple[Bot, str]) -> None:
    bot, _ = dash
    reply = bot.ask("bob", None, "secretariat dashboard")
    assert reply.error and "Only an admin or the secretariat" in bot.say("bob", None,
                                                                          "secretariat dashboard")
