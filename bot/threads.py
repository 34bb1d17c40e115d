"""Threads started beside a terminal leave the terminal's signals to the main thread.

The kernel hands a process-directed signal (Ctrl-C's SIGINT, a resize's SIGWINCH) to any thread
that does not block it. Python's handler then only sets a flag for the main thread, and the
shell's main thread sits in readline's ``select`` on the terminal with no timeout: Ctrl-C did
nothing until the next key. A thread inherits its creator's signal mask, so blocking these
while a background thread starts keeps them, and everything that thread later starts, away.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

_TERMINAL_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGWINCH")
    if hasattr(signal, name)
)


@contextlib.contextmanager
def signals_stay_with_main() -> Iterator[None]:
    """Start threads inside this block: they are born with the terminal's signals blocked."""
    if not hasattr(signal, "pthread_sigmask"):  # not on every platform
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _TERMINAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
