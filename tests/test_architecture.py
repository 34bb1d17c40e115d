"""The core stays free of platform code: only bot/ may import Slack, Matrix or APScheduler."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = {"slack_bolt", "slack_sdk", "nio", "apscheduler"}
CORE = ("handlers", "storage")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", CORE)
def test_core_imports_no_platform_code(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no sources found under {package}/"
    offenders = {
        str(f.relative_to(ROOT)): sorted(imported_modules(f) & PLATFORM) for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_storage_does_not_import_handlers_or_bot() -> None:
    for f in sorted((ROOT / "storage").rglob("*.py")):
        assert not imported_modules(f) & {"handlers", "bot"}, f


def test_handlers_do_not_import_bot() -> None:
    for f in sorted((ROOT / "handlers").rglob("*.py")):
        assert "bot" not in imported_modules(f), f


def test_scanner_sees_platform_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import nio\nfrom slack_bolt.async_app import AsyncApp\nfrom . import x\n")
    assert imported_modules(sample) == {"nio", "slack_bolt"}


def code_words(path: Path) -> set[str]:
    """The names and string literals of a module, without its comments and docstrings:
    what the code says, rather than what it says about itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    words: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            words.add(node.name)
        elif isinstance(node, ast.alias):
            words.add(node.asname or node.name)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings):
            words.add(node.value)
    return words


@pytest.mark.parametrize("package", CORE)
def test_core_code_names_no_platform(package: str) -> None:
    """A new platform is a profile in bot/, not an edit here: no name or string in the
    core's code is a registered platform's (comments may still say where an idea came
    from)."""
    from bot.platforms import registered_platforms

    names = [p.name for p in registered_platforms().profiles]
    offenders = {
        str(f.relative_to(ROOT)): sorted(w for w in code_words(f)
                                         if any(n in w.lower() for n in names))
        for f in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in f.parts  # a landed revision is history, never rewritten
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_word_scanner_skips_docstrings_and_sees_code(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""About slack."""\n# matrix\ndef f():\n    """Shell."""\n'
                      '    return slack_name("matrix")\n')
    assert code_words(sample) == {"f", "slack_name", "matrix"}
