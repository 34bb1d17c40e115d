"""The role-bearing groups (``boc``, ``secretariat``) are joined only by being added.

Every way into a group is tried: ``tg join``, a followed channel, a governance file (that
leaves ``restricted`` out, or says false), the stored flag and settings themselves. Only
``tg add`` by someone allowed to and a governance file's ``members`` add people.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.core.grammar import UserError
from handlers.governance._presets import apply_governance
from handlers.groups._sync import channel_membership_changed
from storage.models import Group, Membership, Person
from tests.support.dialog import Bot

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
ROLE_SLUGS = ("boc", "secretariat")


def members(bot: Bot, slug: str) -> set[str]:
    with Session(bot.engine) as s:
        return set(s.scalars(select(Person.display_name).join(Membership).join(Group)
                             .where(Group.slug == slug)))


def apply(bot: Bot, data: dict[str, object]) -> list[str]:
    with bot.sessions.begin() as session:
        return apply_governance(session, bot.settings, data, now=NOW)


@pytest.mark.parametrize("slug", ROLE_SLUGS)
def test_a_file_that_leaves_restricted_out_opens_nothing(bot: Bot, slug: str) -> None:
    with Session(bot.engine) as s:
        group = s.scalar(select(Group).where(Group.slug == slug))
        assert group is not None
        mandate, name = group.mandate, group.name
    # the entry of the report: no restricted, no mandate
    assert apply(bot, {"group": [{"slug": slug, "name": name}]}) == []
    with Session(bot.engine) as s:
        group = s.scalar(select(Group).where(Group.slug == slug))
        assert group is not None and group.restricted and group.mandate == mandate
    before = bot.counts()
    out = bot.say("mallory", None, f"tg join {slug}")
    assert f"{slug} is joined only by being added" in out and "tg add" in out
    assert "mallory" not in members(bot, slug)
    assert "Only" in bot.say("mallory", None, "secretariat summary")
    # the refused join wrote nothing (the stranger's person row is rolled back with it)
    assert bot.counts() == before


@pytest.mark.parametrize("slug", ROLE_SLUGS)
def test_no_flag_or_setting_opens_a_role_group(bot: Bot, slug: str) -> None:
    # a file cannot say false
    with pytest.raises(UserError) as err:
        apply(bot, {"group": [{"slug": slug, "restricted": False}]})
    assert f"{slug} is always restricted" in err.value.message
    # nor can the stored flag or setting, however they got there
    with Session(bot.engine) as s, s.begin():
        s.execute(update(Group).where(Group.slug == slug).values(
            restricted=False, settings={"follow_channel": "on"}))
    for who in ("mallory", "root"):  # staff too: they add, on purpose
        assert "joined only by being added" in bot.say(who, None, f"tg join {slug}")
    with Session(bot.engine) as s, s.begin():
        said = channel_membership_changed(s, "shell", f"#{slug}", "mallory", True,
                                          NOW.replace(tzinfo=dt.UTC), "Mallory")
    assert said is None
    assert "Mallory" not in members(bot, slug)


@pytest.mark.parametrize("slug", ROLE_SLUGS)
def test_a_role_group_cannot_follow_its_channel(bot: Bot, slug: str) -> None:
    before = bot.counts()
    out = bot.say("root", f"#{slug}", f"tg settings {slug} follow_channel on")
    assert f"{slug} cannot follow its channel" in out
    assert bot.counts() == before
    # off stays allowed (and is a no-op)
    assert "follow_channel is now off" in bot.admin(f"tg settings {slug} follow_channel off")
    with Session(bot.engine) as s, s.begin():
        assert channel_membership_changed(s, "shell", f"#{slug}", "mallory", True,
                                          NOW.replace(tzinfo=dt.UTC)) is None
    assert "mallory" not in members(bot, slug)


def test_a_followed_ordinary_group_still_follows(bot: Bot) -> None:
    bot.admin("tg settings replication follow_channel on")
    with Session(bot.engine) as s, s.begin():
        said = channel_membership_changed(s, "shell", "#replication", "carol", True,
                                          NOW.replace(tzinfo=dt.UTC))
    assert said is not None and "carol" in members(bot, "replication")


@pytest.mark.parametrize("slug", ROLE_SLUGS)
def test_being_added_is_the_way_in(bot: Bot, slug: str) -> None:
    assert "Added @alice" in bot.admin(f"tg add {slug} @alice")
    assert apply(bot, {"group": [{"slug": slug, "members": [{"user": "shell:bob"}]}]}) == [
        f"added shell:bob to {slug} as member"]
    assert {"alice", "bob"} <= members(bot, slug)
    if slug == "secretariat":
        assert "Only" not in bot.say("alice", None, "secretariat summary")
    # a chair of a TG cannot add people to a role group
    bot.admin("tg add replication @carol as chair")
    assert "Only a chair of" in bot.say("carol", None, f"tg add {slug} @dave")


def test_tg_create_makes_a_role_group_restricted(bare_bot: Bot) -> None:
    bare_bot.admin("tg create secretariat Support Office")
    with Session(bare_bot.engine) as s:
        assert s.scalar(select(Group.restricted).where(Group.slug == "secretariat")) is True
    assert "joined only by being added" in bare_bot.say("mallory", None, "tg join secretariat")
