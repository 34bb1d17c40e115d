"""How Slack writes a person: ``<@U123>`` or ``<@U123|name>``, inserted by the client from a
real account, so the id is vouched for and readable on every platform."""

from __future__ import annotations

import re

from handlers.core.mentions import PatternSyntax
from handlers.core.platforms import Profile

SLACK_MENTIONS = PatternSyntax(
    platform="slack",
    patterns=(re.compile(r"<@(?P<id>[UW][A-Z0-9]{2,20})(?:\|[^>]*)?>", re.ASCII),),
    attempt=re.compile(r"<@"),
)

SLACK = Profile("slack", SLACK_MENTIONS, sigil="/")
