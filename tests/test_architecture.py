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
