"""Signed web links: the per-store secret, each person's revocable link key, and the
checks a dashboard or calendar-feed request passes before anything is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings, Ctx
from handlers.core.grammar import ascii_int
from handlers.core.i18n import _
from handlers.core.messages import (
    Link,
    Reply,
    Span,
)
from handlers.core.roles import is_member, staff
from storage import kv
from storage.models import (
    Group,
    LinkKey,
    Membership,
    Person,
)

SECRET_KEY = "web:secret"
TOKEN_HEX = 32
DASHBOARD_PATH = "/dashboard"


def web_secret(session: Session, *, create: bool = False) -> bytes | None:
    """The key every link is signed with, kept in the store so all processes share it and
    it survives restarts; made on first use by a command that hands out a link."""
    value = kv.get(session, SECRET_KEY)
    if value is None and create:
        value = secrets.token_hex(32)
        kv.put(session, SECRET_KEY, value)
        session.flush()
    return bytes.fromhex(value) if value else None


def sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def link_key(session: Session, person_id: int, now: dt.datetime, *,
             create: bool = False) -> str | None:
    """The person's key for their links, made on first use by a command that hands one out."""
    key = session.get(LinkKey, person_id)
    if key is None and create:
        key = LinkKey(person_id=person_id, token=secrets.token_hex(TOKEN_HEX // 2),
                      created_at=now)
        session.add(key)
        session.flush()
    return None if key is None else key.token


def reset_link_key(session: Session, person_id: int, now: dt.datetime) -> str:
    """A new key for the person: every feed and dashboard link made with the old one stops
    working at once."""
    key = session.get(LinkKey, person_id)
    if key is None:
        return link_key(session, person_id, now, create=True) or ""
    key.token = secrets.token_hex(TOKEN_HEX // 2)
    key.created_at = now
    session.flush()
    return key.token


def same_token(expected: str, given: str) -> bool:
    """A constant-time comparison that is False, not a TypeError, for non-ASCII input."""
    return given.isascii() and hmac.compare_digest(expected, given)


_TOKEN_SHAPE = re.compile(rf"[0-9a-f]{{{TOKEN_HEX}}}", re.ASCII)


def malformed_link(params: dict[str, str]) -> str | None:
    """Why a link's parameters cannot be ones the bot made (the web answers 400), or None.
    A parameter that is absent is no shape error: the link is then refused (403)."""
    for name, problem in (
        ("exp", _("This link is not valid: its expiry is not a number.")),
        ("who", _("This link is not valid: its holder is not a number.")),
    ):
        value = params.get(name, "")
        if value and ascii_int(value) is None:
            return problem
    for name in ("sig", "token"):
        value = params.get(name, "")
        if value and not _TOKEN_SHAPE.fullmatch(value):
            # TRANSLATORS: {name} is a parameter of the link (sig, token), as it is written
            return _("This link is not valid: its {name} is not {n} hex digits.", name=name,
                     n=TOKEN_HEX)
    return None


ROW_ID_MAX = 2**31 - 1  # PostgreSQL's integer: a larger id in a query would be an error


def row_id(raw: str) -> int | None:
    """A row id from a link or a filter: ASCII digits, within the column's range."""
    n = ascii_int(raw, 10)
    return n if n is not None and 0 < n <= ROW_ID_MAX else None


def _holder_ctx(session: Session, settings: CoreSettings, now: dt.datetime,
                person: Person) -> Ctx:
    """The link's holder as the actor, so the role checks of the commands apply as they are
    now, not as they were when the link was made."""
    return Ctx(session=session, actor=person, platform="web", channel_id=None,
               settings=settings, now=now)


_HOLDER_OF = select(Person).join(LinkKey, LinkKey.person_id == Person.id)


def feed_holder(session: Session, settings: CoreSettings, now: dt.datetime,
                token: str) -> Ctx | None:
    """The person whose key ``token`` is (as a context for role checks), or None."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    person = session.scalar(_HOLDER_OF.where(LinkKey.token == token))
    return None if person is None else _holder_ctx(session, settings, now, person)


def may_read_feed(ctx: Ctx, group: Group | None) -> bool:
    """``meeting feed``'s rule, checked on every fetch: a member of the group (any group for
    ``all``, None) or the secretariat or an admin."""
    if staff(ctx):
        return True
    if group is None:
        return ctx.session.scalar(select(Membership.id).where(
            Membership.person_id == ctx.actor.id).limit(1)) is not None
    return is_member(ctx, group)


def feed_groups(ctx: Ctx) -> list[Group]:
    """The groups in the holder's ``all`` feed: every group for the secretariat and admins,
    else the groups they are a member of (those whose own feed they may read)."""
    stmt = select(Group).order_by(Group.id)
    if not staff(ctx):
        stmt = stmt.join(Membership, Membership.group_id == Group.id).where(
            Membership.person_id == ctx.actor.id)
    return list(ctx.session.scalars(stmt))


def feed_path(key: str, feed: str) -> str:
    return f"/calendar/{feed}.ics?token={key}"


def dashboard_signature(secret: bytes, person_id: int, key: str, expires: int) -> str:
    """Signed over the holder and their key: a new key revokes the link, and the link
    does not reveal the key."""
    return sign(secret, f"dashboard:{person_id}:{key}:{expires}")


def dashboard_path(secret: bytes, person_id: int, key: str, expires: int) -> str:
    query = urlencode({"exp": expires, "who": person_id,
                       "sig": dashboard_signature(secret, person_id, key, expires)})
    return f"{DASHBOARD_PATH}?{query}"


def check_dashboard(session: Session, settings: CoreSettings, query: dict[str, str],
                    now: dt.datetime) -> str | None:
    """None when the link is good and its holder is the secretariat or an admin now, else
    why it is refused."""
    secret = web_secret(session)
    expires, who = ascii_int(query.get("exp", "")), row_id(query.get("who", ""))
    if secret is None or expires is None or who is None:
        return _("This link is not valid.")
    person = session.get(Person, who)
    key = None if person is None else link_key(session, who, now)
    if person is None or key is None or not same_token(
            dashboard_signature(secret, who, key, expires), query.get("sig", "")):
        return _("This link is not valid.")
    if expires <= int(now.timestamp()):
        return _("This link has expired: ask for a new one with `secretariat dashboard`.")
    if not staff(_holder_ctx(session, settings, now, person)):
        return _("This link is no longer valid: its holder is not the secretariat or an "
                 "admin.")
    return None


def absolute(settings: CoreSettings, path: str) -> str:
    """A link people can open: the public URL of ``taskbot run`` when it is set."""
    base = settings.public_url.rstrip("/")
    return base + path if base else path


def web_link(settings: CoreSettings, path: str, label: str = "") -> Span:
    """What a reply shows for one of the bot's web pages: a link with the host when the
    public URL is set, else the bare path (with ``NO_WEB_ADDRESS`` said once beside it)."""
    url = absolute(settings, path)
    return Link(url, label) if url.startswith(("http://", "https://")) else url


NO_WEB_ADDRESS = _(
    "The bot's web address is not set, so this is only the path: an admin sets "
    "TASKBOT_PUBLIC_URL (like https://taskbot.example.org) to the address where taskbot run "
    "serves PORT, and the links then start with it; until then, put that address in front "
    "of the path yourself."
)


def say_web_hint(reply: Reply, settings: CoreSettings) -> Reply:
    """The hint for links without a host, when the public URL is not set."""
    if not settings.public_url:
        reply = reply.say(NO_WEB_ADDRESS)
    return reply
