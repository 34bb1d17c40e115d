"""Benchmark: reading a Matrix command out of hostile message bodies, before and after.

Run: ``.venv/bin/python bench/matrix_parse.py [--budget 15] [--repeat 5]``.

BEFORE is the regex reader Taskbot shipped until issue 11 (``_PILL``, ``_TAG``,
``_REPLY_FALLBACK`` from ``bot/matrix/render.py``), copied below verbatim as the baseline.
AFTER is today's ``bot.matrix.render``: ``read_formatted`` (the one-pass scanner) and
``command_text`` (the size cap, then the scanner). Both read the same inputs in the same run.

Shapes (the worst found): the review's body (``"<a " * k`` then an unfinished pill, the one
that held the loop 8.6 s at 4,330 characters), open ``<a `` tags, pills without an end tag,
unclosed reply fallbacks, open attribute quotes. Sizes up to the cap (16,000 characters) and
64 KB (what a Synapse event can hold). A baseline series stops at the first size whose run
took longer than ``--budget`` seconds (the next would take many times longer).
Figures: the best of ``--repeat`` runs (one run for the baseline past 1 s), in milliseconds,
and the ratio before / after. The floor: ``str.split`` of the same text, the least any reader
of it must do.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.matrix.render import MAX_BODY, TooLong, command_text, read_formatted

# --- BASELINE: the regex reader before issue 11 (copied verbatim, do not "fix") ---------------

_PILL = re.compile(
    r'<a\s[^>]*href=["\']https://matrix\.to/#/(?P<id>(?:@|%40)[^"\'?]+)[^"\']*["\'][^>]*>.*?</a>',
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]+>")
_REPLY_FALLBACK = re.compile(r"<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)


def baseline_command_text(body: str, formatted_body: str | None) -> str:
    if formatted_body and "matrix.to" in formatted_body:
        from urllib.parse import unquote

        text = _REPLY_FALLBACK.sub("", formatted_body)
        text = _PILL.sub(lambda m: " " + unquote(m.group("id")) + " ", text)
        text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
        text = html.unescape(_TAG.sub("", text))
        return " ".join(text.split())
    lines = body.splitlines()
    while lines and lines[0].startswith("> "):
        lines.pop(0)
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).strip()

# --- end of BASELINE -----------------------------------------------------------------------

PILL = '<a href="https://matrix.to/#/@'


def _fit(text: str, size: int) -> str:
    return (text + "x" * size)[:size]


SHAPES: dict[str, Callable[[int], str]] = {
    "review (<a * k + unfinished pill)": lambda n: _fit("<a " * (n // 4) + PILL, n),
    "open <a tags": lambda n: _fit("matrix.to" + "<a " * (n // 3), n),
    "pills, no end tag": lambda n: _fit((PILL + 'x:y">bob') * (n // 40 + 1), n),
    "unclosed reply fallbacks": lambda n: _fit(PILL + 'a:b">a</a>' + "<mx-reply>" * (n // 10), n),
    "open attribute quotes": lambda n: _fit("matrix.to" + '<a x="' * (n // 6 + 1), n),
}
SIZES = (500, 1000, 2000, 4330, 8000, MAX_BODY, 64 * 1024)


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        spent = time.perf_counter() - start
        times.append(spent)
        if spent > 1.0:
            break
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=15.0,
                        help="seconds a baseline run may take before its series stops")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}; "
          f"cap {MAX_BODY} characters; best of {args.repeat}, ms")
    print(f"{'shape':36} {'chars':>6} {'before':>10} {'after':>8} {'capped':>7} "
          f"{'floor':>6} {'ratio':>9}")
    for name, make in SHAPES.items():
        stopped = False
        for size in SIZES:
            text = make(size)
            after = best_ms(lambda t=text: read_formatted(t), args.repeat)

            def capped(t: str = text) -> None:
                with contextlib.suppress(TooLong):
                    command_text("!x", t)

            cap = best_ms(capped, args.repeat)
            floor = best_ms(lambda t=text: t.split(), args.repeat)
            if stopped:
                before_s, ratio = "(skipped)", ""
            else:
                before = best_ms(lambda t=text: baseline_command_text("!x", t), args.repeat)
                before_s, ratio = f"{before:10.1f}", f"{before / max(after, 1e-6):8.0f}x"
                stopped = before / 1000 > args.budget
            print(f"{name:36} {size:6d} {before_s:>10} {after:8.2f} {cap:7.2f} "
                  f"{floor:6.2f} {ratio:>9}", flush=True)


if __name__ == "__main__":
    main()
