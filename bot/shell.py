"""The bot in a terminal: the same router as Slack and Matrix, rendered as plain text.

On a terminal it prompts ``<user>@<channel>> `` and reads with ``input()`` (so readline
editing and history work); otherwise it reads stdin line by line without prompts, so a
session can be scripted. Lines starting with ``:`` belong to the shell itself.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.conversation import Conversation
from bot.textrender import render_post, render_reply
from handlers.core.grammar import typed_name
from handlers.core.i18n import _n, said
from handlers.core.lookups import active_slugs
from handlers.core.messages import File, Post, Reply
from handlers.core.router import Incoming, Router

PLATFORM = "shell"
DEFAULT_CHANNEL = "#general"
_CHANNEL = re.compile(r"^#?([A-Za-z0-9][A-Za-z0-9._\-]{0,79})$")
_SAFE_FILE = re.compile(r"[^A-Za-z0-9._\-]+")

SHELL_HELP = """\
Shell commands (everything else goes to the bot; `help` lists the bot's commands):
  :as <user>      be someone else (e.g. :as alice)
  :in <channel>   type in another channel (e.g. :in #replication)
  :help           this text
  :quit           leave (Ctrl-D does too)
Commands may be typed with or without a leading / or !."""


def enable_line_editing() -> None:
    """Load readline, so ``input()`` edits lines and keeps history.

    Call it before any other thread starts: readline's first load writes ``LINES`` and
    ``COLUMNS`` into the environment, and ``setenv`` while another thread reads the
    environment (``getenv``: time zones, libfaketime's timed waits) may crash the process.
    """
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401


def complete_with(router: Router) -> None:
    """Tab completes commands and groups (when readline is loaded: a terminal)."""
    try:
        import readline
    except ImportError:
        return
    completer = Completer(router)
    readline.set_completer(completer.complete)
    readline.set_completer_delims(" ")  # '#', '@' and ':' belong to the word
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")


class Completer:
    """Tab completion for the interactive shell: shell commands, then a command's two words,
    then group slugs (read from the store at each first Tab, so a new group completes at
    once) and, after ``:in``, their channels."""

    META = (":as", ":in", ":help", ":quit")

    def __init__(self, router: Router) -> None:
        self.router = router
        self._matches: list[str] = []

    def groups(self) -> list[str]:
        return active_slugs(self.router.deferred)

    def candidates(self, before: str) -> list[str]:
        """Every completion of the last word of ``before`` (the line up to the cursor)."""
        words = before.split(" ")
        done, word = [w for w in words[:-1] if w], words[-1]
        commands = self.router.registry.commands
        if not done:
            pool: Iterable[str] = (self.META if word.startswith(":")
                                   else [*sorted(commands), "help"])
        elif done[0] == ":in" and len(done) == 1:
            pool = [f"#{slug}" for slug in self.groups()]
        elif done[0].startswith(":"):
            pool = ()
        elif len(done) == 1 and done[0].lower().lstrip("/!") in commands:
            pool = sorted(v for v in commands[done[0].lower().lstrip("/!")] if v)
        elif done[0].lower() == "help" and len(done) == 1:
            pool = sorted(commands)
        else:
            pool = self.groups()
        return [f"{c} " for c in pool if c.startswith(word)]

    def complete(self, text: str, state: int) -> str | None:
        """readline's completer: ``state`` 0 computes the matches, later calls page them."""
        if state == 0:
            import readline

            line = readline.get_line_buffer()[: readline.get_endidx()]
            try:
                self._matches = self.candidates(line)
            except Exception:  # a store error must not break the line being typed
                self._matches = []
        return self._matches[state] if state < len(self._matches) else None


def os_user() -> str:
    """The login name as a valid shell user name (``me`` if it has none usable)."""
    try:
        raw = getpass.getuser()
    except Exception:  # no login name in some containers
        raw = ""
    cleaned = re.sub(r"[^A-Za-z0-9._\-]", "", raw).lstrip("0123456789._-")
    return cleaned[:64] or "me"


def parse_user(raw: str) -> str:
    name = typed_name(raw)
    if name is None:
        raise ValueError(
            f"{raw.strip()!r} is not a user name: a letter, then letters, digits, '.', '_', '-'."
        )
    return name


def parse_channel(raw: str) -> str:
    m = _CHANNEL.match(raw.strip())
    if m is None:
        raise ValueError(
            f"{raw.strip()!r} is not a channel name (like #replication): letters, digits, "
            "'.', '_', '-'."
        )
    return f"#{m.group(1)}"


def unused_path(directory: Path, name: str) -> Path:
    """A new file in ``directory`` named after ``name``; never overwrites (O_EXCL)."""
    safe = _SAFE_FILE.sub("_", Path(name).name).strip("._") or "export"
    stem, dot, ext = safe.rpartition(".")
    if not dot:
        stem, ext = safe, ""
    suffix = f".{ext}" if ext else ""
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = directory / (f"{stem}{suffix}" if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(f"no free file name for {name} in {directory}")


@dataclass
class Shell:
    router: Router
    user: str
    channel: str = DEFAULT_CHANNEL
    out: TextIO | None = None
    export_dir: Path = field(default_factory=Path)
    read_line: Callable[[str], str] = input
    # a line of this session was refused or failed: a script then exits 1
    failed: bool = False
    # the one pipeline, as every adapter's; with a dispatcher it sends a command's posts
    # (their outbox keys) at once, the shell's own channels printed by the sender registered
    # for them. Without one (a Shell built on a bare router) posts are only printed.
    conversation: Conversation | None = None

    def __post_init__(self) -> None:
        if self.conversation is None:
            self.conversation = Conversation(self.router, None)

    @property
    def talk(self) -> Conversation:
        assert self.conversation is not None  # set in __post_init__
        return self.conversation

    def write(self, text: str) -> None:
        if text:
            print(text, file=self.out, flush=True)

    @property
    def prompt(self) -> str:
        return f"{self.user}@{self.channel}> "

    def handle(self, line: str) -> bool:
        """Run one line; False means the shell should stop."""
        line = line.strip()
        if not line:
            return True
        said = Incoming(platform=PLATFORM, user_id=self.user, user_name=self.user, text=line,
                        channel_id=self.channel)
        if line.startswith("#"):
            # a #tag line is a capture while a meeting is open in this channel; else a comment
            if self.router.addressed(line):
                self._show_heard(said)
            return True
        if line.startswith(":"):
            return self.meta(line)
        if not self.router.names_a_command(line) and self.router.listening(said):
            # discussion in a meeting, as in a chat channel: the speaker counts as present
            self._show_heard(said)
            return True
        reply = self.talk.run(said)
        self.failed |= reply.error
        self.show(reply)
        return True

    def _show_heard(self, said: Incoming) -> None:
        heard = self.talk.hear(said)
        if heard is not None:
            self.failed |= heard.error
            self.show(heard)

    def show(self, reply: Reply) -> None:
        if self.talk.dispatcher is None or not reply.queued:
            self.write(render_reply(reply))
        else:
            self.write(render_reply(Reply(blocks=reply.blocks)))
            # prints the posts for shell channels, returns what could not be sent
            problems = self.talk.delivered(reply).problems
            for post in reply.posts:
                # what goes to other platforms' channels is shown here as it is queued;
                # of what goes to people one by one (mail), only how many: their
                # addresses are not for whoever sits at this terminal
                away = [c for c in post.channels
                        if c.platform != PLATFORM and c.direct_user is None]
                direct = [c for c in post.channels
                          if c.platform != PLATFORM and c.direct_user is not None]
                if away or not post.channels:
                    self.write(render_post(Post(post.group_slug, post.group_name, away,
                                                post.blocks)))
                if direct:
                    self.write(f"[{post.group_slug}] " + said(_n(
                        "and to {n} person directly ({platforms})",
                        "and to {n} people directly ({platforms})", len(direct),
                        platforms=", ".join(sorted({c.platform for c in direct}))),
                        reply.lang))
            for problem in problems:
                self.write(said(problem, reply.lang))
        files = [b for b in reply.blocks if isinstance(b, File)]
        for post in reply.posts:
            files.extend(b for b in post.blocks if isinstance(b, File))
        for block in files:
            try:
                path = unused_path(self.export_dir, block.name)
                path.write_bytes(block.content)
            except OSError as err:
                self.failed = True
                self.write(f"Could not save {block.name} in {self.export_dir}: "
                           f"{err.strerror or err}")
                continue
            self.write(f"Saved {path.resolve()}")

    def meta(self, line: str) -> bool:
        word, _, rest = line[1:].partition(" ")
        word = word.lower()
        rest = rest.strip()
        try:
            if word in ("q", "quit", "exit"):
                return False
            if word in ("h", "help", "?"):
                self.write(SHELL_HELP)
            elif word == "as":
                if not rest:
                    raise ValueError(f"You are {self.user}. Usage: :as <user>")
                self.user = parse_user(rest)
                self.write(f"You are now {self.user}.")
            elif word == "in":
                if not rest:
                    raise ValueError(f"You are in {self.channel}. Usage: :in <channel>")
                self.channel = parse_channel(rest)
                self.write(f"Now in {self.channel}.")
            else:
                raise ValueError(f"Unknown shell command :{word}. Try :help.")
        except ValueError as err:
            self.failed = True
            self.write(str(err))
        return True

    def run_script(self, lines: Iterable[str]) -> int:
        """Read lines (a pipe or a file) with no prompts. At the end of input: 0, or 1 when
        any line was refused or failed, so a script can tell (the others still ran)."""
        try:
            for line in lines:
                if not self.handle(line):
                    break
        except KeyboardInterrupt:
            return 130
        return 1 if self.failed else 0

    def run_interactive(self) -> int:
        """Prompt and read until Ctrl-D; call :func:`enable_line_editing` first, before any
        other thread starts."""
        complete_with(self.router)
        self.write(f"Taskbot shell as {self.user} in {self.channel}. :help for shell "
                   "commands, help for the bot's, Ctrl-D to leave.")
        while True:
            try:
                if not self.handle(self.read_line(self.prompt)):
                    return 0
            except KeyboardInterrupt:
                # as in Python's REPL: Ctrl-C drops the line being typed, Ctrl-D leaves
                print("^C", file=self.out, flush=True)
            except EOFError:
                print(file=self.out)  # leave the terminal on a fresh line
                return 0
