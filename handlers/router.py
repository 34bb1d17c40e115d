"""The command registry and the router that runs one command in one transaction.

Each command declares its usage once here; ``help`` and every error reply are generated
from that declaration. A command either commits whole or writes nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from handlers.context import CoreSettings, Ctx
from handlers.directory import ensure_person
from handlers.grammar import MAX_LINE, Args, UserError, control_character_error, tokenize
from handlers.messages import Reply, Table, text
from storage import kv

log = logging.getLogger(__name__)

Handler = Callable[[Ctx, Args], Reply]


@dataclass(frozen=True)
class Command:
    noun: str
    verb: str
    usage: str  # the arguments after "noun verb"
    summary: str
    who: str
    handler: Handler

    @property
    def line(self) -> str:
        return " ".join(p for p in (self.noun, self.verb, self.usage) if p)


# An adapter's own check of a parsed command (a platform permission such as room power
# levels), run after parsing and before the command: a Reply refuses it, None lets it run.
Guard = Callable[[Command], Reply | None]


@dataclass(frozen=True)
class Incoming:
    """One command line as an adapter received it."""

    platform: str
    user_id: str
    text: str
    channel_id: str | None = None
    user_name: str | None = None
    prefix: str = ""  # how the platform spells commands: "/" on Slack, "!" on Matrix
    # An idempotency key for this command run (an event id, a request id), namespaced by
    # the adapter. It is written in the command's own transaction, so the command and the
    # mark that it ran commit together, and a run whose key is already written is not
    # repeated: a redelivery after a crash between the two cannot run a command twice.
    once: str | None = None


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, dict[str, Command]] = {}
        self.nouns: dict[str, str] = {}  # noun -> summary

    def noun(self, noun: str, summary: str) -> None:
        self.nouns[noun] = summary
        self.commands.setdefault(noun, {})

    def command(
        self, noun: str, verb: str, usage: str, summary: str, who: str = "anyone"
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.commands.setdefault(noun, {})[verb] = Command(noun, verb, usage, summary, who, fn)
            return fn

        return deco

    def find(self, noun: str, verb: str) -> Command | None:
        return self.commands.get(noun, {}).get(verb)

    def usage(self, noun: str, verb: str | None = None, prefix: str = "") -> str:
        if verb is not None and (cmd := self.find(noun, verb)):
            return f"Usage: {prefix}{cmd.line}"
        lines = [f"{prefix}{c.line}" for c in self.commands.get(noun, {}).values()]
        return "Usage:\n" + "\n".join(f"  {line}" for line in lines)

    def help(self, args: list[str], prefix: str) -> Reply:
        reply = Reply()
        if not args:
            reply.say("Taskbot commands", style="heading")
            rows = []
            for noun, summary in self.nouns.items():
                rows.append(((f"{prefix}{noun}",), (summary,)))
            reply.add(Table(("command", "what it does"), tuple(rows)))
            reply.say(f"{prefix}help <command> shows a command's usage.")
            return reply
        noun = args[0].lstrip("/!").lower()
        if noun not in self.commands:
            raise UserError(f"No command {args[0]!r}. Commands: {', '.join(self.nouns)}.")
        cmds = list(self.commands[noun].values())
        if len(args) > 1:
            verb = args[1].lower()
            cmds = [c for c in cmds if c.verb == verb]
            if not cmds:
                raise UserError(f"{noun} has no subcommand {args[1]!r}.")
        reply.say(f"{prefix}{noun}: {self.nouns.get(noun, '')}", style="heading")
        reply.add(
            Table(
                ("usage", "what", "who"),
                tuple(((f"{prefix}{c.line}",), (c.summary,), (c.who,)) for c in cmds),
            )
        )
        return reply


def error_reply(message: str, usage: str | None) -> Reply:
    reply = Reply(error=True, private=True)
    reply.add(text(message))
    if usage:
        reply.add(text(usage, style="code"))
    return reply


def already_done() -> Reply:
    """The answer to a command run whose idempotency key was already written."""
    return Reply().say("That command arrived twice; it was carried out the first time, "
                       "so nothing more was done.")


class Router:
    def __init__(
        self, sessions: sessionmaker[Session], settings: CoreSettings, registry: Registry
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.registry = registry

    def handle(self, msg: Incoming, guard: Guard | None = None) -> Reply:
        """Parse and run one line; ``guard`` sees the resolved command before it runs."""
        parsed = self.parse(msg)
        if isinstance(parsed, Reply):
            return parsed
        cmd, args = parsed
        if guard is not None and (refused := guard(cmd)) is not None:
            return refused
        return self.run(msg, cmd, args)

    def resolve(self, msg: Incoming) -> Command | None:
        """The command a line stands for, without running it (None: help, or not a command).

        Platform checks must look at this, never at the raw words: quotes, a second prefix,
        case and spacing all spell the same command.
        """
        parsed = self.parse(msg)
        return None if isinstance(parsed, Reply) else parsed[0]

    def parse(self, msg: Incoming) -> tuple[Command, Args] | Reply:
        """The resolved command and its arguments, or the reply for a line that is none
        (help, an unknown command, a bad line). Reads no store."""
        line = msg.text.strip()
        if line[:1] in ("/", "!"):
            line = line[1:]
        if (problem := control_character_error(line)) is not None:
            return error_reply(problem, None)
        if len(line) > MAX_LINE:
            return error_reply(
                f"That command is too long ({len(line)} characters; at most {MAX_LINE}).",
                None,
            )
        tokens = tokenize(line)
        if not tokens:
            return self._help([], msg.prefix)
        noun = tokens[0].value.lower()
        if noun == "help":
            return self._help([t.value for t in tokens[1:]], msg.prefix)
        verbs = self.registry.commands.get(noun)
        if verbs is None:
            return error_reply(
                f"Unknown command {tokens[0].value!r}.",
                f"Commands: {', '.join(self.registry.nouns)}; {msg.prefix}help shows usage.",
            )
        verb = tokens[1].value.lower() if len(tokens) > 1 else ""
        cmd = verbs.get(verb)
        if cmd is None:
            what = f"Unknown {noun} subcommand {tokens[1].value!r}." if verb else (
                f"{noun} needs a subcommand."
            )
            return error_reply(what, self.registry.usage(noun, prefix=msg.prefix))
        return cmd, Args(line, tokens[2:])

    def run(self, msg: Incoming, cmd: Command, args: Args) -> Reply:
        session = self.sessions()
        try:
            with session.begin():
                if msg.once is not None and not kv.claim(session, msg.once):
                    return already_done()
                actor = ensure_person(session, msg.platform, msg.user_id, msg.user_name)
                ctx = Ctx(
                    session=session,
                    actor=actor,
                    platform=msg.platform,
                    channel_id=msg.channel_id,
                    settings=self.settings,
                    now=self.settings.clock(),
                )
                reply = cmd.handler(ctx, args)
                session.flush()
            return reply
        except UserError as err:
            usage = self.registry.usage(cmd.noun, cmd.verb, msg.prefix) if err.show_usage else None
            return error_reply(err.message, usage)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("command failed (error id %s): %s %s", error_id, cmd.noun, cmd.verb)
            return error_reply(
                f"Sorry, something went wrong on our side (error id {error_id}). "
                "Nothing was changed; the secretariat can look it up in the log.",
                None,
            )
        finally:
            session.close()

    def _help(self, args: list[str], prefix: str) -> Reply:
        try:
            return self.registry.help(args, prefix)
        except UserError as err:
            return error_reply(err.message, f"Usage: {prefix}help [<command>]")


def build_registry() -> Registry:
    from handlers import actions, admin, decisions, groups, meeting_mode, meetings, secretariat

    reg = Registry()
    for module in (groups, meetings, meeting_mode, actions, decisions, secretariat, admin):
        module.register(reg)
    return reg
