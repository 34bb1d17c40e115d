"""Issue 12, items 15 and 18: replies read as sentences, and README's promises hold."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.grammar import MAX_LINE
from handlers.meetings._reminders import series_offsets
from storage.models import Group
from tests.support.dialog import Bot


def test_reminders_setting_retimes_as_the_readme_says(bot: Bot) -> None:
    out = bot.admin("tg settings replication reminders 2d,2h")
    assert "reminders is now 2d,2h" in out
    with Session(bot.engine) as s:
        group = s.scalar(select(Group).where(Group.slug == "replication"))
        assert group is not None and group.series is not None
        assert [o for _, o in series_offsets(group.series)] == [
            dt.timedelta(days=2), dt.timedelta(hours=2)]
    assert "reminders is now on" in bot.admin("tg settings replication reminders on")


@pytest.mark.parametrize("value", ["2x", "2d,bananas", ",".join(["1d"] * 50)])
def test_bad_reminder_offsets_are_refused_with_usage_and_write_nothing(
        bot: Bot, value: str) -> None:
    before = bot.counts()
    reply = bot.ask("root", None, f"tg settings replication reminders {value}")
    out = bot.say("root", None, f"tg settings replication reminders {value}")
    assert reply.error and "reminders is on, off or offsets" in out and "Usage:" in out
    assert bot.counts() == before


def test_admin_list_is_for_admins_and_the_secretariat(bot: Bot) -> None:
    out = bot.say("nobody", None, "admin list")
    assert "Only an admin or the secretariat can do admin list." in out
    assert "Only" not in bot.admin("admin list")


@pytest.mark.parametrize("line", ["tg show nogroup", "tg requests nogroup"])
def test_an_unknown_group_is_named_as_such(bot: Bot, line: str) -> None:
    out = bot.say("root", None, line)
    assert "Unknown group 'nogroup'. `tg list` shows the groups." in out
    assert "Unexpected" not in out


def test_an_option_whose_value_fails_says_what_was_wrong(bot: Bot) -> None:
    out = bot.say("root", "#replication", "meeting start replication for 2 bananas")
    assert "Could not read 'for 2 bananas'" in out and "Unexpected" not in out
    assert "Usage: meeting start" in out


@pytest.mark.parametrize(("which", "phrase"), [
    ("", "No failed or missed deliveries."), ("all", "No deliveries."),
    ("missed", "No missed deliveries.")])
def test_filter_words_are_not_used_as_adjectives(bot: Bot, which: str, phrase: str) -> None:
    out = bot.admin(f"secretariat deliveries {which}".strip())
    assert phrase in out


def test_all_actions_are_counted_in_words(bot: Bot) -> None:
    bot.admin("action add @root Write it group replication")
    out = bot.admin("secretariat actions all")
    assert "All actions" not in out and "actions (open and done)" in out.lower()


def test_a_too_long_line_gets_its_commands_usage(bot: Bot) -> None:
    out = bot.say("root", None, "tg list " + "x" * (MAX_LINE + 1))
    assert "too long" in out and "Usage: tg list [all]" in out
    out = bot.say("root", None, "x" * (MAX_LINE + 1))
    assert "help shows usage" in out


@pytest.mark.parametrize("typed", ["Émile", "@Émile", "E\u0301mile", "Zoë-2", "Łucja.k"])
def test_shell_names_take_letters_of_any_script(typed: str) -> None:
    from bot.platforms import platform_mentions
    from bot.shell import parse_user

    name = parse_user(typed)
    assert name == unicodedata.normalize("NFC", typed.lstrip("@"))
    assert platform_mentions().read("@" + typed.lstrip("@"), "shell") == ("shell", name)


@pytest.mark.parametrize("typed", ["٣x", "1abc", "_x", "a b", "x" * 65])
def test_shell_names_still_refuse_what_is_no_name(typed: str) -> None:
    from bot.shell import parse_user

    with pytest.raises(ValueError, match="is not a user name"):
        parse_user(typed)


def test_a_unicode_shell_user_can_be_added_and_assigned(bot: Bot) -> None:
    bot.admin("tg add replication @Émile")
    out = bot.admin("action add @E\u0301mile Check it group replication")
    assert "Émile" in out
