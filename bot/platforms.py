"""The platform table: every adapter's profile, handed to the core once.

All profiles are registered whichever platforms run: a Slack mention typed in the shell
must read as a Slack id (and be refused while no one has that id), not as stray text. The
order is the order in which a person's direct messages prefer a platform: chat first, mail
last (a person with a chat identity reads their messages there).
"""

from __future__ import annotations

from bot.email.address import EMAIL
from bot.matrix.mentions import MATRIX
from bot.slack.mentions import SLACK
from handlers.core.mentions import MentionRules, NameSyntax
from handlers.core.platforms import Platforms, Profile

SHELL = Profile("shell", NameSyntax(platform="shell"))


def registered_platforms() -> Platforms:
    return Platforms((SLACK, MATRIX, SHELL, EMAIL))


def platform_mentions() -> MentionRules:
    return registered_platforms().mentions
