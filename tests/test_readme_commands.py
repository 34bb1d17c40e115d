"""README's command table and the registry say the same: every command, the same usage."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.router import HELP_USAGE, build_registry

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
    registry = [c.line for verbs in build_registry().commands.values()
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
