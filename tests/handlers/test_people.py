"""One resolver for every ``<@user>``: the same spelling, on the same platform, names the same
person or gets the same refusal in every command that takes a person."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.platforms import platform_mentions
from bot.textrender import render_reply
from handlers.catalog import build_registry
from handlers.core.grammar import tokenize
from handlers.core.router import Incoming, Router
from storage.models import Action, Identity, Person
from tests.support.dialog import Bot

MENTIONS = platform_mentions()
ROOT = Path(__file__).resolve().parents[2]
# who types, per platform: an admin on each
ACTORS = {"shell": "root", "slack": "UROOT1", "matrix": "@root:example.org"}
# the commands where a person or something else may stand (a group, a title, an option):
# there a word is a person when the platform reads it as written like one
MIXED = [
    "action list {}",
    "action add {} Check the figures group replication",
    "secretariat actions {}",
]
# the commands that take a person, each with the person's word as {}
COMMANDS = [
    "tg remove replication {}",
    "tg approve replication {}",
    "admin add {}",
    "admin remove {}",
    "secretariat feeds reset {}",
]
REFERENCE = "action assign A-1 {}"  # the person it resolved to is read back from the store
SPELLINGS = [
    "@bob", "@alice", "@ghost", "@Émile", "@E\u0301mile", "@zed\u200b", "@", "@@bob",
    "<@U999>", "<@UBOB01>", "<@UBOB01|bob>", "<@>", "<@u999>", "<@U999|>",
    "@bob:example.org", "@carol:example.org", "https://matrix.to/#/@carol:example.org",
    "https://matrix.to/#/@ghost:example.org", "@bob:", "@Bob:Example.org",
]
_PERSON_REFUSAL = re.compile(r"^(Unknown user .*|.+ is not a user \(mention them, like @name\)\.)$")


def _bot(bot: Bot) -> Bot:
    """The preset bot with an admin on each platform and a few people seen: shell users
    alice, bob and Émile, a Slack user UBOB01 and a Matrix user @carol:example.org."""
    admins = frozenset(f"{p}:{who}" for p, who in ACTORS.items())
    bot.router = Router(bot.sessions, dataclasses.replace(bot.settings, admins=admins),
                        build_registry(bot.settings.platforms))
    bot.admin("tg add replication @alice as chair")
    bot.admin("tg add replication @bob")
    bot.admin("tg add replication @Émile")
    bot.admin("action add @alice Write the guide group replication")
    for platform, who in (("slack", "<@UBOB01>"), ("matrix", "@carol:example.org")):
        out = _say(bot, platform, f"tg add replication {who}")
        assert out.startswith("Added"), out
    return bot


def _say(bot: Bot, platform: str, line: str) -> str:
    return render_reply(bot.router.handle(
        Incoming(platform=platform, user_id=ACTORS[platform], text=line)))


def _refusal(out: str) -> str | None:
    first = out.splitlines()[0] if out else ""
    return first if _PERSON_REFUSAL.match(first) else None


def _assignees(bot: Bot) -> list[int]:
    with Session(bot.engine) as s:
        action = s.get(Action, 1)
        assert action is not None
        return sorted(a.person_id for a in action.assignees)


def _name(bot: Bot, person_id: int) -> str:
    with Session(bot.engine) as s:
        person = s.get(Person, person_id)
        assert person is not None
        return person.display_name


def _check(bot: Bot, platform: str, word: str) -> None:
    commands = COMMANDS + (MIXED if MENTIONS.attempted(word, platform) else [])
    before = bot.counts()
    ref = _say(bot, platform, REFERENCE.format(word))
    refused = _refusal(ref)
    if refused is not None:
        assert bot.counts() == before, ref
        for command in commands:
            out = _say(bot, platform, command.format(word))
            assert _refusal(out) == refused, (command, out)
            assert "Usage:" in out, out
        assert bot.counts() == before
        return
    assert ref.startswith("A-1 is now for"), ref
    (person_id,) = _assignees(bot)
    name = _name(bot, person_id)
    for command in commands:
        out = _say(bot, platform, command.format(word))
        assert _refusal(out) is None and name in out, (command, out)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    platform=st.sampled_from(sorted(ACTORS)),
    word=st.one_of(
        st.sampled_from(SPELLINGS),
        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]),
                min_size=0, max_size=8).map(lambda s: "@" + s),
        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]),
                min_size=0, max_size=8).map(lambda s: f"<@{s}>"),
    ),
)
def test_every_command_resolves_a_spelling_the_same_way(
    bot: Bot, platform: str, word: str
) -> None:
    if not bot.counts()["memberships"]:
        _bot(bot)
    tokens = tokenize(word)
    if len(tokens) != 1 or tokens[0].quoted or tokens[0].value != word:
        return  # not one word (a quote, a stray ">"): the grammar's business, not a person's
    _check(bot, platform, word)


@pytest.mark.parametrize("platform", sorted(ACTORS))
@pytest.mark.parametrize("word", SPELLINGS)
def test_each_spelling_on_each_platform(bot: Bot, platform: str, word: str) -> None:
    _check(_bot(bot), platform, word)


def test_a_slack_mention_in_the_shell_is_unknown_until_that_slack_user_is_seen(
    bot: Bot,
) -> None:
    """The first-use bug: the shell assigned A-1 to a Slack id no one had seen, which
    ``action list`` then called unknown. Now both refuse it, and write nothing."""
    _bot(bot)
    before = bot.counts()
    for line in ("action assign A-1 <@U999>", "action list <@U999>",
                 "tg add replication <@U999>", "action add <@U999> Do it group replication"):
        out = bot.say("root", None, line)
        assert out.splitlines()[0] == (
            "Unknown user <@U999>: no one with that id has used the bot yet."), out
    assert bot.counts() == before
    # once Slack has vouched for U999 (they typed a command there), the shell names them
    _say(bot, "slack", "action list")
    assert bot.counts()["people"] == before["people"]  # UROOT1 was seen already
    assert _say(bot, "slack", "action assign A-1 <@U999>") == "A-1 is now for @U999."
    assert "for @U999" in bot.say("root", None, "action list <@U999>")
    assert bot.say("root", None, "action assign A-1 <@U999|someone>") == "A-1 is now for @U999."


def test_platform_ids_are_created_only_on_their_own_platform(bot: Bot) -> None:
    _bot(bot)
    people = bot.counts()["people"]
    # Matrix vouches for a Matrix id typed on Matrix; Slack does not vouch for one
    assert _say(bot, "slack", "action assign A-1 @dan:example.org").startswith(
        "Unknown user @dan:example.org")
    assert bot.counts()["people"] == people
    assert _say(bot, "matrix", "action assign A-1 @dan:example.org").startswith(
        "A-1 is now for")
    assert bot.counts()["people"] == people + 1
    with Session(bot.engine) as s:
        ident = s.scalar(select(Identity).where(Identity.external_id == "@dan:example.org"))
        assert ident is not None and ident.platform == "matrix"
    # a typed shell name is no mention on Slack: text in a title, refused as a person
    assert _say(bot, "slack", "action add @bob Check it group replication").startswith(
        "Added A-2: @bob Check it")
    assert _say(bot, "slack", "action assign A-2 @bob").startswith("'@bob' is not a user")
    assert bot.counts()["people"] == people + 1


def test_a_person_known_only_by_an_id_with_its_at_sign_is_shown_with_one(bot: Bot) -> None:
    """A Matrix person the platform gave no display name is named by their id, which has
    its "@" already: the shell and the exports showed ``@@dan:example.org``."""
    _bot(bot)
    assert _say(bot, "matrix", "action assign A-1 @dan:example.org").startswith(
        "A-1 is now for @dan:example.org")
    for line in ("action show A-1", "action list @dan:example.org"):
        out = _say(bot, "matrix", line)
        assert "@dan:example.org" in out and "@@" not in out, out
    shown = bot.say("root", None, "action show A-1")  # the shell, the same rendering
    assert "@dan:example.org" in shown and "@@" not in shown, shown
    members = bot.say("root", None, "tg show replication")
    assert "@Émile" in members and "@@" not in members, members  # a name gets its "@"


def test_an_unseen_shell_name_is_refused_everywhere_but_tg_add(bot: Bot) -> None:
    _bot(bot)
    lines = [c.format("@dora") for c in [REFERENCE, *COMMANDS, *MIXED]]
    before = bot.counts()
    for line in lines:
        out = bot.say("root", None, line)
        assert out.splitlines()[0] == ("Unknown user @dora: no one by that name has been "
                                       "seen here; add them to a group first with tg add."), out
    assert bot.counts() == before
    assert bot.say("root", None, "tg add replication @dora").startswith("Added @dora")
    assert bot.say("root", None, "action assign A-1 dora") == "A-1 is now for @dora."


def test_a_missing_person_is_the_same_line_everywhere(bot: Bot) -> None:
    _bot(bot)
    for line in ("action assign A-1", "tg remove replication", "tg approve replication",
                 "admin add", "admin remove", "secretariat feeds reset"):
        assert bot.say("root", None, line).splitlines()[0] == "Missing <@user>.", line


def test_the_resolver_names_no_platform() -> None:
    for path in ("handlers/core/people.py", "handlers/core/mentions.py"):
        source = (ROOT / path).read_text(encoding="utf-8").lower()
        assert "slack" not in source and "matrix" not in source, path


def test_platforms_and_their_direct_message_order_are_the_registered_ones() -> None:
    """A platform is an addition: governance files accept exactly the registered platforms,
    and a person's direct messages prefer them in registration order."""
    import re as _re

    from handlers.core.grammar import UserError
    from handlers.core.mentions import MentionRules, NameSyntax, PatternSyntax
    from handlers.governance._presets import parse_governance

    mail = PatternSyntax("mail", (_re.compile(r"(?P<id>[^@\s]+@[^@\s]+)"),), _re.compile(r"\S+@"))
    rules = MentionRules((mail, NameSyntax("shell")))
    assert rules.platforms == ("mail", "shell")
    assert [rules.dm_rank(p) for p in ("mail", "shell", "elsewhere")] == [0, 1, 2]
    data = {"group": [{"slug": "repl", "name": "Replication", "channels": ["shell:#repl"],
                       "members": [{"user": "mail:ann@example.org"}, {"user": "shell:@bo"}]}]}
    plan = parse_governance(data, rules)
    assert [(m.platform, m.external_id) for m in plan.groups[0].members] == [
        ("mail", "ann@example.org"), ("shell", "bo")]
    with pytest.raises(UserError, match="platform must be one of mail, shell"):
        parse_governance({"admins": ["chat:U1"]}, rules)
    for path in ("handlers/governance/_presets.py", "handlers/actions/_nudges.py",
                 "handlers/core/scheduling.py",
                 "handlers/groups/_commands.py"):
        source = (ROOT / path).read_text(encoding="utf-8").lower()
        assert "slack" not in source and "matrix" not in source, path
