"""The neutral reply model and the ports the core calls.

Handlers return these values; each platform adapter renders them (Slack Block Kit, Matrix
HTML, plain text in the shell), so a reply has the same content everywhere by construction.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol


@dataclass(frozen=True)
class Mention:
    """A person, rendered as a ping-capable mention where the platform has one."""

    person_id: int
    name: str
    # platform -> external id, so an adapter can render its own native mention
    ids: tuple[tuple[str, str], ...] = ()

    def id_on(self, platform: str) -> str | None:
        return next((ext for plat, ext in self.ids if plat == platform), None)


@dataclass(frozen=True)
class When:
    """An instant; adapters may show it in the viewer's own zone (Slack ``<!date>``)."""

    at: dt.datetime  # aware
    zone: str  # the zone whose wall time the plain fallback shows
    with_time: bool = True
    # the reader's language (handlers.core.i18n.localize sets it): one Babel has dates for
    lang: str = "en"


@dataclass(frozen=True)
class Day:
    """A calendar date with no time of day (a due date); ``form`` says how much of it is
    shown (DAY_FORMS): the whole day, a month, a day without its year..."""

    date: dt.date
    lang: str = "en"
    form: str = "day"

    def __post_init__(self) -> None:
        if self.form not in DAY_FORMS:
            raise ValueError(f"not a form of a day: {self.form!r}")


# form -> (English, as strftime writes it; the CLDR skeleton each other language writes in
# its own way: "Di., 15. Dez. 2026", "wt., 15 gru 2026", "15 de dez. de 2026")
DAY_FORMS: dict[str, tuple[str, str]] = {
    "day": ("%a %d %b %Y", "yMMMEd"),  # Mon 30 Nov 2026
    "short": ("%d %b %Y", "yMMMd"),  # 30 Nov 2026
    "weekday": ("%a %d %b", "MMMEd"),  # Mon 30 Nov
    "daymonth": ("%d %b", "MMMd"),  # 30 Nov
    "month": ("%B %Y", "yMMMM"),  # November 2026
    "mon": ("%b %Y", "yMMM"),  # Nov 2026
}


@dataclass(frozen=True)
class Link:
    url: str
    label: str = ""


Span = str | Mention | When | Day | Link


@dataclass(frozen=True)
class Text:
    """A paragraph of spans. ``style`` hints: plain, heading, quote, code."""

    spans: tuple[Span, ...]
    style: str = "plain"


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[tuple[Span, ...], ...], ...]


@dataclass(frozen=True)
class Button:
    """An interactive button; ``command`` is the command line it stands for."""

    label: str
    command: str
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]
    # the reader's language, for what a platform writes around them (mail: "reply with")
    lang: str = "en"


@dataclass(frozen=True)
class File:
    name: str
    mime: str
    content: bytes
    title: str = ""
    lang: str = "en"  # the reader's, as Buttons'


@dataclass(frozen=True)
class Topic:
    """What a message is about, for a platform that threads by headers and takes short
    replies (mail): ``decision:12``, ``action:7``, ``meeting:3:2026-12-08``. Chat shows
    nothing of it. ``reply_to`` names the message an answer answers (a mail's own
    Message-ID, checked by the mail adapter before it is put here)."""

    name: str = ""
    reply_to: str = ""
    # the command that stops messages like this one (a digest: ``me digest off``), for a
    # platform with a way to unsubscribe (mail's List-Unsubscribe)
    stop: str = ""

    def __post_init__(self) -> None:
        if self.name and not TOPIC.fullmatch(self.name):
            raise ValueError(f"not a topic: {self.name!r}")
        if not (self.stop.isascii() and self.stop.isprintable() and len(self.stop) <= 80):
            raise ValueError(f"not a command to stop with: {self.stop!r}")

    @property
    def kind(self) -> str:
        return self.name.partition(":")[0]

    @property
    def ref(self) -> str:
        return self.name.partition(":")[2]


# a feature's word, then ids: lower-case letters, digits and dashes, colon-separated
TOPIC = re.compile(r"[a-z][a-z_]{0,31}(?::[A-Za-z0-9-]{1,40}){1,4}", re.ASCII)


def topic(kind: str, *ids: object) -> Topic:
    return Topic(":".join([kind, *(str(i) for i in ids)]))


@dataclass(frozen=True)
class Invite:
    """A calendar invitation (an iTIP object, RFC 5546: ``method`` REQUEST or CANCEL) for a
    platform that carries them (mail: the accept and decline buttons of a calendar
    client); chat shows nothing of it. ORGANIZER and ATTENDEE are the platform's to add."""

    method: str
    calendar: str


Block = Text | Table | Buttons | File | Topic | Invite


def shown(blocks: Sequence[Block]) -> list[Text | Table | Buttons | File]:
    """The blocks a reader sees: every renderer starts here (a Topic or an Invite is for
    the platform's headers and parts, not its body)."""
    return [b for b in blocks if not isinstance(b, Topic | Invite)]


def invite_of(blocks: Sequence[Block]) -> Invite | None:
    return next((b for b in blocks if isinstance(b, Invite)), None)


def topic_of(blocks: Sequence[Block]) -> Topic | None:
    return next((b for b in blocks if isinstance(b, Topic)), None)


DM_PREFIX = "dm:"


@dataclass(frozen=True)
class ChannelRef:
    """A channel or room; ``dm:<user id>`` names a direct message to that user."""

    platform: str
    channel_id: str

    @classmethod
    def direct(cls, platform: str, user_id: str) -> ChannelRef:
        return cls(platform, DM_PREFIX + user_id)

    @property
    def direct_user(self) -> str | None:
        """The user a direct message goes to, or None for a channel."""
        if self.channel_id.startswith(DM_PREFIX):
            return self.channel_id[len(DM_PREFIX):]
        return None


@dataclass(frozen=True)
class Post:
    """A message for every channel bound to a group, outside the reply to the caller."""

    group_slug: str
    group_name: str
    channels: Sequence[ChannelRef]
    blocks: Sequence[Block]

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "blocks", tuple(self.blocks))


@dataclass(frozen=True)
class Reply:
    """What a command answers: immutable, so what the router committed (its posts, the
    keys it queued) is what every adapter renders; each builder returns a new reply.

    A call whose result is dropped (``reply.say(...)`` as a statement) would lose its
    text, so ``tests/handlers/test_reply_model.py`` reads the code for one.
    """

    blocks: Sequence[Block] = ()
    posts: Sequence[Post] = ()
    # True: only the person who typed the command sees it (Slack ephemeral).
    private: bool = True
    error: bool = False
    # True: it holds a key (a link with a token) or staff-only data, so it must reach the
    # person directly on every platform, never a shared room, even where the platform has
    # no ephemeral messages (Matrix): there the room gets a one-line pointer.
    secret: bool = False
    # True: the run's idempotency key (``Incoming.once``) was written already, so nothing
    # was done; an adapter that answers replays silently drops it
    duplicate: bool = False
    # the outbox keys the router wrote for ``posts`` in the command's own transaction: the
    # adapter sends them at once (DeliveryEngine.deliver), any later tick if it could not
    queued: Sequence[str] = ()
    # the language it was said in (handlers.core.i18n.localized sets it): what an adapter
    # adds of its own (a pointer to a direct chat) is said in it too
    lang: str = "en"

    def __post_init__(self) -> None:
        for name in ("blocks", "posts", "queued"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def add(self, *blocks: Block) -> Reply:
        return replace(self, blocks=(*self.blocks, *blocks))

    def say(self, *spans: Span, style: str = "plain") -> Reply:
        return self.add(Text(tuple(spans), style))

    def post(self, *posts: Post) -> Reply:
        return replace(self, posts=(*self.posts, *posts))

    def but(self, *, blocks: Sequence[Block] | None = None, private: bool | None = None,
            queued: Sequence[str] | None = None, duplicate: bool | None = None) -> Reply:
        """The same reply with some of its parts changed (what the router and adapters
        may change: the text shown, who sees it, the keys queued, a replay)."""
        return replace(
            self,
            blocks=self.blocks if blocks is None else tuple(blocks),
            private=self.private if private is None else private,
            queued=self.queued if queued is None else tuple(queued),
            duplicate=self.duplicate if duplicate is None else duplicate,
        )

    @property
    def confidential(self) -> bool:
        """For the person's direct chat only: a secret, or a private reply with an export
        (a file). Errors never are: they carry what was typed, not what was stored."""
        if self.error:
            return False
        return self.secret or (self.private and any(isinstance(b, File) for b in self.blocks))


def text(*spans: Span, style: str = "plain") -> Text:
    return Text(tuple(spans), style)


def at_name(name: str) -> str:
    """A person's name as text, with one "@": a person seen only by an id written with its
    own (a Matrix id, when the platform gave no display name) keeps the one it has."""
    return name if name.startswith("@") else f"@{name}"


def plain_of(span: Span) -> str:
    """Plain-text fallback of one span (the shell's rendering, and for CSV cells)."""
    if isinstance(span, str):
        return span
    if isinstance(span, Mention):
        return at_name(span.name)
    if isinstance(span, When):
        from zoneinfo import ZoneInfo

        local = span.at.astimezone(ZoneInfo(span.zone))
        if span.lang != "en":
            return _babel_when(local, span.with_time, span.lang, span.zone)
        if span.with_time:
            return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or span.zone)
        return local.strftime("%a %d %b %Y")
    if isinstance(span, Day):
        return day_text(span.date, span.lang, span.form)
    if span.label and span.label != span.url:
        return f"{span.label} <{span.url}>"
    return span.url


@functools.lru_cache(maxsize=4096)
def day_text(day: dt.date, lang: str = "en", form: str = "day") -> str:
    """``Mon 30 Nov 2026`` (``lun. 30 nov. 2026``); cached, as a list shows the same few due
    dates many times."""
    english, skeleton = DAY_FORMS[form]
    if lang == "en":
        return day.strftime(english)
    from babel.dates import format_skeleton

    return format_skeleton(skeleton, day, locale=lang)


def _babel_when(local: dt.datetime, with_time: bool, lang: str, zone: str) -> str:
    from babel.dates import format_time

    day = day_text(local.date(), lang)
    if not with_time:
        return day
    return f"{day} {format_time(local.time(), 'HH:mm', locale=lang)} " + (
        local.tzname() or zone)


def plain_spans(spans: tuple[Span, ...]) -> str:
    return "".join(plain_of(s) for s in spans)


class ChannelPort(Protocol):
    """What the core needs to reach a channel; ``bot/`` implements it per platform."""

    def send(self, channel: ChannelRef, blocks: list[Block], key: str | None = None) -> str:
        """Post ``blocks``; returns the platform's message id. ``key`` allows idempotence."""
        ...


class PersonPort(Protocol):
    def send_direct(self, platform: str, user_id: str, blocks: list[Block],
                    key: str | None = None) -> str:
        ...
