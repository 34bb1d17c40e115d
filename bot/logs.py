"""How the bot logs, the same in every process it runs (the CLI's, and the Slack core
process forked beside the adapter)."""

from __future__ import annotations

import logging
import sys


def setup_logging() -> None:
    """One line per problem on stderr; full tracebacks go to ./taskbot.log (made on first
    use), where the error id of an apology can be looked up."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.setLevel(logging.WARNING)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_OneLine("taskbot: %(levelname)s: %(message)s"))
    root.addHandler(console)
    file = logging.FileHandler("taskbot.log", delay=True, encoding="utf-8")
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record).splitlines()[0]
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
