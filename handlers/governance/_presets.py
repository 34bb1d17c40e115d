"""Governance as code: make groups, channels, roles and meeting series match a declaration.

The declaration is plain data (``bot/governance.py`` reads it from TOML). The whole of it is
validated before anything is written, and the writes run in a savepoint, so an invalid
entry leaves the store untouched. Applying the same data twice changes nothing the second
time. Nothing absent from the data is removed: groups, channels and members not listed
are left as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.checkins import (
    DEFAULT_BLOCKERS,
    QUESTIONS_MAX,
    configured,
    store_questions,
)
from handlers.core.context import CoreSettings
from handlers.core.directory import ensure_person, find_identity, membership
from handlers.core.grammar import UserError
from handlers.core.i18n import Msg, _, _n
from handlers.core.mentions import MentionRules
from handlers.core.roles import ROLE_GROUPS
from storage import kv
from storage.models import (
    JOIN_POLICIES,
    NAME_MAX,
    PROJECT_MAX,
    SLUG_MAX,
    TEXT_MAX,
    TITLE_MAX,
    URL_MAX,
    AuditLog,
    Channel,
    Group,
    Membership,
    Person,
)

SLUG = re.compile(rf"^[a-z][a-z0-9-]{{1,{SLUG_MAX - 1}}}$")
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$", re.ASCII)
OFFSET = re.compile(r"^\d{1,3}[dhm]$", re.ASCII)
GROUP_KEYS = frozenset(
    {"slug", "name", "mandate", "restricted", "join", "channels", "meeting", "members"}
)
MEETING_KEYS = frozenset({"rule", "time", "timezone", "remind", "link", "duration"})
MEMBER_KEYS = frozenset({"user", "project", "role"})
TOP_KEYS = frozenset({"group", "admins", "checkin"})
CHECKIN_KEYS = frozenset({"questions", "blockers"})
DEFAULT_REMIND = "7d,1d,1h"
DEFAULT_DURATION = 60


# In the specs, None means "the file leaves this out": what is stored is kept, and only
# something the file creates gets the default.


@dataclass(frozen=True)
class MeetingSpec:
    rule: str
    start_time: dt.time
    timezone: str | None
    remind: str | None
    link: str | None
    duration: int | None


@dataclass(frozen=True)
class MemberSpec:
    platform: str
    external_id: str
    project: str | None
    role: str | None


@dataclass(frozen=True)
class GroupSpec:
    slug: str
    name: str | None
    mandate: str | None
    restricted: bool | None
    channels: tuple[tuple[str, str], ...]
    meeting: MeetingSpec | None
    members: tuple[MemberSpec, ...]
    join: str | None = None  # open | request | closed (handlers.groups.join_policy)


@dataclass(frozen=True)
class CheckinSpec:
    """The check-in's questions (empty: back to the default three) and which one asks
    what is blocked (1-based; 0: none)."""

    questions: tuple[str, ...]
    blockers: int


@dataclass(frozen=True)
class Plan:
    groups: tuple[GroupSpec, ...]
    admins: tuple[tuple[str, str], ...]
    checkin: CheckinSpec | None = None  # None: the file leaves the questions as they are


def _problem(where: str, what: str) -> Msg:
    # TRANSLATORS: a problem in a governance file: where it is ("group 2 (repl) meeting"),
    # then what it is
    return _("{where}: {problem}", where=where, problem=what)


def _invalid(problems: Sequence[str], more: int = 0) -> UserError:
    """The refusal of a governance file: its problems, one a line."""
    lines = [f"  - {p}" for p in problems]
    if more:
        lines.append("  " + _n("... and {n} more", "... and {n} more", more))
    return UserError(_("The governance file is invalid; nothing was changed.\n{problems}",
                       problems="\n".join(lines)), show_usage=False)


def _error(err: ValueError) -> str:
    """A check's message (a message to translate, kept as one)."""
    message = err.args[0] if err.args else ""
    return message if isinstance(message, str) else str(err)


class _Problems:
    """Collects every problem in the file, so one run reports them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(_problem(where, what))

    def raise_if_any(self) -> None:
        if self.items:
            shown = self.items[:20]
            raise _invalid(shown, len(self.items) - len(shown))


def parse_ref(raw: object, what: str, rules: MentionRules) -> tuple[str, str]:
    """``platform:id`` as used for channels and users (an id keeps its own colons); the
    platforms are those the adapters registered."""
    platforms = rules.platforms
    if not isinstance(raw, str) or ":" not in raw:
        raise ValueError(_("{key} {value} must be a string like '<platform>:<id>' "
                           "(platform one of {platforms})",
                           key=what, value=repr(raw), platforms=", ".join(platforms)))
    platform, _sep, ident = raw.partition(":")
    platform = platform.strip().lower()
    ident = ident.strip()
    if platform not in platforms:
        raise ValueError(_("{key} {value}: platform must be one of {platforms}",
                           key=what, value=repr(raw), platforms=", ".join(platforms)))
    if not ident or len(ident) > 255:
        raise ValueError(_("{key} {value} has no id after the platform",
                           key=what, value=repr(raw)))
    return platform, ident


def _user_ref(raw: object, rules: MentionRules) -> tuple[str, str]:
    """A person: where people are typed names (a local syntax), ``@ann`` is ``ann``, as in
    chat; a platform's own ids are kept exactly."""
    platform, ident = parse_ref(raw, "user", rules)
    syntax = rules.own(platform)
    if syntax is not None and syntax.local:
        ident = syntax.read(ident, bare=True) or ident
    return platform, ident


def _string(
    problems: _Problems, where: str, table: Mapping[str, Any], key: str, limit: int,
    *, required: bool = False, default: str | None = None,
) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            problems.add(where, _("{key} is required", key=key))
        return default
    if not isinstance(value, str):
        problems.add(where, _("{key} must be a string, not {type}", key=key,
                              type=type(value).__name__))
        return default
    value = value.strip()
    if required and not value:
        problems.add(where, _("{key} must not be empty", key=key))
    if len(value) > limit:
        problems.add(where, _n("{key} is too long ({n} characters; at most {limit})",
                               "{key} is too long ({n} characters; at most {limit})",
                               len(value), key=key, limit=limit))
    return value


def _unknown_keys(problems: _Problems, where: str, table: Mapping[str, Any],
                  allowed: frozenset[str]) -> None:
    for key in table:
        if key not in allowed:
            problems.add(where, _("unknown key {key} (allowed: {keys})", key=repr(key),
                                  keys=", ".join(sorted(allowed))))


def parse_offsets(raw: str) -> list[str]:
    parts = [p.strip().lower() for p in raw.split(",") if p.strip()]
    if not parts or any(not OFFSET.match(p) for p in parts):
        raise ValueError(_("remind {value} must be offsets like '7d,1d,1h' (d, h or m)",
                           value=repr(raw)))
    return parts


def _meeting(problems: _Problems, where: str, raw: object) -> MeetingSpec | None:
    # TRANSLATORS: a place in a governance file: a group's meeting ("group 2 (repl) meeting")
    where = _("{where} meeting", where=where)
    if not isinstance(raw, Mapping):
        problems.add(where, _("must be a table ([group.meeting])"))
        return None
    _unknown_keys(problems, where, raw, MEETING_KEYS)
    rule = _string(problems, where, raw, "rule", 200, required=True) or ""
    time_raw = raw.get("time")
    start: dt.time | None = None
    if isinstance(time_raw, dt.time):
        start = time_raw.replace(second=0, microsecond=0)
    elif isinstance(time_raw, str) and (m := TIME.match(time_raw.strip())):
        start = dt.time(int(m.group(1)), int(m.group(2)))
    else:
        problems.add(where, _("time {value} must be HH:MM (like '10:00')",
                              value=repr(time_raw)))
    zone = _string(problems, where, raw, "timezone", 64)
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(where, _("timezone {value} is not a time zone (like Europe/Brussels)",
                                  value=repr(zone)))
    remind_raw = raw.get("remind")
    if isinstance(remind_raw, list) and all(isinstance(x, str) for x in remind_raw):
        remind_raw = ",".join(remind_raw)
    remind: str | None = None
    if remind_raw is None:
        pass
    elif not isinstance(remind_raw, str):
        problems.add(where, _("remind must be a string like '7d,1d,1h'"))
    else:
        try:
            remind = ",".join(parse_offsets(remind_raw))
        except ValueError as err:
            problems.add(where, _error(err))
    # an empty link clears it (said on purpose); a missing one keeps it
    link = _string(problems, where, raw, "link", URL_MAX)
    if link and not re.match(r"^https?://\S+$", link):
        problems.add(where, _("link {value} must be an http(s) URL", value=repr(link)))
    duration = raw.get("duration")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 1440
    ):
        problems.add(where, _("duration {value} must be minutes, 1 to 1440",
                              value=repr(duration)))
        duration = None
    if start is None:
        return None
    return MeetingSpec(rule, start, zone, remind, link, duration)


def _members(problems: _Problems, where: str, raw: object,
             rules: MentionRules) -> tuple[MemberSpec, ...]:
    if not isinstance(raw, list):
        problems.add(where, _("members must be a list of "
                              "{{ user = ..., project = ..., role = ... }}"))
        return ()
    out: list[MemberSpec] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(raw, 1):
        # TRANSLATORS: a place in a governance file: a group's member ("group 2 member 3")
        here = _("{where} member {index}", where=where, index=i)
        if not isinstance(entry, Mapping):
            problems.add(here, _("must be a table like {{ user = \"<platform>:<id>\" }}"))
            continue
        _unknown_keys(problems, here, entry, MEMBER_KEYS)
        try:
            platform, ident = _user_ref(entry.get("user"), rules)
        except ValueError as err:
            problems.add(here, _error(err))
            continue
        if (platform, ident) in seen:
            user = f"{platform}:{ident}"
            problems.add(here, _("{user} is listed twice", user=user))
        seen.add((platform, ident))
        project = _string(problems, here, entry, "project", PROJECT_MAX) or None
        role = entry.get("role")
        if role is not None and role not in ("chair", "member"):
            problems.add(here, _("role must be chair or member, not {value}",
                                 value=repr(role)))
            role = None
        out.append(MemberSpec(platform, ident, project, role))
    return tuple(out)


def parse_governance(data: Mapping[str, Any], rules: MentionRules) -> Plan:
    """Validate the whole declaration; raise one UserError listing every problem."""
    problems = _Problems()
    # TRANSLATORS: a place in a governance file: the file as a whole
    whole = _("file")
    _unknown_keys(problems, whole, data, TOP_KEYS)
    raw_groups = data.get("group", [])
    if not isinstance(raw_groups, list):
        problems.add(whole, _("group must be an array of tables ([[group]])"))
        raw_groups = []
    groups: list[GroupSpec] = []
    slugs: set[str] = set()
    names: set[str] = set()
    channels: dict[tuple[str, str], str] = {}
    for index, raw in enumerate(raw_groups, 1):
        # TRANSLATORS: a place in a governance file: its n-th [[group]]
        where = _("group {index}", index=index)
        if not isinstance(raw, Mapping):
            problems.add(where, _("must be a table"))
            continue
        slug = _string(problems, where, raw, "slug", SLUG_MAX, required=True) or ""
        if slug:
            # TRANSLATORS: a place in a governance file: its n-th [[group]], and its slug
            where = _("group {index} ({slug})", index=index, slug=slug)
            if not SLUG.match(slug):
                problems.add(where, _("slug {value} must be lowercase letters, digits and "
                                      "'-', starting with a letter", value=repr(slug)))
            if slug in slugs:
                problems.add(where, _("slug {value} is listed twice", value=repr(slug)))
            slugs.add(slug)
        _unknown_keys(problems, where, raw, GROUP_KEYS)
        # a name is needed to create a group (checked against the store); an existing
        # group keeps its own when the file leaves it out
        name = _string(problems, where, raw, "name", NAME_MAX)
        if name is not None and not name:
            problems.add(where, _("{key} must not be empty", key="name"))
        if name is not None and name.lower() in names:
            problems.add(where, _("name {value} is listed twice", value=repr(name)))
        if name is not None:
            names.add(name.lower())
        mandate = _string(problems, where, raw, "mandate", TEXT_MAX)
        restricted = raw.get("restricted")
        if restricted is not None and not isinstance(restricted, bool):
            problems.add(where, _("restricted must be true or false"))
            restricted = None
        if restricted is False and slug in ROLE_GROUPS:
            problems.add(where, _("{group} is always restricted: its membership is a role, "
                                  "given only by adding people", group=slug))
        join = raw.get("join")
        if join is not None and join not in JOIN_POLICIES:
            problems.add(where, _("join must be {values}, not {value}",
                                  values=", ".join(JOIN_POLICIES), value=repr(join)))
            join = None
        if join is not None and join != "closed" and slug in ROLE_GROUPS:
            problems.add(where, _("{group} is always closed: its membership is a role, "
                                  "given only by adding people", group=slug))
        if (restricted is True and join in ("open", "request")) or (
                restricted is False and join == "closed"):
            problems.add(where, _("restricted = {restricted} contradicts join = {join} "
                                  "(restricted = true is join = \"closed\")",
                                  restricted=str(restricted).lower(), join=repr(join)))
        refs: list[tuple[str, str]] = []
        raw_channels = raw.get("channels", [])
        if not isinstance(raw_channels, list):
            problems.add(where, _("channels must be a list of 'platform:id' strings"))
            raw_channels = []
        for ch in raw_channels:
            try:
                ref = parse_ref(ch, "channel", rules)
            except ValueError as err:
                problems.add(where, _error(err))
                continue
            if ref in channels:
                problems.add(where, _("channel {value} is also listed for {group}",
                                      value=repr(ch), group=channels[ref]))
            channels[ref] = slug
            refs.append(ref)
        meeting = None
        if "meeting" in raw:
            meeting = _meeting(problems, where, raw["meeting"])
        members = _members(problems, where, raw.get("members", []), rules)
        groups.append(
            GroupSpec(slug, name, mandate, restricted, tuple(refs), meeting, members, join)
        )
    admins: list[tuple[str, str]] = []
    raw_admins = data.get("admins", [])
    if not isinstance(raw_admins, list):
        problems.add("admins", _("must be a list of 'platform:id' strings"))
        raw_admins = []
    for raw in raw_admins:
        try:
            admins.append(_user_ref(raw, rules))
        except ValueError as err:
            problems.add("admins", _error(err))
    checkin = _checkin(problems, data["checkin"]) if "checkin" in data else None
    problems.raise_if_any()
    return Plan(tuple(groups), tuple(admins), checkin)


def _checkin(problems: _Problems, raw: object) -> CheckinSpec | None:
    """``[checkin]``: ``questions`` (strings) and ``blockers`` (the number of the one about
    what is blocked)."""
    where = "checkin"
    if not isinstance(raw, Mapping):
        problems.add(where, _("must be a table"))
        return None
    _unknown_keys(problems, where, raw, CHECKIN_KEYS)
    questions = raw.get("questions", [])
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        problems.add(where, _("questions must be a list of strings"))
        return None
    texts = tuple(" ".join(q.split()) for q in questions)
    if len(texts) > QUESTIONS_MAX:
        problems.add(where, _("at most {n} questions", n=QUESTIONS_MAX))
    for n, text in enumerate(texts, 1):
        if not text:
            problems.add(where, _("question {n} is empty", n=n))
        elif len(text) > TITLE_MAX:
            problems.add(where, _("question {n} is longer than {limit} characters", n=n,
                                  limit=TITLE_MAX))
    blockers = raw.get("blockers", 0 if texts else DEFAULT_BLOCKERS)
    if isinstance(blockers, bool) or not isinstance(blockers, int) or not (
            0 <= blockers <= (len(texts) or 3)):
        problems.add(where, _("blockers is the number of the question about what is "
                              "blocked (0: none), at most the number of questions"))
        return None
    return CheckinSpec(texts, blockers)


def _check_against_store(session: Session, plan: Plan) -> None:
    """Conflicts with what is stored: a name or channel that belongs to another group."""
    problems = _Problems()
    for spec in plan.groups:
        # TRANSLATORS: a place in a governance file: the [[group]] of this slug
        where = _("group {slug}", slug=spec.slug)
        if spec.name is None and session.scalar(
            select(Group.id).where(Group.slug == spec.slug)
        ) is None:
            problems.add(where, _("name is required for a new group"))
        for platform, ident in spec.channels:
            bound = session.scalar(
                select(Channel).where(Channel.platform == platform, Channel.channel_id == ident)
            )
            if bound is not None and bound.group.slug != spec.slug:
                channel = f"{platform}:{ident}"
                problems.add(
                    where, _("channel {channel} is linked to group {group}; unlink it there "
                             "first", channel=channel, group=bound.group.slug)
                )
        if spec.name is None:
            continue
        other = session.scalar(
            select(Group).where(func.lower(Group.name) == spec.name.lower(),
                                Group.slug != spec.slug)
        )
        if other is not None:
            problems.add(where, _("name {value} is already used by group {group}",
                                  value=repr(spec.name), group=other.slug))
        clash = session.scalar(select(Group).where(Group.slug == spec.name.lower(),
                                                   Group.slug != spec.slug))
        if clash is not None:
            problems.add(where, _("name {value} is the slug of group {group}",
                                  value=repr(spec.name), group=clash.slug))
    problems.raise_if_any()


LAST_APPLY_KEY = "governance:applied_at"
# the last audit row an apply saw: a chat change is an audit row after it. An id, not a time:
# a fixed or stepped clock, or two writes in one second, cannot hide a change
AUDIT_MARK_KEY = "governance:audit_mark"
# chat commands whose effect a file can undo, by what they touched
GROUP_VERBS = ("rename", "update", "archive", "join_policy")


class _Writer:
    def __init__(self, session: Session, settings: CoreSettings, now: dt.datetime,
                 since: LastApply) -> None:
        self.session = session
        self.settings = settings
        self.now = now
        self.since = since
        self.today = now.astimezone(settings.zone).date()
        self.changes: list[str] = []
        # changes that would undo something done in chat since the last apply
        self.overrides: list[str] = []

    def chat_change(self, what: str, entity: str, entity_id: int, verbs: Sequence[str],
                    person: int | None = None) -> None:
        """Note ``what`` as an override when someone changed it in chat since the last
        apply (an audit row with a person as its actor), naming the last of them."""
        stmt = (select(AuditLog, Person.display_name)
                .join(Person, Person.id == AuditLog.actor_id)
                .where(AuditLog.entity == entity, AuditLog.entity_id == entity_id,
                       AuditLog.verb.in_(verbs))
                .order_by(AuditLog.at.desc(), AuditLog.id.desc()))
        if self.since.audit_mark is not None:
            stmt = stmt.where(AuditLog.id > self.since.audit_mark)
        elif self.since.at is not None:  # applied before the mark was kept
            stmt = stmt.where(AuditLog.at > self.since.at)
        for row, name in self.session.execute(stmt):
            if person is not None and (row.detail or {}).get("person") != person:
                continue
            at = f"{row.at:%Y-%m-%d %H:%M}"
            # TRANSLATORS: a change a governance file would undo ("group repl: name"), who
            # made it in chat, when, and the command's verb (rename, update, ...)
            self.overrides.append(_("{change}: changed in chat by {who} on {date} UTC ({verb})",
                                    change=what, who=name, date=at,
                                    verb=row.verb.replace("_", " ")))
            return

    def audit(self, verb: str, entity: str, entity_id: int | None, **detail: Any) -> None:
        detail["source"] = "governance"
        self.session.add(AuditLog(actor_id=None, verb=verb, entity=entity, entity_id=entity_id,
                                  detail=detail, at=self.now))

    def group(self, spec: GroupSpec) -> None:
        group = self.session.scalar(select(Group).where(Group.slug == spec.slug))
        role_group = spec.slug in ROLE_GROUPS
        if group is None:
            assert spec.name is not None  # _check_against_store
            join = "closed" if role_group or spec.restricted else (spec.join or "request")
            group = Group(slug=spec.slug, name=spec.name, mandate=spec.mandate or "",
                          restricted=join == "closed", join_policy=join,
                          created_at=self.now)
            self.session.add(group)
            self.session.flush()
            self.audit("create", "group", group.id, slug=spec.slug, name=spec.name)
            self.changes.append(_("created group {group}: {name}", group=spec.slug,
                                  name=spec.name))
        else:
            # only what the file gives; a role group is restricted whatever is stored
            wanted: dict[str, object] = {
                field: new
                for field, new in (("name", spec.name), ("mandate", spec.mandate),
                                   ("restricted", True if role_group else spec.restricted))
                if new is not None
            }
            # join and restricted (its older spelling) move together; a file that gives
            # neither leaves what chat set (tg settings ... join)
            if not role_group:
                if spec.join is not None:
                    wanted["join_policy"] = spec.join
                    wanted["restricted"] = spec.join == "closed"
                elif spec.restricted is True:
                    wanted["join_policy"] = "closed"
                elif spec.restricted is False and group.join_policy == "closed":
                    wanted["join_policy"] = "request"
            changed = [field for field, new in wanted.items() if getattr(group, field) != new]
            if changed:
                # TRANSLATORS: a group's fields a governance file changes ("group repl: name")
                self.chat_change(_("group {group}: {fields}", group=spec.slug,
                                   fields=", ".join(changed)), "group", group.id, GROUP_VERBS)
                for field in changed:
                    setattr(group, field, wanted[field])
                # named as the file spells them: join only where the file says join
                names = ["join" if f == "join_policy" else f for f in changed]
                if "restricted" in names and "join" in names:
                    names.remove("join" if spec.join is None else "restricted")
                self.audit("update", "group", group.id, fields=names)
                self.changes.append(_("updated group {group}: {fields}", group=spec.slug,
                                      fields=", ".join(names)))
        for platform, ident in spec.channels:
            self.channel(group, platform, ident)
        for member in spec.members:
            self.member(group, member)
        if spec.meeting is not None:
            self.meeting(group, spec.meeting)

    def channel(self, group: Group, platform: str, ident: str) -> None:
        bound = self.session.scalar(
            select(Channel).where(Channel.platform == platform, Channel.channel_id == ident)
        )
        if bound is not None:
            return
        self.session.add(Channel(group=group, platform=platform, channel_id=ident,
                                 created_at=self.now))
        self.session.flush()
        self.audit("link", "group", group.id, platform=platform, channel=ident)
        channel = f"{platform}:{ident}"
        self.changes.append(_("linked {channel} to {group}", channel=channel, group=group.slug))

    def person(self, platform: str, ident: str) -> Person:
        return ensure_person(self.session, platform, ident)

    def member(self, group: Group, spec: MemberSpec) -> None:
        person = self.person(spec.platform, spec.external_id)
        m = membership(self.session, group, person)
        who = f"{spec.platform}:{spec.external_id}"
        if m is None:
            role = spec.role or "member"
            self.session.add(Membership(group=group, person=person, role=role,
                                        project=spec.project, created_at=self.now))
            self.session.flush()
            self.audit("add_member", "group", group.id, person=person.id, role=role,
                       project=spec.project)
            self.changes.append(
                _("added {user} to {group} as {role}, representing {project}", user=who,
                  group=group.slug, role=role, project=spec.project) if spec.project
                else _("added {user} to {group} as {role}", user=who, group=group.slug,
                       role=role)
            )
            return
        changed = []
        if spec.role is not None and m.role != spec.role:
            m.role = spec.role
            changed.append(f"role {spec.role}")
        if spec.project is not None and m.project != spec.project:
            m.project = spec.project
            changed.append(f"project {spec.project}")
        if changed:
            # TRANSLATORS: a member's fields a governance file changes ("shell:ann in repl:
            # role chair")
            self.chat_change(_("{user} in {group}: {fields}", user=who, group=group.slug,
                               fields=", ".join(changed)), "group", group.id,
                             ("add_member",), person=person.id)
            self.audit("add_member", "group", group.id, person=person.id, role=m.role,
                       project=m.project)
            self.changes.append(_("updated {user} in {group}: {fields}", user=who,
                                  group=group.slug, fields=", ".join(changed)))

    def meeting(self, group: Group, spec: MeetingSpec) -> None:
        from handlers.meetings import upsert_series

        # what the file leaves out: the stored series' value, or the default for a new one
        old = group.series
        zone = spec.timezone or (old.timezone if old else self.settings.timezone)
        remind = spec.remind or (old.remind_offsets if old else DEFAULT_REMIND)
        link = (spec.link or None) if spec.link is not None else (old.link if old else None)
        duration = spec.duration or (old.duration_minutes if old else DEFAULT_DURATION)
        before = None if old is None else {
            "rule": old.rule_text, "time": f"{old.start_time:%H:%M}", "timezone": old.timezone,
            "remind": old.remind_offsets, "link": old.link or "none",
            "duration": str(old.duration_minutes)}
        series_id = None if old is None else old.id
        try:
            _series, changed = upsert_series(
                self.session, group,
                rule_text=spec.rule, start_time=spec.start_time, timezone=zone,
                offsets=remind, link=link, duration_minutes=duration,
                now=self.now, today=self.today,
            )
        except UserError as err:
            # the rule grammar lives with the meetings; name the entry it came from
            raise _invalid([_problem(_("{where} meeting",
                                       where=_("group {slug}", slug=group.slug)),
                                     err.message)]) from None
        if not changed:
            return
        self.audit("schedule", "group", group.id, rule=spec.rule,
                   time=spec.start_time.strftime("%H:%M"), timezone=zone)
        if before is None or series_id is None:
            self.changes.append(
                _("meeting of {group}: {rule} at {time} {zone}, reminders {offsets}",
                  group=group.slug, rule=spec.rule, time=spec.start_time.strftime("%H:%M"),
                  zone=zone, offsets=remind)
            )
            return
        after = {"rule": _series.rule_text, "time": f"{_series.start_time:%H:%M}",
                 "timezone": _series.timezone, "remind": _series.remind_offsets,
                 "link": _series.link or "none", "duration": str(_series.duration_minutes)}
        diff = ", ".join(f"{k} {before[k]} -> {after[k]}" for k in after if before[k] != after[k])
        # TRANSLATORS: a meeting series changed: what changed ("time 10:00 -> 11:00"), or
        # "restarted" when only its start moved
        what = _("meeting of {group}: {changes}", group=group.slug,
                 changes=diff or _("restarted"))
        self.chat_change(what, "meeting_series", series_id, ("schedule",))
        self.changes.append(what)

    def checkin(self, spec: CheckinSpec) -> None:
        """The questions the next check-in asks (a round open already keeps its own)."""
        now = configured(self.session)
        texts = spec.questions or None
        blockers = spec.blockers if texts else DEFAULT_BLOCKERS
        if now.texts == texts and now.blockers == blockers:
            return
        store_questions(self.session, texts, blockers)
        self.audit("checkin_questions", "kv", None, questions=list(spec.questions),
                   blockers=blockers)
        self.changes.append(
            _n("check-in: the file's {n} question", "check-in: the file's {n} questions",
               len(spec.questions)) if texts else _("check-in: the default three questions"))

    def admin(self, platform: str, ident: str) -> None:
        person = find_identity(self.session, platform, ident) or self.person(platform, ident)
        if not person.is_admin:
            person.is_admin = True
            self.audit("grant_admin", "person", person.id)
            user = f"{platform}:{ident}"
            self.changes.append(_("made {user} an admin", user=user))


@dataclass(frozen=True)
class Outcome:
    """What an apply did: its changes, and those of them that undo a change made in chat
    since the last apply (the caller refuses to commit these without ``--force``)."""

    changes: list[str]
    overrides: list[str]


@dataclass(frozen=True)
class LastApply:
    """When a governance file was last applied (aware UTC) and the last audit row it saw;
    both None if never."""

    at: dt.datetime | None
    audit_mark: int | None


def last_applied(session: Session) -> LastApply:
    at, mark = kv.get(session, LAST_APPLY_KEY), kv.get(session, AUDIT_MARK_KEY)
    when = dt.datetime.fromisoformat(at) if at else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)  # written naive UTC by earlier versions
    return LastApply(when, int(mark) if mark else None)


def apply_with_overrides(
    session: Session, settings: CoreSettings, data: Mapping[str, Any], *,
    now: dt.datetime,
) -> Outcome:
    """Make the store match ``data`` and mark the time of this apply (``now``, aware); the
    caller commits or rolls back. Raises UserError, having written nothing, if any entry
    is invalid."""
    plan = parse_governance(data, settings.mentions)
    _check_against_store(session, plan)
    writer = _Writer(session, settings, now.astimezone(dt.UTC), last_applied(session))
    with session.begin_nested():
        for spec in plan.groups:
            writer.group(spec)
        for platform, ident in plan.admins:
            writer.admin(platform, ident)
        if plan.checkin is not None:
            writer.checkin(plan.checkin)
        kv.put(session, LAST_APPLY_KEY, writer.now.isoformat())
        session.flush()
        mark = session.scalar(select(func.max(AuditLog.id)))
        kv.put(session, AUDIT_MARK_KEY, str(mark or 0))
        session.flush()
    return Outcome(writer.changes, writer.overrides)


def apply_governance(
    session: Session, settings: CoreSettings, data: Mapping[str, Any], *,
    now: dt.datetime,
) -> list[str]:
    """Make the store match ``data``; returns the changes made (empty: nothing to do).

    Raises UserError, having written nothing, if any entry is invalid.
    """
    return apply_with_overrides(session, settings, data, now=now).changes


def describe(changes: Sequence[str]) -> str:
    """The report printed after an apply."""
    if not changes:
        return _("no changes")
    return "\n".join([*changes, _n("{n} change", "{n} changes", len(changes))])


# --- export: the store as a governance file that applies with no changes ----------------------


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but DEL must be escaped too)."""
    import json

    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def _person_ref(person: Person) -> str | None:
    ident = person.identities[0] if person.identities else None
    return None if ident is None else f"{ident.platform}:{ident.external_id}"


def export_governance(session: Session) -> str:
    """Every group with its channels, members and meeting series, and the stored admins,
    as a governance file: applying it to the same store reports no changes."""
    lines = ["# Exported by `taskbot governance export`: the store as it stands.",
             "# `taskbot governance apply` on this file changes nothing until it is edited.",
             ""]
    admins = [ref for p in session.scalars(select(Person).where(Person.is_admin)
                                           .order_by(Person.id))
              if (ref := _person_ref(p)) is not None]
    if admins:
        lines += [f"admins = [{', '.join(_toml_str(a) for a in admins)}]", ""]
    questions = configured(session)
    if questions.texts is not None:
        lines += ["[checkin]", "questions = [",
                  *(f"  {_toml_str(q)}," for q in questions.texts), "]",
                  f"blockers = {questions.blockers}", ""]
    for group in session.scalars(select(Group).order_by(Group.id)):
        lines += ["[[group]]", f"slug = {_toml_str(group.slug)}",
                  f"name = {_toml_str(group.name)}",
                  f"mandate = {_toml_str(group.mandate or '')}",
                  f"join = {_toml_str(group.join_policy)}",
                  "channels = [" + ", ".join(_toml_str(f"{c.platform}:{c.channel_id}")
                                             for c in group.channels) + "]"]
        members = []
        for m in group.memberships:
            ref = _person_ref(m.person)
            if ref is None:
                continue  # a person with no account left cannot be named in a file
            entry = f"{{ user = {_toml_str(ref)}, role = {_toml_str(m.role)}"
            if m.project:
                entry += f", project = {_toml_str(m.project)}"
            members.append(f"  {entry} }},")
        lines += ["members = [", *members, "]"] if members else ["members = []"]
        series = group.series
        if series is not None:
            lines += ["", "[group.meeting]", f"rule = {_toml_str(series.rule_text)}",
                      f"time = \"{series.start_time:%H:%M}\"",
                      f"timezone = {_toml_str(series.timezone)}",
                      f"remind = {_toml_str(series.remind_offsets)}",
                      f"duration = {series.duration_minutes}"]
            if series.link:
                lines.append(f"link = {_toml_str(series.link)}")
        lines.append("")
    return "\n".join(lines)
