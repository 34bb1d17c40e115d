"""The mention table every platform's adapter contributes to, handed to the core once.

All syntaxes are registered whichever platforms run: a Slack mention typed in the shell
must read as a Slack id (and be refused while no one has that id), not as stray text.
"""

from __future__ import annotations

from bot.matrix.mentions import MATRIX_MENTIONS
from bot.slack.mentions import SLACK_MENTIONS
from handlers.mentions import MentionRules, NameSyntax

SHELL_MENTIONS = NameSyntax(platform="shell")


def platform_mentions() -> MentionRules:
    return MentionRules((SLACK_MENTIONS, MATRIX_MENTIONS, SHELL_MENTIONS))
