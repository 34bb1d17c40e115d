"""A benchmark script runs with ``bench/`` first on its import path, so a script named
after a standard-library module (``bench/email.py``) breaks every other one: SQLAlchemy's
``import email`` got the benchmark."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_no_benchmark_shadows_a_standard_module() -> None:
    names = {p.stem for p in BENCH.glob("*.py")}
    assert not names & set(sys.stdlib_module_names), names & set(sys.stdlib_module_names)
