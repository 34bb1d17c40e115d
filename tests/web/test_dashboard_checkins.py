"""The dashboard's check-ins panel over real HTTP: a round's answers as the Board reads them
(the latest by default, another by ``round=<its Board meeting's date>``), the participation
of six months, and one clear line for a round that is unknown or not a date."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote, urlencode

import pytest

from bot.web import dashboard_response
from tests.handlers.test_checkin_report import make_groups, run_rounds
from tests.support.dialog import Bot
from tests.support.i18n import install_pseudo, unmarked
from tests.web.conftest import Browser, fetch


@pytest.fixture
def dash(bare_bot: Bot, served: str) -> tuple[Bot, str]:
    """Three rounds (the last open) and a dashboard link handed out to the secretariat."""
    make_groups(bare_bot)
    run_rounds(bare_bot)
    bare_bot.router.settings = dataclasses.replace(bare_bot.settings, public_url=served)
    out = bare_bot.say("sam", None, "secretariat dashboard")
    found = re.search(r"(http://\S+/dashboard\?exp=\d+&who=\d+&sig=[0-9a-f]{32})", out)
    assert found, out
    return bare_bot, found.group(1)


def panel(page: str) -> str:
    return page.split('<h2 id="checkins">', 1)[1]


def participation(page: str) -> dict[str, list[str]]:
    table = panel(page).split("Check-ins over six months", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
    out = {}
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        out[cells[0]] = cells[1:]
    return out


def test_the_latest_round_by_default(dash: tuple[Bot, str]) -> None:
    _, url = dash
    resp = fetch(url)
    assert resp.status == 200
    shown = panel(resp.body)
    assert "<h3>Check-ins before the Board meets <time" in shown
    assert ">Thu 11 Feb 2027 10:00 CET</time></h3>" in shown
    assert ">Wed 10 Feb 2027 10:00 CET</time>. 1 of 3 groups answered.</p>" in shown
    assert "<h4>Replication</h4><p>1. What has the group moved forward since the last BoC " \
           "meeting?<br>Chapter 3 drafted</p>" in shown
    assert "<p>No answer from Communication and Dissemination, Data Management.</p>" in shown
    # the rounds to choose from, the latest first; the empty choice is the latest
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>',
                         shown.split('<select name="round">', 1)[1].split("</select>", 1)[0])
    assert options == [("", "", "latest"), ("2027-02-11", "", "Thu 11 Feb 2027"),
                       ("2027-01-14", "", "Thu 14 Jan 2027"),
                       ("2026-12-10", "", "Thu 10 Dec 2026")]
    # the form keeps the link, so choosing needs no JavaScript
    assert re.search(r'<input type="hidden" name="sig" value="[0-9a-f]{32}">',
                     shown.split("</form>", 1)[0])
    assert participation(resp.body) == {
        "Communication and Dissemination": ["answered", "answered", "waiting"],
        "Data Management": ["no answer", "no answer", "waiting"],
        "Replication": ["answered", "no answer", "answered"],
    }


def test_a_closed_round_chosen_by_its_meeting_date(dash: tuple[Bot, str],
                                                   browser: Browser) -> None:
    _, url = dash
    resp = fetch(url + "&round=2026-12-10&group=comms")
    assert resp.status == 200
    shown = panel(resp.body)
    assert ">Thu 10 Dec 2026 10:00 CET</time></h3>" in shown
    assert ">Wed 09 Dec 2026 11:00 CET</time>. 2 of 3 groups answered.</p>" in shown
    # blocked first: Replication before Communication; its blocker before its progress
    replication = shown.index("<h4>Replication</h4>")
    comms = shown.index("<h4>Communication and Dissemination</h4>")
    assert replication < comms
    assert shown.index("Waiting for the | data agreement") < shown.index("We moved the guide")
    assert "We moved the guide &lt;b&gt;forward&lt;/b&gt;" in shown  # escaped
    assert "<b>forward" not in resp.body
    assert "<p>No answer from Data Management.</p>" in shown
    assert "Chapter 3 drafted" not in shown  # February's round is not shown
    # six months ending with December: one round
    assert participation(resp.body)["Data Management"] == ["no answer"]
    assert '<option value="2026-12-10" selected>' in shown
    # the other filters are kept by the round's form, and the round by the actions' form
    assert '<input type="hidden" name="group" value="comms">' in shown
    assert '<input type="hidden" name="round" value="2026-12-10">' in resp.body
    dom = browser.dom(url + "&round=2026-12-10")
    assert '<option value="2026-12-10" selected="">Thu 10 Dec 2026</option>' in dom
    assert "<h4>Replication</h4>" in dom and "No answer from Data Management." in dom


@pytest.mark.parametrize(("raw", "said"), [
    ("2026-12-11", "No check-in before a Board meeting on Fri 11 Dec 2026."),
    ("2025-12-10", "No check-in before a Board meeting on Wed 10 Dec 2025."),
    ("2026-13-01", "&#x27;2026-13-01&#x27; is not a date: choose a round, or give its Board "
                   "meeting&#x27;s date as 2026-12-10."),
    ("10/12/2026", "&#x27;10/12/2026&#x27; is not a date"),
    ("２０２６-１２-１０", "is not a date"),  # digits, but not the ASCII ones
    ("20261210", "&#x27;20261210&#x27; is not a date"),
    ("<script>x</script>", "&#x27;&lt;script&gt;x&lt;/script&gt;&#x27; is not a date"),
    ("9" * 5000, "is not a date"),
])
def test_an_unknown_or_malformed_round_is_one_clear_line(dash: tuple[Bot, str], raw: str,
                                                         said: str) -> None:
    _, url = dash
    resp = fetch(url + "&" + urlencode({"round": raw}))
    assert resp.status == 200, resp.body[:300]
    shown = panel(resp.body)
    assert re.search(r'<p class="late">[^<]*' + re.escape(said), shown), shown[-800:]
    assert shown.count('<p class="late">') == 1
    assert "<h3>" not in shown and "<script>" not in resp.body  # nothing else, escaped
    # the rest of the page is as without the filter
    assert '<span id="total">0</span>' in resp.body


def test_no_round_yet(bare_bot: Bot, served: str) -> None:
    make_groups(bare_bot)
    bare_bot.admin("tg add secretariat @sam")
    bare_bot.router.settings = dataclasses.replace(bare_bot.settings, public_url=served)
    found = re.search(r"(http://\S+/dashboard\?exp=\d+&who=\d+&sig=[0-9a-f]{32})",
                      bare_bot.say("sam", None, "secretariat dashboard"))
    assert found
    for extra in ("", "&round=2026-12-10", "&round=" + quote("nope")):
        resp = fetch(found.group(1) + extra)
        assert resp.status == 200
        shown = panel(resp.body)
        assert "<select" not in shown and shown.count("<p") == 1
    assert "No check-in has opened yet" in panel(fetch(found.group(1)).body)


def test_the_panel_is_in_the_readers_language(dash: tuple[Bot, str]) -> None:
    """Every sentence of the panel is a marked message: read in a pseudo-language, nothing
    English is left but data (names, answers, dates)."""
    bot, url = dash
    assert not bot.ask("sam", None, f"me language {install_pseudo()}").error
    query = dict(re.findall(r"(exp|who|sig)=(\w+)", url))
    for extra in ({}, {"round": "2026-12-10"}, {"round": "2026-12-11"}, {"round": "nope"}):
        status, page = dashboard_response(bot.sessions, bot.settings, {**query, **extra})
        assert status == 200
        text = re.sub(r"<[^>]+>", "\n", panel(page))
        left = [line for line in unmarked(text).splitlines() if re.search(
            r"\b(the|is|are|no|not|of|until|closed|open|answered|waiting|latest|show)\b",
            line, re.IGNORECASE)]
        allowed = {"We moved the guide &lt;b&gt;forward&lt;/b&gt;",
                   "Waiting for the | data agreement"}
        assert [line for line in left if line.strip() not in allowed] == [], extra


def test_a_round_older_than_those_offered_is_still_shown(dash: tuple[Bot, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bot, url = dash
    monkeypatch.setattr("handlers.reports._dashboard.DASHBOARD_ROUNDS", 2)
    query = dict(re.findall(r"(exp|who|sig)=(\w+)", url))
    status, page = dashboard_response(bot.sessions, bot.settings, query)
    assert status == 200 and 'value="2026-12-10"' not in page  # two offered: Feb, Jan
    status, page = dashboard_response(bot.sessions, bot.settings,
                                      {**query, "round": "2026-12-10"})
    shown = panel(page)
    assert status == 200 and '<option value="2026-12-10" selected>' in shown
    assert "<p>No answer from Data Management.</p>" in shown
