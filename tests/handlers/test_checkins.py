"""Check-ins on both stores: a round before a BoC meeting end to end (prompts at 09:00 where
each askee is, answers and edits, the reminder, the close with the Board's compilation, the
escalation and the agenda), who is asked (chair, co-chair, members, nobody away), bad input
with nothing written, the settings, the governance file's questions, and a reply by mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.governance import load_toml
from handlers.catalog import build_registry
from handlers.governance._presets import apply_governance, export_governance
from storage.models import AgendaItem, CheckinAnswer, CheckinAskee, CheckinRound, Outbox
from tests.email.wiring import Wired
from tests.handlers.test_delivery import RecordingSender, engine_for
from tests.handlers.test_proposals import body_of, reply_to
from tests.support import dovecot
from tests.support.dialog import Bot
from tests.support.mailserver import MailServer, start, stop

UTC = dt.UTC
BRUSSELS = ZoneInfo("Europe/Brussels")
# the Board meets Thu 10 Dec 2026 10:00 in Brussels: the round opens Sat 5 Dec (5 days
# before) and closes Wed 9 Dec 10:00 CET (1 day before)
MEETING = dt.datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
OPENS = dt.datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # 09:00 in Brussels
CLOSES = dt.datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


def seed(bot: Bot) -> None:
    """The Board (bea), the secretariat (sam), Replication (alice its chair, ed a co-chair,
    bob), Communication (carl its chair), Financing (fay, no chair); Data and Monitoring
    have no members, so the round asks no one there."""
    bot.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for line in ("tg add boc @bea", "tg add secretariat @sam",
                 "tg add replication @alice as chair", "tg add replication @ed as chair",
                 "tg add replication @bob", "tg add comms @carl as chair",
                 "tg add finance @fay",
                 "meeting schedule boc second thursday 10:00 Europe/Brussels"):
        bot.admin(line)


def run(bot: Bot, sender: RecordingSender, times: list[dt.datetime]) -> list[tuple[str, str, str]]:
    """Tick at each time; what was sent, as (channel, key, text)."""
    engine = engine_for(bot, sender)
    for t in times:
        bot.now = t
        engine.tick(t)
    sent = [(ch.channel_id, key, text) for ch, text, key in sender.sent]
    sender.sent.clear()
    return sent


def hourly(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += dt.timedelta(hours=1)
    return out


def said(bot: Bot, who: str, line: str) -> str:
    reply = bot.ask(who, None, line)
    from bot.textrender import render_reply

    text = render_reply(reply)
    assert not reply.error, text
    return text


def answers(bot: Bot) -> list[tuple[str, int, str]]:
    with bot.sessions() as s:
        rows = s.scalars(select(CheckinAnswer).order_by(CheckinAnswer.group_id,
                                                        CheckinAnswer.person_id,
                                                        CheckinAnswer.number))
        return [(a.person.display_name, a.number, a.text) for a in rows]


@pytest.fixture
def opened(bot: Bot) -> tuple[Bot, RecordingSender, list[tuple[str, str, str]]]:
    """The round opened and its prompts sent, ticking hourly through the opening day."""
    seed(bot)
    sender = RecordingSender()
    sent = run(bot, sender, hourly(dt.datetime(2026, 12, 4, 0, 0, tzinfo=UTC),
                                   dt.datetime(2026, 12, 6, 0, 0, tzinfo=UTC)))
    return bot, sender, sent


def prompts(sent: list[tuple[str, str, str]]) -> dict[str, str]:
    return {ch: text for ch, key, text in sent if key.startswith("checkin_prompt:")}


def test_a_round_end_to_end(opened: tuple[Bot, RecordingSender, list[tuple[str, str, str]]]
                            ) -> None:
    bot, sender, sent = opened
    # the chair of each group with members is asked (not its co-chair or members); Data
    # and Monitoring have no one to ask
    got = prompts(sent)
    assert sorted(got) == ["dm:alice", "dm:carl", "dm:fay"]
    prompt = got["dm:alice"]
    assert "Check-in for Replication, before the Board meets Thu 10 Dec 2026 10:00 CET" in prompt
    assert "1. What has the group moved forward since the last BoC meeting?" in prompt
    assert "[Answer: checkin replication]" in prompt
    with bot.sessions() as s:
        [round_] = s.scalars(select(CheckinRound))
        assert (round_.opens_on, round_.closes_at, round_.status) == (
            dt.date(2026, 12, 5), CLOSES, "open")
        assert s.scalar(select(func.count()).select_from(CheckinAskee)) == 3
    # answers: the next question each time, an edit, a co-chair's voice for the group
    assert "Next, question 2: What is blocked, and by what?" in said(
        bot, "alice", "checkin The replication guide is out")
    said(bot, "alice", "checkin replication Waiting for the data-sharing agreement")
    assert "Changed your answer to question 1 for replication." in said(
        bot, "alice", "checkin edit 1 The guide is out, in three languages")
    said(bot, "ed", "checkin replication edit 3 A decision on the data agreement")
    said(bot, "fay", "checkin Nothing new")
    assert answers(bot) == [
        ("alice", 1, "The guide is out, in three languages"),
        ("alice", 2, "Waiting for the data-sharing agreement"),
        ("ed", 3, "A decision on the data agreement"),
        ("fay", 1, "Nothing new"),
    ]
    status = said(bot, "sam", "checkin status")
    assert "1 of 3 groups answered" not in status and "2 of 3 groups answered." in status
    assert "carl" in status and "waiting" in status
    # the reminder, the day before the close at 09:00 where each is: only those with a
    # question left (alice answered 2 of 3, carl none, fay 1 of 3)
    later = run(bot, sender, hourly(dt.datetime(2026, 12, 6, 1, 0, tzinfo=UTC),
                                    CLOSES - dt.timedelta(hours=1)))
    reminders = {ch: text for ch, key, text in later if key.startswith("checkin_reminder:")}
    assert sorted(reminders) == ["dm:alice", "dm:carl", "dm:fay"]
    assert "You have answered 2 of 3 questions." in reminders["dm:alice"]
    said(bot, "fay", "checkin None")
    said(bot, "fay", "checkin More time")
    # the close: the compilation in the Board's channel (blockers first), the missing group
    # told to its chair and the secretariat, the Board's agenda
    closing = run(bot, sender, [CLOSES, CLOSES + dt.timedelta(hours=1)])
    posted = {ch: text for ch, key, text in closing if "checkin-close" in key}
    assert sorted(posted) == ["#boc", "#secretariat", "dm:carl"]
    board = posted["#boc"]
    assert "Closed Wed 09 Dec 2026 10:00 CET. 2 of 3 groups answered." in board
    # Replication has a blocker: it comes first, its blocker before its other answers
    assert board.index("Replication") < board.index("Business Models and Financing")
    assert board.index("Waiting for the data-sharing") < board.index("The guide is out")
    assert "A decision on the data agreement (ed)" in board
    assert "No answer from Communication and Dissemination." in board
    assert "Communication and Dissemination gave no check-in" in posted["dm:carl"]
    assert "No check-in from Communication and Dissemination" in posted["#secretariat"]
    with bot.sessions() as s:
        agenda = list(s.scalars(select(AgendaItem.text).order_by(AgendaItem.id)))
    assert agenda == [
        "Check-in from Replication: blocked: Waiting for the data-sharing agreement",
        "Check-in from Business Models and Financing",
        "No check-in from Communication and Dissemination",
    ]
    # closed: no more answers; anyone can read it, for one group or a month
    reply = bot.ask("alice", None, "checkin edit 3 too late")
    assert reply.error
    shown = said(bot, "bob", "checkin show replication december 2026")
    assert "The guide is out" in shown and "Financing" not in shown
    assert said(bot, "bob", "checkin show") == said(bot, "bob", "checkin show 2026-12")
    # ticking on changes nothing: each was posted once
    assert not [k for _c, k, _t in run(bot, sender, hourly(
        CLOSES + dt.timedelta(hours=2), CLOSES + dt.timedelta(hours=30))) if "checkin" in k]


@pytest.mark.parametrize(("who", "line", "problem"), [
    ("alice", "checkin edit 0 x", "edit takes the number of the question"),
    ("alice", "checkin edit two x", "edit takes the number of the question"),
    ("alice", "checkin edit 9 x", "This check-in has 3 questions."),
    ("alice", "checkin edit 2", "Missing <answer...>."),
    ("alice", "checkin " + "x" * 2001, "too long"),
    ("bob", "checkin comms We did it", "one of those it asks, or a member of comms"),
    ("sam", "checkin We did it", "This check-in asks none of your groups."),
    ("bea", "checkin status", "the secretariat, an admin or a group's chair"),
])
def test_bad_input_writes_nothing(opened: tuple[Bot, RecordingSender, Any], who: str,
                                  line: str, problem: str) -> None:
    bot = opened[0]
    before = bot.counts()
    reply = bot.ask(who, None, line)
    from bot.textrender import render_reply

    assert reply.error and problem in render_reply(reply)
    assert bot.counts() == before


def test_answering_all_then_once_more_says_how_to_change(
        opened: tuple[Bot, RecordingSender, Any]) -> None:
    bot = opened[0]
    for text in ("one", "two", "three"):
        said(bot, "carl", f"checkin {text}")
    reply = bot.ask("carl", None, "checkin four")
    assert reply.error
    from bot.textrender import render_reply

    assert "You have answered all 3 questions; change one with checkin comms edit" in (
        render_reply(reply))
    # with no text: the questions and the answers so far
    assert "1. What has the group moved forward since the last BoC meeting?\none" in said(
        bot, "carl", "checkin")


def test_someone_asked_for_two_groups_names_one(bot: Bot) -> None:
    seed(bot)
    bot.admin("tg add comms @alice as chair")
    bot.admin("tg settings comms checkin_from members")
    run(bot, RecordingSender(), [OPENS])
    reply = bot.ask("alice", None, "checkin We did it")
    from bot.textrender import render_reply

    assert reply.error and "Name the group you answer for: comms, replication." in (
        render_reply(reply))
    said(bot, "alice", "checkin comms We did it")
    assert answers(bot) == [("alice", 1, "We did it")]


def test_who_is_asked_when_people_are_away(bot: Bot) -> None:
    """Alice (Replication's chair) away: its other chair is asked; Carl (Communication's
    only chair) away: its members are; Fay (all Financing has) away: no one, and Financing
    is not missing at the close."""
    seed(bot)
    bot.admin("tg add comms @cleo")
    for who in ("alice", "carl", "fay"):
        said(bot, who, "me away 2026-12-01 to 2026-12-20")
    sent = run(bot, RecordingSender(), hourly(OPENS - dt.timedelta(hours=20),
                                              CLOSES + dt.timedelta(hours=1)))
    assert sorted(prompts(sent)) == ["dm:cleo", "dm:ed"]
    board = next(text for ch, key, text in sent if ch == "#boc" and "checkin-close" in key)
    assert "0 of 2 groups answered." in board
    assert "Financing" not in board


def test_members_are_asked_with_checkin_from_members(bot: Bot) -> None:
    seed(bot)
    bot.admin("tg settings replication checkin_from members")
    said(bot, "bob", "me away 2026-12-05 to 2026-12-05")
    sent = run(bot, RecordingSender(), hourly(OPENS - dt.timedelta(hours=1),
                                              OPENS + dt.timedelta(hours=1)))
    # bob is away on the opening day: not asked
    assert sorted(prompts(sent)) == ["dm:alice", "dm:carl", "dm:ed", "dm:fay"]


def test_a_round_opened_late_still_prompts(bot: Bot) -> None:
    """No process ran on the opening day: the first tick after still opens the round and
    prompts at once (the round is open; a prompt never sent is worse than a late one)."""
    seed(bot)
    sent = run(bot, RecordingSender(), [dt.datetime(2026, 12, 7, 15, 0, tzinfo=UTC)])
    assert sorted(prompts(sent)) == ["dm:alice", "dm:carl", "dm:fay"]
    # after the close nothing opens: the meeting is too near
    bot2_sent = run(bot, RecordingSender(), [CLOSES + dt.timedelta(hours=2)])
    assert not prompts(bot2_sent)


def test_settings(bot: Bot) -> None:
    assert "checkin" in bot.admin("tg settings boc checkin 7d")
    for bad, problem in [("2h", "whole days"), ("30d", "from 1d to 28d"),
                         ("1d,2d", "takes one offset"), ("soon", "checkin")]:
        reply = bot.ask("root", None, f"tg settings boc checkin {bad}")
        from bot.textrender import render_reply

        assert reply.error and problem in render_reply(reply), bad
    reply = bot.ask("root", None, "tg settings replication checkin_from everyone")
    assert reply.error
    bot.admin("tg settings replication checkin_from members")
    bot.admin("tg settings boc checkin off")
    seed(bot)
    assert not prompts(run(bot, RecordingSender(), hourly(OPENS - dt.timedelta(hours=2),
                                                         OPENS + dt.timedelta(hours=2))))


def test_a_close_before_the_opening_runs_the_round_to_the_meeting(bot: Bot) -> None:
    seed(bot)
    bot.admin("tg settings boc checkin 1d")
    bot.admin("tg settings boc checkin_close 2d")
    run(bot, RecordingSender(), hourly(MEETING - dt.timedelta(days=2), MEETING))
    with bot.sessions() as s:
        [round_] = s.scalars(select(CheckinRound))
        assert round_.opens_on == dt.date(2026, 12, 9)
        assert round_.closes_at == MEETING


GOVERNANCE = """
[checkin]
questions = ["What did you deliver?", "What is in the way?"]
blockers = 2
"""


def test_the_governance_files_questions(bot: Bot) -> None:
    seed(bot)
    with bot.sessions.begin() as s:
        changes = apply_governance(s, bot.settings, load_toml(GOVERNANCE, "test"), now=bot.now)
    assert [str(c) for c in changes] == ["check-in: the file's 2 questions"]
    with bot.sessions.begin() as s:
        assert apply_governance(s, bot.settings, load_toml(GOVERNANCE, "test"), now=bot.now) == []
        exported = export_governance(s)
    assert '[checkin]\nquestions = [\n  "What did you deliver?",' in exported
    sent = run(bot, RecordingSender(), [OPENS])
    assert "1. What did you deliver?\n2. What is in the way?" in prompts(sent)["dm:carl"]
    said(bot, "carl", "checkin A website")
    said(bot, "carl", "checkin The budget")
    # the file changes while the round is open: the round keeps the questions it opened with
    with bot.sessions.begin() as s:
        apply_governance(s, bot.settings, load_toml("[checkin]\nquestions = []\n", "test"),
                         now=bot.now)
    assert "2. What is in the way?\nThe budget" in said(bot, "carl", "checkin")


@pytest.mark.parametrize(("toml", "problem"), [
    ("[checkin]\nquestions = 'one'\n", "questions must be a list of strings"),
    ("[checkin]\nquestions = ['', 'b']\n", "question 1 is empty"),
    ("[checkin]\nquestions = ['a']\nblockers = 2\n", "blockers is the number"),
    ("[checkin]\nquestions = ['a']\nblockers = true\n", "blockers is the number"),
    ("[checkin]\nasks = 3\n", "asks"),
    ("checkin = 3\n", "must be a table"),
    ("[checkin]\nquestions = [" + ", ".join(["'q'"] * 11) + "]\n", "at most 10 questions"),
])
def test_invalid_checkin_tables_write_nothing(bare_bot: Bot, toml: str, problem: str) -> None:
    from handlers.core.grammar import UserError

    before = bare_bot.counts()
    with pytest.raises(UserError) as err, bare_bot.sessions.begin() as s:
        apply_governance(s, bare_bot.settings, load_toml(toml, "test"), now=bare_bot.now)
    assert problem in err.value.message
    assert bare_bot.counts() == before


# --- replies ---------------------------------------------------------------------------------


def test_a_reply_to_a_prompt_answers_line_by_line() -> None:
    reg = build_registry()
    assert reg.expand("checkin:replication", "The guide is out") == (
        "checkin replication The guide is out")
    assert reg.expand("checkin:replication", "edit 2 Nothing") == (
        "checkin replication edit 2 Nothing")
    # a line written as a whole command is that command
    assert reg.expand("checkin:replication", "checkin show") == "checkin show"
    # a first word that is another command's noun is still an answer
    assert reg.expand("checkin:replication", "action items are late") == (
        "checkin replication action items are late")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
               max_size=300))
def test_any_answer_is_kept_as_written_or_refused_whole(bare_bot: Bot, text: str) -> None:
    """Whatever follows the group is the answer, stripped, exactly; nothing crashes, and a
    refusal writes nothing."""
    bot = bare_bot
    with bot.sessions() as s:
        started = s.scalar(select(func.count()).select_from(CheckinRound))
    if not started:
        from bot.governance import apply_preset

        with bot.sessions.begin() as s:
            apply_preset(s, bot.settings)
        seed(bot)
        run(bot, RecordingSender(), [OPENS])
    bot.now = OPENS
    before = bot.counts()
    reply = bot.ask("carl", None, f"checkin comms edit 1 {text}")
    if reply.error:
        assert bot.counts() == before
        return
    with bot.sessions() as s:
        stored = s.scalar(select(CheckinAnswer.text).where(CheckinAnswer.number == 1))
    assert stored is not None and stored == stored.strip() and stored in text


ANA = "ana@lighthouse.eu"


@pytest.fixture
def wired(bot: Bot) -> Iterator[Wired]:
    if not dovecot.available():
        pytest.skip("dovecot is not installed (make test installs dovecot-imapd)")
    smtp = start(MailServer())
    imap = dovecot.start()
    w = Wired(bot, smtp, imap)
    try:
        yield w
    finally:
        w.mail.close()
        dovecot.stop(imap)
        stop(smtp)


def test_answers_by_mail_reply(bot: Bot, wired: Wired) -> None:
    seed(bot)
    bot.admin(f"tg add data {ANA} as chair")
    bot.now = OPENS
    wired.tick()
    [prompt] = [m for m in wired.smtp.to(ANA) if "Check-in for Data" in body_of(m)]
    body = "We published the catalogue\nThe licence review\nNothing"
    wired.append(reply_to(prompt, body))
    [handled] = wired.inbox.check()
    assert not handled.ignored
    assert answers(bot) == [("ana", 1, "We published the catalogue"),
                            ("ana", 2, "The licence review"), ("ana", 3, "Nothing")]
    with bot.sessions() as s:
        assert set(s.scalars(select(CheckinAnswer.via))) == {"email"}
    wired.tick()
    assert "All answered." in body_of(wired.smtp.to(ANA)[-1])


def test_no_round_yet_and_outbox_is_quiet(bot: Bot) -> None:
    seed(bot)
    reply = bot.ask("alice", None, "checkin Something")
    assert reply.error
    reply = bot.ask("bob", None, "checkin show")
    assert reply.error
    with bot.sessions() as s:
        assert not s.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.kind.like("checkin%")))


def test_merging_two_people_keeps_one_askee_and_one_answer_each(
        opened: tuple[Bot, RecordingSender, Any]) -> None:
    """Both asked for a group and both answered question 1: after the merge the round asks
    the kept one once, and the kept one's answer stands (a primary key of several columns
    is a unique set too)."""
    from handlers.people._merge import merge_person
    from storage.models import Person

    bot = opened[0]
    bot.admin("tg settings replication checkin_from members")
    with bot.sessions.begin() as s:
        round_ = s.scalars(select(CheckinRound)).one()
        alice = s.scalars(select(Person).where(Person.display_name == "alice")).one()
        bob = s.scalars(select(Person).where(Person.display_name == "bob")).one()
        group_id = s.scalars(select(CheckinAskee.group_id).where(
            CheckinAskee.person_id == alice.id)).one()
        s.add(CheckinAskee(round_id=round_.id, group_id=group_id, person_id=bob.id,
                           prompt_at=OPENS))
    said(bot, "alice", "checkin Alice's progress")
    said(bot, "bob", "checkin Bob's progress")
    said(bot, "bob", "checkin Bob's blocker")
    with bot.sessions.begin() as s:
        keep = s.scalars(select(Person).where(Person.display_name == "alice")).one()
        drop = s.scalars(select(Person).where(Person.display_name == "bob")).one()
        merge_person(s, keep, drop)
    with bot.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CheckinAskee).where(
            CheckinAskee.group_id == group_id)) == 1
    assert [(n, t) for who, n, t in answers(bot) if who == "alice"] == [
        (1, "Alice's progress"), (2, "Bob's blocker")]


def test_no_round_opens_whose_opening_came_before_the_boards_series(bot: Bot) -> None:
    """Set up on Mon 7 Dec for a Board meeting on Thu 10 Dec: that round would have opened
    on the 5th, before the series existed (as a reminder due before it is not sent), so the
    first round is January's."""
    bot.now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    for line in ("tg add replication @alice as chair",
                 "meeting schedule boc second thursday 10:00 Europe/Brussels"):
        bot.admin(line)
    sent = run(bot, RecordingSender(), hourly(bot.now, CLOSES + dt.timedelta(hours=2)))
    assert not prompts(sent)
    sent = run(bot, RecordingSender(), [dt.datetime(2027, 1, 9, 8, 0, tzinfo=UTC)])
    assert sorted(prompts(sent)) == ["dm:alice"]
