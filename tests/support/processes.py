"""Stopping a ``taskbot run`` subprocess the way an operator would, then for sure."""

from __future__ import annotations

import signal
import subprocess


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (a clean shutdown), then SIGKILL if it has not exited within 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
