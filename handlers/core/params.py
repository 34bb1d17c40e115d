"""Typed argument specs: a command declares its parameters once, as values.

The usage line that ``help``, every error reply, the chat clients' command menus and the
Slack manifest show is generated from the declaration, and the handler receives the parsed
values, typed: ``values[GROUP]`` is a :class:`~storage.models.Group`, never a token to read
and check again. A parameter is its usage fragment plus the parser that reads it, so a
grammar too particular for the common parameters (a meeting's recurrence rule, a list's
filters) is still declared in one place and read in one place.

Parsing follows the line's shape: trailing ``keyword <value>`` options are peeled off the
right end first, each only when its value parses (so "report due to the weather" stays
text); the leading parameters are then read left to right; the free text takes what is
left; and anything left over after that is reported as unexpected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from handlers.core.context import Ctx
from handlers.core.directory import group_or_channel, optional_group, take_group
from handlers.core.grammar import Args, UserError, check_length, parse_id
from handlers.core.i18n import _
from handlers.core.people import resolve_people, resolve_person
from storage.models import Group, Person

T = TypeVar("T")
U = TypeVar("U")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, eq=False)
class Param(Generic[T_co]):
    """One declared parameter: how it is written in the usage, and how it is read.

    ``read`` takes the value from the cursor (a leading or a free-text parameter);
    an option (``keyword`` set) is instead given its words by the trailing-option peeler
    and read by ``read_words``. ``rest`` marks the free text: it takes the words left
    between the leading parameters and the options."""

    usage: str
    read: Callable[[Ctx, Args], T_co] | None = None
    keyword: str | None = None
    read_words: Callable[[Ctx, list[str]], T_co] | None = None
    rest: bool = False
    # the group the command is about, for a chair-level permission check that runs before
    # the rest of the line is parsed (handlers.core.roles.Policy)
    names_group: bool = False


class Values:
    """A command's parsed arguments, looked up by their declarations (typed)."""

    def __init__(self, found: dict[Param[object], object]) -> None:
        self._found = found

    def __getitem__(self, param: Param[T]) -> T:
        return cast(T, self._found[param])


@dataclass(frozen=True)
class Spec:
    """A command's parameters in the order the usage shows them."""

    params: tuple[Param[object], ...] = field(default_factory=tuple)

    @property
    def usage(self) -> str:
        return " ".join(p.usage for p in self.params if p.usage)

    @property
    def group_param(self) -> Param[object] | None:
        """The leading parameter that names the command's group, if it is the first."""
        first = self.params[0] if self.params else None
        return first if first is not None and first.names_group else None

    def parse(self, ctx: Ctx, args: Args) -> Values:
        found: dict[Param[object], object] = {}
        options = [p for p in self.params if p.keyword is not None]
        leading = [p for p in self.params if p.keyword is None and not p.rest]
        rest = [p for p in self.params if p.rest]
        if options:
            parsers: dict[str, Callable[[list[str]], object]] = {}
            for o in options:
                assert o.keyword is not None and o.read_words is not None
                parsers[o.keyword] = _bind(o.read_words, ctx)
            end, taken = args.take_trailing_options(parsers)
            for o in options:
                assert o.keyword is not None
                found[o] = taken.get(o.keyword)
            args.tokens = args.tokens[:end]
        for p in leading:
            assert p.read is not None
            found[p] = p.read(ctx, args)
        for p in rest:
            assert p.read is not None
            found[p] = p.read(ctx, args)
        args.done()
        return Values(found)


def _bind(read: Callable[[Ctx, list[str]], T], ctx: Ctx) -> Callable[[list[str]], T]:
    return lambda words: read(ctx, words)


def spec(*params: Param[object]) -> Spec:
    return Spec(params)


# --- the common parameters ------------------------------------------------------------------


def group(usage: str = "<group>") -> Param[Group]:
    """A group named by its id or full name (the longest run of words that names one)."""
    def read(ctx: Ctx, args: Args) -> Group:
        found = take_group(ctx, args)
        assert found is not None  # take_group reports a missing or unknown group
        return found
    return Param(usage, read, names_group=True)


def group_or_here(usage: str = "[<group>]", *, more: bool = False) -> Param[Group]:
    """A group if the next words name one, else the channel's group (one line saying so
    when the channel is linked to none). A word left that names no group is reported as an
    unknown group, unless ``more`` parameters follow (then it is theirs)."""
    def read(ctx: Ctx, args: Args) -> Group:
        named = (take_group(ctx, args, optional=True) if more
                 else optional_group(ctx, args))
        return group_or_channel(ctx, named)
    return Param(usage, read, names_group=True)


def maybe_group(usage: str = "[<group>]", *, more: bool = False) -> Param[Group | None]:
    """A group if the next words name one, else None; a word left that names no group is
    reported as an unknown group, unless ``more`` parameters follow (then it is theirs)."""
    if more:
        return Param(usage, lambda ctx, args: take_group(ctx, args, optional=True),
                     names_group=True)
    return Param(usage, optional_group, names_group=True)


def person(usage: str = "<@user>", *, create: bool = False) -> Param[Person]:
    """One person, mentioned or named (``create``: a name never seen is brought in)."""
    what = usage.strip("[]")
    return Param(usage, lambda ctx, args: resolve_person(ctx, args.next(what), create=create))


def people(usage: str = "<@user> ...") -> Param[list[Person]]:
    """One or more people: every word left."""
    def read(ctx: Ctx, args: Args) -> list[Person]:
        raws = args.remaining()
        if not raws:
            raise UserError(_("Missing {what}.", what="<@user>"))
        args.pos = len(args.tokens)
        return resolve_people(ctx, raws)
    return Param(usage, read, rest=True)


def words(usage: str, *, missing: str | None = None) -> Param[list[str]]:
    """The words left, as typed, for a parser that needs what the other parameters found
    (a date read in the zone of the group named before it); ``missing``: the message when
    there are none (else none is fine)."""
    def read(_ctx: Ctx, args: Args) -> list[str]:
        found = args.remaining()
        if not found and missing is not None:
            raise UserError(missing)
        args.pos = len(args.tokens)
        return found
    return Param(usage, read, rest=True)


def word(usage: str, what: str | None = None) -> Param[str]:
    """One word, as typed (its meaning is the handler's: a slug still to be created)."""
    return Param(usage, lambda _ctx, args: args.next(what or usage))


def choice(*words: str, optional: bool = True) -> Param[str | None]:
    """One of ``words`` (any case), or None when it is optional and not written."""
    usage = "|".join(words)
    if optional:
        usage = f"[{usage}]"

    def read(_ctx: Ctx, args: Args) -> str | None:
        got = args.accept(*words)
        if got is None and not optional:
            raw = args.peek()
            if raw is None:
                raise UserError(_("Expected {choices}.", choices=either(words)))
            raise UserError(_("Expected {choices}, not {word}.", choices=either(words),
                              word=repr(raw)))
        return got
    return Param(usage, read)


def either(words: Sequence[str]) -> str:
    """``a or b or c``: the words (typed as they are) as one choice among them."""
    found: str = words[0] if words else ""
    for w in words[1:]:
        # TRANSLATORS: a choice between words to type, like "open or closed".
        found = _("{choices} or {word}", choices=found, word=w)
    return found


def ident(prefix: str, what: str, usage: str = "<id>") -> Param[int]:
    """A record's number, written ``D-12``, ``d12`` or ``12`` for prefix ``D``."""
    return Param(usage, lambda _ctx, args: parse_id(args.next(usage), prefix, what))


def text(usage: str, limit: int, what: str, *, required: bool = True,
         missing: str | None = None) -> Param[str]:
    """Free text, exactly as typed (quotes and spacing kept), at most ``limit`` long."""
    def read(_ctx: Ctx, args: Args) -> str:
        raw = args.rest_text(missing or usage, required=required)
        return check_length(raw, limit, what)
    return Param(usage, read, rest=True)


def option(keyword: str, value_usage: str,
           read_words: Callable[[Ctx, list[str]], T]) -> Param[T | None]:
    """A trailing ``keyword <value>`` option (None when not written), taken off the end
    of the line only when its value parses."""
    return Param(f"[{keyword} {value_usage}]", keyword=keyword, read_words=read_words)


def custom(usage: str, read: Callable[[Ctx, Args], T], *, rest: bool = True) -> Param[T]:
    """A parameter with a grammar of its own, read by the feature's parser from the words
    left (``rest``) or, as a leading parameter, from the cursor."""
    return Param(usage, read, rest=rest)


def words_as(read: Callable[[Sequence[str]], U]) -> Callable[[Ctx, list[str]], U]:
    """An option's parser that needs no context."""
    return lambda _ctx, words: read(words)
