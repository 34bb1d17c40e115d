"""README's command table and the registry say the same: every command, the same usage."""

from __future__ import annotations

import re
from pathlib import Path

from bot.platforms import registered_platforms
from handlers.catalog import build_registry
from handlers.core.router import HELP_USAGE

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_usages() -> list[str]:
    """The code spans of the first column of the table under ``## Commands``."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    spans: list[str] = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]
        spans.extend(s.replace("\\|", "|") for s in re.findall(r"`([^`]+)`", first))
    return spans


def test_readme_table_matches_the_registry() -> None:
    registry = [c.line for verbs in build_registry(registered_platforms()).commands.values()
                for c in verbs.values()] + [HELP_USAGE]
    readme = readme_usages()
    by_words = {" ".join(line.split()[:2]): line for line in registry}
    problems = []
    for line in readme:
        if line not in registry:
            words = " ".join(line.split()[:2])
            if words in by_words:
                problems.append(f"{words}: README says `{line}`, help says `{by_words[words]}`")
            else:
                problems.append(f"README lists `{line}`, which is no registered command")
    for line in registry:
        if line not in readme:
            words = " ".join(line.split()[:2])
            if not any(" ".join(r.split()[:2]) == words for r in readme):
                problems.append(f"{words}: registered as `{line}` but missing from README")
    assert not problems, "README command table and registry differ:\n" + "\n".join(problems)


ROLES = ("anyone", "member", "chair", "boc", "secretariat", "admin")


def readme_who() -> dict[str, str]:
    """Each usage of the table under ``## Commands`` with the text of its "who" column."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    who: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cols = re.split(r"(?<!\\)\|", line)
        for usage in re.findall(r"`([^`]+)`", cols[1]):
            who[usage.replace("\\|", "|")] = cols[2].strip()
    return who


def _roles(text: str) -> set[str]:
    text = text.lower().replace("chair and up", "chair, secretariat, admin")
    return {role for role in ROLES if role in text}


def test_readme_names_everyone_help_names() -> None:
    """The README's "who" column may say more than ``help`` does, never less: each role
    help names for a command (anyone, members, chairs, BoC, secretariat, admins) is named
    in its README row too."""
    readme = readme_who()
    problems = []
    for verbs in build_registry(registered_platforms()).commands.values():
        for c in verbs.values():
            said = readme.get(c.line)
            if said is None:
                continue  # test_readme_table_matches_the_registry reports it
            missing = _roles(c.who) - _roles(said)
            if missing:
                problems.append(f"{c.noun} {c.verb}: help names {sorted(missing)}; README says "
                                f"{said!r}")
    assert not problems, "\n".join(problems)
