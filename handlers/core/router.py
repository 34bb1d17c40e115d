"""The command registry and the router that runs one command in one transaction.

Each command declares its parameters and its permission policy once (handlers.core.params,
handlers.core.roles.Policy); ``help``, every error reply, the chat clients' command menus
and the Slack manifest are generated from that declaration. A command either commits whole
or writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from handlers.core.context import CoreSettings, Ctx
from handlers.core.directory import (
    SYSTEM_PLATFORM,
    ensure_person,
    person_by_identity,
    system_person,
)
from handlers.core.grammar import (
    MAX_LINE,
    Args,
    Refused,
    UserError,
    control_character_error,
    tokenize,
)
from handlers.core.i18n import Reader, _, _n, localized
from handlers.core.messages import Buttons, Post, Reply, Table, Text, text
from handlers.core.params import Spec, Values
from handlers.core.platforms import Platforms
from handlers.core.posts import KIND as POST_KIND
from handlers.core.posts import compose_post, queue_posts
from handlers.core.readers import group_reader, person_reader, remember_profile_zone
from handlers.core.roles import Guard, Policy
from handlers.core.scheduling import ScheduleKinds
from storage import kv
from storage.db import make_reader_factory
from storage.models import Identity, Person

log = logging.getLogger(__name__)
T = TypeVar("T")

# a command's work: it is given its parsed arguments (handlers.core.params)
Handler = Callable[[Ctx, Values], Reply]
# A command's permission policy (handlers.core.roles.Policy) is checked by the router before
# the line is parsed (rules, dates, free text). Its guard looks at the arguments through its
# own cursor (to find the group the command is about), raises Refused and never writes.


@dataclass(frozen=True)
class Command:
    noun: str
    verb: str
    spec: Spec
    summary: str
    policy: Policy
    handler: Handler
    guard: Guard | None

    @property
    def usage(self) -> str:
        """The arguments after "noun verb", as help and error replies show them."""
        return self.spec.usage

    @property
    def who(self) -> str:
        return self.policy.who

    def run(self, ctx: Ctx, args: Args) -> Reply:
        """Parse the line's arguments by the declaration, then do the work."""
        return self.handler(ctx, self.spec.parse(ctx, args))

    @property
    def line(self) -> str:
        return " ".join(p for p in (self.noun, self.verb, self.usage) if p)


# An adapter's own check of a parsed command (a platform permission such as room power
# levels), run after parsing and before the command: a Reply refuses it, None lets it run.
PlatformCheck = Callable[[Command], Reply | None]


@dataclass(frozen=True)
class Incoming:
    """One command line as an adapter received it."""

    platform: str
    user_id: str
    text: str
    channel_id: str | None = None
    user_name: str | None = None
    prefix: str = ""  # how the platform spells commands (its sigil), for usage lines
    # An idempotency key for this command run (an event id, a request id), namespaced by
    # the adapter. It is written in the command's own transaction, so the command and the
    # mark that it ran commit together, and a run whose key is already written is not
    # repeated: a redelivery after a crash between the two cannot run a command twice.
    once: str | None = None
    # the zone the platform's profile of the person gives (Slack's users.info ``tz``): their
    # default zone, kept as ``profile_zone`` (``me zone`` overrides it)
    user_zone: str | None = None


@dataclass(frozen=True)
class Listener:
    """A feature that hears ordinary channel lines, not commands (meeting mode's captures).

    The router runs it in the same unit of work as a command: one transaction, the speaker
    made a person, its posts queued with the line, and errors answered the same way."""

    name: str
    # a cheap read (a reader session: writes nothing) of whether the line is for it
    wants: Callable[[Session, Incoming, dt.datetime], bool]
    # the work, in the transaction: a Reply to give, or None (nothing to say)
    hear: Callable[[Ctx, str], Reply | None]
    # whether the line was meant for the bot, so bad input there gets an answer
    addressed: Callable[[str], bool]
    # the usage an error about the line is answered with, if any
    usage: Callable[[str], str | None]
    # what it does with a line, for "nothing was <done>"
    # TRANSLATORS: what is done with a line said in a meeting, as in "nothing was taken".
    done: str = _("taken")


@dataclass(frozen=True)
class Presence:
    """A feature that hears people join or leave a channel (a group that follows its
    channel's members): not a line, but the same unit of work, with the event's key."""

    name: str
    # the change, in the router's transaction: what changed (for the log), or None
    changed: Callable[[Session, Incoming, bool, dt.datetime], str | None]


HELP_USAGE = "help [<command> [<subcommand>]]"


class Registry:
    def __init__(self, platforms: Platforms | None = None) -> None:
        # the platforms' profiles, for the commands built from what they declare (``me
        # email``: a platform's contact word); none: only the platform-free commands
        self.platforms = platforms or Platforms()
        self.commands: dict[str, dict[str, Command]] = {}
        self.nouns: dict[str, str] = {}  # noun -> summary
        self.common: dict[str, tuple[str, ...]] = {}  # noun -> its most used verbs
        self.listeners: list[Listener] = []
        self.presence: list[Presence] = []
        # topic kind -> (noun, words): a short reply to a message about a topic
        self.replies: dict[str, tuple[str, frozenset[str]]] = {}
        self.free_text: set[str] = set()
        self.after_id: set[str] = set()  # kinds whose reply words follow the id
        # what the delivery engine plans and composes: each feature adds its kinds
        self.kinds = ScheduleKinds()
        self.kinds.kind(POST_KIND, compose_post)  # a command's posts (handlers.posts)

    def listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def watch_presence(self, presence: Presence) -> None:
        self.presence.append(presence)

    def reply_words(self, kind: str, noun: str, words: tuple[str, ...], *,
                    after_id: bool = False) -> None:
        """Short replies to a message about ``kind`` (its Topic): ``<word> [rest]`` in
        answer to one about ``decision:12`` is the command ``<noun> <word> 12 [rest]``.
        Every word must be a verb of ``noun`` whose first parameter is the id; with
        ``after_id`` the words are the value that follows the id of ``noun``'s own command
        (``agree`` to ``proposal:3`` is ``vote 3 agree``)."""
        if kind in self.replies:
            raise ValueError(f"reply words for {kind!r} are declared twice")
        for word in words if not after_id else ():
            if self.find(noun, word) is None:
                raise ValueError(f"{noun} has no verb {word!r} to answer {kind!r} with")
        if after_id and self.find(noun, "") is None:
            raise ValueError(f"{noun} is no command of its own to answer {kind!r} with")
        self.replies[kind] = (noun, frozenset(words))
        if after_id:
            self.after_id.add(kind)

    def reply_text(self, kind: str, noun: str) -> None:
        """Free replies to a message about ``kind``: any line is the command ``<noun>
        <ref> <line>`` (an answer to a check-in's prompt), except one that starts with
        ``noun`` itself, which is that command as written."""
        if kind in self.replies:
            raise ValueError(f"reply words for {kind!r} are declared twice")
        if self.find(noun, "") is None:
            raise ValueError(f"{noun} is no command of its own to answer {kind!r} with")
        self.replies[kind] = (noun, frozenset())
        self.free_text.add(kind)

    def expand(self, topic: str, line: str) -> str:
        """``line`` as the command it stands for in answer to a message about ``topic``:
        a declared short reply gains its noun and the topic's id; any other line is
        itself (a whole command may always be written out)."""
        kind, _, ref = topic.partition(":")
        found = self.replies.get(kind)
        words = line.split(maxsplit=1)
        if found is None or not words or not ref or ":" in ref:
            return line
        noun, verbs = found
        word = words[0].lower()
        if kind in self.free_text:
            return line if word == noun else f"{noun} {ref} {line}"
        if word not in verbs:
            return line
        if kind in self.after_id:
            return " ".join([noun, ref, word, *words[1:]])
        return " ".join([noun, word, ref, *words[1:]])

    def noun(self, noun: str, summary: str, *, common: tuple[str, ...] = ()) -> None:
        """Declare a command noun; ``common``: the verbs a platform's short usage hint
        shows (a chat client's command menu), most used first."""
        self.nouns[noun] = summary
        self.common[noun] = common
        self.commands.setdefault(noun, {})

    def command(
        self, noun: str, verb: str, params: Spec, summary: str, policy: Policy,
    ) -> Callable[[Handler], Handler]:
        """Declare a command: its usage is generated from ``params``, ``policy`` is checked
        by the router before the line is parsed, and the handler is given the parsed values."""
        def deco(fn: Handler) -> Handler:
            self.commands.setdefault(noun, {})[verb] = Command(
                noun, verb, params, summary, policy, fn, policy.check(params, f"{noun} {verb}"))
            return fn

        return deco

    def find(self, noun: str, verb: str) -> Command | None:
        return self.commands.get(noun, {}).get(verb)

    def usage(self, noun: str, verb: str | None = None, prefix: str = "") -> str:
        if verb is not None and (cmd := self.find(noun, verb)):
            # TRANSLATORS: {usage} is a command as it is typed, like `tg add <group> <@user>`.
            return _("Usage: {usage}", usage=prefix + cmd.line)
        lines = [f"{prefix}{c.line}" for c in self.commands.get(noun, {}).values()]
        # TRANSLATORS: {commands} are commands as they are typed, one a line.
        return _("Usage:\n{commands}", commands="\n".join(f"  {line}" for line in lines))

    def help(self, args: list[str], prefix: str) -> Reply:
        reply = Reply()
        if not args:
            reply = reply.say(_("Taskbot commands"), style="heading")
            rows = []
            for noun, summary in self.nouns.items():
                rows.append(((f"{prefix}{noun}",), (summary,)))
            # TRANSLATORS: the headers of help's table of commands.
            reply = reply.add(Table((_("command"), _("what it does")), tuple(rows)))
            # TRANSLATORS: {prefix} is how the platform starts a command ("/", "!" or none).
            reply = reply.say(_("{prefix}help <command> shows a command's usage.",
                                prefix=prefix))
            return reply
        noun = args[0].lower()
        if noun == "help":
            reply = reply.say(_("{prefix}help: shows the commands and their usage",
                                prefix=prefix), style="heading")
            reply = reply.add(text(f"{prefix}{HELP_USAGE}", style="code"))
            reply = reply.say(_("Lists the commands, or shows the usage of one command. "
                                "Anyone."))
            return reply
        if noun not in self.commands:
            raise UserError(_("No command {command}. Commands: {commands}.",
                              command=repr(args[0]), commands=", ".join(self.nouns)))
        cmds = list(self.commands[noun].values())
        if len(args) > 1:
            verb = args[1].lower()
            cmds = [c for c in cmds if c.verb == verb]
            if not cmds:
                raise UserError(_("{command} has no subcommand {word}.", command=noun,
                                  word=repr(args[1])))
        # TRANSLATORS: help's heading for a command: the command, then what it is for.
        reply = reply.say(_("{command}: {summary}", command=prefix + noun,
                            summary=self.nouns.get(noun, "")), style="heading")
        reply = reply.add(
            Table(
                # TRANSLATORS: the headers of help's table of a command's usage: how it
                # is typed, what it does, who may run it.
                (_("usage"), _("what"), _("who")),
                tuple(((f"{prefix}{c.line}",), (c.summary,), (c.who,)) for c in cmds),
            )
        )
        return reply


class _Retry(Exception):
    """The deferred attempt lost the race for the write lock; run again, immediate."""


def error_reply(message: str, usage: str | None) -> Reply:
    reply = Reply(error=True, private=True)
    reply = reply.add(text(message))
    if usage:
        reply = reply.add(text(usage, style="code"))
    return reply


def apology(what: str, say: Callable[[str], str]) -> Reply:
    """A failure of ours, inside an ``except``: logged with its traceback under a short
    error id, and answered with ``say(error_id)`` so the secretariat can find it."""
    error_id = secrets.token_hex(4)
    log.exception("%s failed (error id %s)", what, error_id)
    return error_reply(say(error_id), None)


def already_done() -> Reply:
    """The answer to a command run whose idempotency key was already written."""
    return Reply(duplicate=True).say(_(
        "That command arrived twice; it was carried out the first time, so nothing more "
        "was done."))


class _Duplicate(Exception):
    """Another run of the same idempotency key committed first: undo this one."""


def _lost_the_write_race(err: OperationalError) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY and its extended codes, such as a stale
    snapshot): a deferred transaction that read, then found another writer had moved on."""
    code = getattr(err.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == 5


class Router:
    """Runs each command in one transaction.

    On SQLite the transaction begins deferred: it takes the write lock only at its first
    write, so a command that only reads, or is refused or fails to parse, never holds up
    the writers (every other session begins ``BEGIN IMMEDIATE``). A deferred transaction
    that reaches its first write after another writer committed cannot take the lock (its
    snapshot is stale); it wrote nothing, so the command runs once more, from the start, in
    an immediate one. On PostgreSQL both are the same ordinary transaction.
    """

    def __init__(
        self, sessions: sessionmaker[Session], settings: CoreSettings, registry: Registry
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.registry = registry
        bind = sessions.kw.get("bind")
        self.deferred = (
            make_reader_factory(bind)
            if isinstance(bind, Engine) and bind.dialect.name == "sqlite" else sessions
        )

    def handle(self, msg: Incoming, check: PlatformCheck | None = None) -> Reply:
        """Parse and run one line; ``check`` sees the resolved command before it runs."""
        parsed = self.parse(msg)
        if isinstance(parsed, Reply):
            return self.for_caller(msg, parsed)
        cmd, args = parsed
        if check is not None and (refused := check(cmd)) is not None:
            return self.for_caller(msg, refused)
        return self.run(msg, cmd, args)

    def for_caller(self, msg: Incoming, reply: Reply) -> Reply:
        """A reply made without the store (help, a bad line, a platform's refusal) in the
        language and zone of whoever typed it."""
        if not any(isinstance(b, Text | Table | Buttons) for b in reply.blocks):
            return reply
        try:
            with self.deferred() as session:
                person = person_by_identity(session, msg.platform, msg.user_id)
                reader = person_reader(person, self.settings)
        except Exception:  # the store is down: the answer still goes, in the default
            log.exception("the caller's language could not be read")
            reader = Reader(self.settings.language)
        return localized(reply, reader)

    def resolve(self, msg: Incoming) -> Command | None:
        """The command a line stands for, without running it (None: help, or not a command).

        Platform checks must look at this, never at the raw words: quotes, a second prefix,
        case and spacing all spell the same command.
        """
        parsed = self.parse(msg)
        return None if isinstance(parsed, Reply) else parsed[0]

    def names_a_command(self, text: str) -> bool:
        """Whether a line reads as a command where every line might be one (the shell): it
        starts with a platform's command sigil, or with ``help``, a command's two words, or
        a word that is a command on its own. Anything else said in a meeting is talk
        ("Meeting notes later?" included)."""
        words = text.strip().lower().split(maxsplit=2)
        if not words:
            return False
        if words[0][:1] in self.settings.platforms.sigils:
            return True
        verbs = self.registry.commands.get(words[0])
        if words[0] == "help" or (verbs is not None and len(words) == 1 and "" in verbs):
            return True
        bare = verbs.get("") if verbs is not None else None
        if bare is not None and bare.spec.params and len(words) > 1:
            return True  # a noun that is a command of its own, with its arguments
        return verbs is not None and len(words) > 1 and words[1] in verbs

    def parse(self, msg: Incoming) -> tuple[Command, Args] | Reply:
        """The resolved command and its arguments, or the reply for a line that is none
        (help, an unknown command, a bad line). Reads no store."""
        line = self.settings.platforms.strip_sigil(msg.text.strip())
        if (problem := control_character_error(line)) is not None:
            return error_reply(problem, self._usage_of(line, msg.prefix))
        if len(line) > MAX_LINE:
            return error_reply(
                _n("That command is too long ({n} character; at most {limit}).",
                   "That command is too long ({n} characters; at most {limit}).",
                   len(line), limit=MAX_LINE),
                self._usage_of(line, msg.prefix),
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
                _("Unknown command {command}.", command=repr(tokens[0].value)),
                self._commands(msg.prefix),
            )
        verb = tokens[1].value.lower() if len(tokens) > 1 else ""
        cmd = verbs.get(verb)
        bare = verbs.get("")
        if cmd is None and bare is not None and bare.spec.params:
            # a noun that is a command of its own (``vote <P-id> <choice>``): what follows
            # is its arguments, not a verb
            return bare, Args(line, tokens[1:])
        if cmd is None:
            what = _("Unknown {command} subcommand {word}.", command=noun,
                     word=repr(tokens[1].value)) if verb else (
                _("{command} needs a subcommand.", command=noun)
            )
            return error_reply(what, self.registry.usage(noun, prefix=msg.prefix))
        return cmd, Args(line, tokens[2:])

    def run(self, msg: Incoming, cmd: Command, args: Args) -> Reply:
        if self.deferred is self.sessions:
            return self._run(self.sessions, msg, cmd, args)
        try:
            return self._run(self.deferred, msg, cmd, args, retry=True)
        except _Retry:
            return self._run(self.sessions, msg, cmd, Args(args.line, args.tokens))

    def _run(
        self, sessions: sessionmaker[Session], msg: Incoming, cmd: Command, args: Args,
        *, retry: bool = False,
    ) -> Reply:
        def guard(session: Session, now: dt.datetime) -> None:
            if cmd.guard is None:
                return
            # before anything is parsed or written: someone seen for the first time is
            # checked as they are (no roles), not created first
            known = person_by_identity(session, msg.platform, msg.user_id)
            probe = known or Person(display_name=msg.user_name or msg.user_id,
                                    is_admin=False, identities=[Identity(
                                        platform=msg.platform, external_id=msg.user_id)])
            cmd.guard(self._ctx(session, probe, msg, now), Args(args.line, args.tokens))

        def usage(err: UserError) -> str | None:
            return self.registry.usage(cmd.noun, cmd.verb, msg.prefix) if err.show_usage else None

        def failed() -> Reply:
            return apology(f"command {cmd.noun} {cmd.verb}", lambda error_id: _(
                "Sorry, something went wrong on our side (error id {error_id}). "
                "Nothing was changed; the secretariat can look it up in the log.",
                error_id=error_id))

        reply = self._unit(sessions, msg, lambda ctx: cmd.run(ctx, args), guard=guard,
                           usage=usage, failed=failed, retry=retry)
        assert reply is not None  # a handler always answers
        return reply

    def _unit(
        self, sessions: sessionmaker[Session], msg: Incoming,
        work: Callable[[Ctx], Reply | None], *,
        usage: Callable[[UserError], str | None], failed: Callable[[], Reply],
        guard: Callable[[Session, dt.datetime], None] | None = None, retry: bool = False,
    ) -> Reply | None:
        """The one unit of work, for a command and for a line a listener hears: one
        transaction; the guard, then the idempotency key, then the speaker made a person,
        the work, its posts queued as outbox rows, the key written; all or nothing."""
        session = sessions()
        reader: list[Reader] = []  # the caller's, once known: every answer is in it

        def answer(reply: Reply) -> Reply:
            return localized(reply, reader[0]) if reader else self.for_caller(msg, reply)

        try:
            with session.begin():
                now = self.settings.clock()
                if guard is not None:
                    guard(session, now)
                if msg.once is not None and kv.get(session, msg.once) is not None:
                    return answer(already_done())
                actor = ensure_person(session, msg.platform, msg.user_id, msg.user_name)
                if msg.user_zone is not None:
                    remember_profile_zone(actor, msg.user_zone)
                reader.append(person_reader(actor, self.settings))
                ctx = self._ctx(session, actor, msg, now)
                reply = work(ctx)
                # the work may have changed it (me language): the answer is in the new one;
                # an answer for the channel is in its group's language and each time's zone
                reader[0] = person_reader(actor, self.settings)
                if reply is not None and not reply.private and not reply.error \
                        and msg.channel_id is not None and ctx.channel_group is not None:
                    reader[0] = group_reader(ctx.channel_group, self.settings)
                if reply is not None and reply.posts and not reply.error:
                    reply = reply.but(queued=queue_posts(session, reply.posts, now, msg.once))
                # the key that this run happened, written last: committed with the work
                # it guards, and a command that only reads takes no write lock before it
                if msg.once is not None and not kv.claim(session, msg.once):
                    raise _Duplicate
                session.flush()
            return None if reply is None else answer(reply)
        except _Duplicate:
            return answer(already_done())
        except UserError as err:
            return answer(error_reply(err.message, usage(err)))
        except OperationalError as err:
            if retry and _lost_the_write_race(err):
                raise _Retry from err
            return answer(failed())
        except Exception:
            return answer(failed())
        finally:
            session.close()

    # --- posts that answer what was not a command -----------------------------------------

    def queue(self, posts: Sequence[Post], base: str) -> list[str]:
        """``posts`` as outbox rows in a transaction of their own (the answer to a mail,
        itself a message to send): ``base`` names what they answer, so queueing them
        again writes nothing. Returns the keys written."""
        with self.sessions.begin() as session:
            return queue_posts(session, posts, self.settings.clock(), base)

    # --- a page for the person -------------------------------------------------------------

    def view(self, msg: Incoming, look: Callable[[Ctx], T]) -> T | Reply:
        """What ``look`` builds for the person behind ``msg`` (a home page), in one
        transaction: the person is made as a command makes them, nothing else is written.
        A failure is an error Reply, as a command's is."""
        session = self.sessions()
        try:
            with session.begin():
                actor = ensure_person(session, msg.platform, msg.user_id, msg.user_name)
                return look(self._ctx(session, actor, msg, self.settings.clock()))
        except UserError as err:
            return self.for_caller(msg, error_reply(err.message, None))
        except Exception:
            return self.for_caller(msg, apology("a page", lambda error_id: _(
                "Sorry, that page could not be built (error id {error_id}).",
                error_id=error_id)))
        finally:
            session.close()

    # --- lines that are not commands ----------------------------------------------------------

    def addressed(self, line: str) -> bool:
        """Whether a listener takes the line as meant for the bot (a meeting's ``#tag``)."""
        return any(x.addressed(line.strip()) for x in self.registry.listeners)

    def listening(self, msg: Incoming) -> bool:
        """Whether some listener wants this channel line (a read that writes nothing)."""
        return self._listener_for(msg) is not None

    def hear(self, msg: Incoming) -> Reply | None:
        """An ordinary channel line, for the listener that wants it (see :class:`Listener`):
        None when no listener does, or it has nothing to say."""
        if msg.channel_id is None or not self.registry.listeners:
            return None
        line = msg.text.strip()
        addressed = [x for x in self.registry.listeners if x.addressed(line)]
        if (problem := control_character_error(msg.text)) is not None:
            return self.for_caller(msg, error_reply(problem, None)) if addressed else None
        listener = self._listener_for(msg)
        if listener is None:
            return None
        if listener in addressed and len(line) > MAX_LINE:
            # the same cap as a command line, before anything is parsed or written
            return self.for_caller(msg, error_reply(
                _n("That line is too long ({n} character; at most {limit}); nothing was "
                   "{done}.",
                   "That line is too long ({n} characters; at most {limit}); nothing was "
                   "{done}.",
                   len(line), limit=MAX_LINE, done=listener.done), None,
            ))

        def usage(err: UserError) -> str | None:
            return None if isinstance(err, Refused) else listener.usage(line)

        def failed() -> Reply:
            return apology(listener.name, lambda error_id: _(
                "Sorry, that line was not {done} (error id {error_id}); nothing was changed.",
                done=listener.done, error_id=error_id))

        return self._unit(self.sessions, msg, lambda ctx: listener.hear(ctx, msg.text),
                          usage=usage, failed=failed)

    # --- people joining and leaving ------------------------------------------------------

    def presence(self, msg: Incoming, joined: bool) -> tuple[str, ...]:
        """``msg.user_id`` joined (or left) ``msg.channel_id``: every presence watcher in
        one transaction, with the event's key (``msg.once``) written in it, so a
        redelivery finds the key and a crash before the commit leaves neither. Returns
        what changed, a line each, for the log; a failure is logged and changes nothing."""
        if msg.channel_id is None or not self.registry.presence:
            return ()
        try:
            with self.sessions.begin() as session:
                if msg.once is not None and kv.get(session, msg.once) is not None:
                    return ()
                now = self.settings.clock()
                said = tuple(line for w in self.registry.presence
                             if (line := w.changed(session, msg, joined, now)) is not None)
                if msg.once is not None and not kv.claim(session, msg.once):
                    raise _Duplicate
            return said
        except _Duplicate:
            return ()
        except Exception:
            log.exception("%s of %s:%s by %s failed", "join" if joined else "leave",
                          msg.platform, msg.channel_id, msg.user_id)
            return ()

    def _listener_for(self, msg: Incoming) -> Listener | None:
        if msg.channel_id is None or not self.registry.listeners:
            return None
        with self.deferred() as session:
            now = self.settings.clock()
            return next((x for x in self.registry.listeners if x.wants(session, msg, now)),
                        None)

    def _ctx(self, session: Session, actor: Person, msg: Incoming, now: dt.datetime) -> Ctx:
        return Ctx(session=session, actor=actor, platform=msg.platform,
                   channel_id=msg.channel_id, settings=self.settings, now=now)

    def _usage_of(self, line: str, prefix: str) -> str:
        """The usage for a line that cannot be parsed whole: its command's, read from the
        first two words only, else the list of commands."""
        words = line[:200].lower().split()[:2]
        if words and words[0] in self.registry.commands:
            verb = words[1] if len(words) > 1 else None
            if verb is not None and self.registry.find(words[0], verb) is None:
                verb = None
            return self.registry.usage(words[0], verb, prefix)
        return self._commands(prefix)

    def _commands(self, prefix: str) -> str:
        """The commands there are, for a line that names none."""
        return _("Commands: {commands}; {prefix}help shows usage.",
                 commands=", ".join(self.registry.nouns), prefix=prefix)

    def _help(self, args: list[str], prefix: str) -> Reply:
        if args:  # `help /tg` or `help !tg`: the command, as another platform spells it
            args = [self.settings.platforms.strip_sigil(args[0]), *args[1:]]
        try:
            return self.registry.help(args, prefix)
        except UserError as err:
            return error_reply(err.message, _("Usage: {usage}", usage=prefix + HELP_USAGE))


def system_context(session: Session, settings: CoreSettings) -> Ctx:
    """The context of work the bot does on its own (a scheduled composition), in the
    caller's transaction: the actor is the bot's own person row, no channel, the clock now.
    It passes no permission check a command makes; work that needs one is not run as it."""
    return Ctx(session=session, actor=system_person(session), platform=SYSTEM_PLATFORM,
               channel_id=None, settings=settings, now=settings.clock())
