"""Governance as code: the preset, idempotence, updates, and invalid files writing nothing."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.governance import apply_preset, load_toml, preset_text
from handlers.core.grammar import UserError
from handlers.governance._presets import apply_governance, describe
from storage.models import AuditLog, Channel, Group, MeetingSeries, Membership
from tests.support.dialog import Bot

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)

PRESET_SLUGS = ["boc", "replication", "comms", "finance", "data", "monitoring", "secretariat"]


def apply(bot: Bot, data: dict[str, Any]) -> list[str]:
    with bot.sessions.begin() as session:
        return apply_governance(session, bot.settings, data, now=NOW)


def preset(bot: Bot) -> list[str]:
    with bot.sessions.begin() as session:
        return apply_preset(session, bot.settings)


SMALL: dict[str, Any] = {
    "admins": ["shell:ann"],
    "group": [
        {
            "slug": "repl",
            "name": "Replication",
            "mandate": "Replicate.",
            "channels": ["shell:#repl", "slack:C0123", "matrix:!abc:example.org"],
            "members": [
                {"user": "shell:alice", "project": "Lighthouse One", "role": "chair"},
                {"user": "shell:@bob"},
            ],
        },
        {"slug": "sec", "name": "Support Office", "restricted": True},
    ],
}


def test_preset_gives_the_seven_groups(bare_bot: Bot) -> None:
    changes = preset(bare_bot)
    assert "created group boc: Board of Coordinators" in changes
    with bare_bot.sessions() as s:
        groups = list(s.scalars(select(Group).order_by(Group.id)))
        assert [g.slug for g in groups] == PRESET_SLUGS
        by_slug = {g.slug: g for g in groups}
        assert {g.slug for g in groups if g.restricted} == {"boc", "secretariat"}
        assert "Manifesto" in by_slug["boc"].mandate
        assert "privacy impact assessments" in by_slug["data"].mandate
        assert "impact methods" in by_slug["monitoring"].mandate
        for g in groups:
            assert [(c.platform, c.channel_id) for c in g.channels] == [("shell", f"#{g.slug}")]
            assert g.series is not None, g.slug
            assert g.series.timezone == "Europe/Brussels"
            assert g.series.remind_offsets.replace(" ", "") == "7d,1d,1h"
            assert dt.time(10) <= g.series.start_time <= dt.time(15)
        rules = [g.series.rule for g in groups if g.series]
        assert len(set(rules)) == 7  # each group meets on its own day
        assert by_slug["boc"].series is not None
        assert by_slug["boc"].series.rule_text.lower() == "first tuesday"
        assert s.scalar(select(Membership.id)) is None  # real people come from the platforms
    # the preset's groups work with the commands at once
    show = bare_bot.say("zoe", "#data", "tg show")
    assert "Data Management (data)" in show
    assert "Next meeting: none scheduled" not in show


def test_preset_is_idempotent(bare_bot: Bot) -> None:
    assert preset(bare_bot)
    before = bare_bot.counts()
    assert preset(bare_bot) == []
    assert describe([]) == "no changes"
    assert bare_bot.counts() == before


def test_preset_parses_as_documented() -> None:
    data = load_toml(preset_text(), "preset")
    assert [g["slug"] for g in data["group"]] == PRESET_SLUGS
    assert all("members" not in g for g in data["group"])


def test_apply_creates_links_members_and_admins(bare_bot: Bot) -> None:
    bot = bare_bot
    changes = apply(bot, SMALL)
    assert changes == [
        "created group repl: Replication",
        "linked shell:#repl to repl",
        "linked slack:C0123 to repl",
        "linked matrix:!abc:example.org to repl",
        "added shell:alice to repl as chair, representing Lighthouse One",
        "added shell:bob to repl as member",
        "created group sec: Support Office",
        "made shell:ann an admin",
    ]
    assert "6 changes" not in describe(changes) and "8 changes" in describe(changes)
    # roles from the file are real: alice chairs repl, ann is an admin
    assert "Added @carol in repl" in bot.say("alice", "#repl", "tg add repl @carol")
    assert "Only" in bot.say("bob", "#repl", "tg add repl @dan")
    assert "Created group x1" in bot.say("ann", None, "tg create x1 Extra")
    assert "sec is closed: people join it only by being added" in bot.say("bob", None, "tg join sec")
    with bot.sessions() as s:
        audited = s.scalars(select(AuditLog).where(AuditLog.actor_id.is_(None))).all()
        assert len(audited) == len(changes)
        assert all(a.detail["source"] == "governance" for a in audited)


def test_apply_twice_reports_no_changes(bare_bot: Bot) -> None:
    apply(bare_bot, SMALL)
    before = bare_bot.counts()
    assert apply(bare_bot, SMALL) == []
    assert bare_bot.counts() == before


def test_apply_updates_what_differs_and_keeps_the_rest(bare_bot: Bot) -> None:
    bot = bare_bot
    apply(bot, SMALL)
    bot.admin("tg add repl @erin")  # not in the file: stays
    changed = copy.deepcopy(SMALL)
    repl = changed["group"][0]
    repl["name"] = "Replication and Scaling"
    repl["restricted"] = True
    repl["members"] = [{"user": "shell:bob", "role": "chair", "project": "Bravo"}]
    assert apply(bot, changed) == [
        "updated group repl: name, restricted",
        "updated shell:bob in repl: role chair, project Bravo",
    ]
    with bot.sessions() as s:
        group = s.scalar(select(Group).where(Group.slug == "repl"))
        assert group is not None and group.name == "Replication and Scaling"
        roles = {m.person.display_name: m.role for m in group.memberships}
        assert roles == {"alice": "chair", "bob": "chair", "erin": "member"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["group"][0].update(slug="Bad Slug"), "slug 'Bad Slug' must be lowercase"),
        (lambda d: d["group"][0].pop("name"), "group repl: name is required for a new group"),
        (lambda d: d["group"][0].update(colour="red"), "unknown key 'colour'"),
        (lambda d: d.update(groups=[]), "file: unknown key 'groups'"),
        (lambda d: d["group"][1].update(slug="repl"), "slug 'repl' is listed twice"),
        (lambda d: d["group"][1].update(name="replication"), "name 'replication' is listed twice"),
        (lambda d: d["group"][0].update(channels=["irc:#x"]), "platform must be one of"),
        (lambda d: d["group"][0].update(channels=["slack:"]), "has no id after the platform"),
        (lambda d: d["group"][1].update(channels=["shell:#repl"]),
         "channel 'shell:#repl' is also listed for repl"),
        (lambda d: d["group"][1].update(restricted="yes"), "restricted must be true or false"),
        (lambda d: d["group"][0].update(name="x" * 200), "name is too long (200 characters"),
        (lambda d: d["group"][0]["members"].append({"user": "alice"}), "must be a string like"),
        (lambda d: d["group"][0]["members"].append({"user": "shell:alice"}),
         "shell:alice is listed twice"),
        (lambda d: d["group"][0]["members"][0].update(role="boss"),
         "role must be chair or member, not 'boss'"),
        (lambda d: d["group"][0].update(meeting={"rule": "first monday", "time": "25:00"}),
         "time '25:00' must be HH:MM"),
        (lambda d: d["group"][0].update(meeting={"rule": "first monday", "time": "10:00",
                                                  "timezone": "Mars/Base"}),
         "timezone 'Mars/Base' is not a time zone"),
        (lambda d: d["group"][0].update(meeting={"rule": "first monday", "time": "10:00",
                                                  "remind": "7 days"}),
         "remind '7 days' must be offsets"),
        (lambda d: d["group"][0].update(meeting={"rule": "first monday", "time": "10:00",
                                                  "duration": 0}),
         "duration 0 must be minutes"),
        (lambda d: d["group"][0].update(meeting={"time": "10:00"}), "meeting: rule is required"),
        (lambda d: d["group"][0].update(meeting={"rule": "first monday", "time": "10:00",
                                                  "link": "javascript:alert(1)"}),
         "must be an http(s) URL"),
        (lambda d: d.update(admins="shell:ann"), "admins: must be a list"),
    ],
)
def test_invalid_entries_write_nothing(bare_bot: Bot, mutate: Any, message: str) -> None:
    bot = bare_bot
    bot.admin("tg create other Other Group")
    data = copy.deepcopy(SMALL)
    mutate(data)
    before = bot.counts()
    with pytest.raises(UserError) as err:
        apply(bot, data)
    assert message in err.value.message
    assert err.value.message.startswith("The governance file is invalid; nothing was changed.")
    assert bot.counts() == before


def test_all_problems_are_reported_at_once(bare_bot: Bot) -> None:
    data = {"group": [{"slug": "1x", "channels": ["nope"]}, "not a table"]}
    with pytest.raises(UserError) as err:
        apply(bare_bot, data)
    lines = err.value.message.splitlines()[1:]
    # (a missing name is a problem only for a new group: checked against the store after)
    assert len(lines) == 3, lines
    assert lines[-1] == "  - group 2: must be a table"


def test_conflicts_with_the_store_write_nothing(bare_bot: Bot) -> None:
    bot = bare_bot
    bot.admin("tg create other Replication")
    bot.admin("tg create elsewhere Elsewhere")
    bot.admin("tg link elsewhere", channel="#repl")
    before = bot.counts()
    with pytest.raises(UserError) as err:
        apply(bot, SMALL)
    assert "name 'Replication' is already used by group other" in err.value.message
    assert "channel shell:#repl is linked to group elsewhere" in err.value.message
    assert bot.counts() == before


def test_an_invalid_meeting_rule_writes_nothing(bare_bot: Bot) -> None:
    data = copy.deepcopy(SMALL)
    data["group"][1]["meeting"] = {"rule": "every blue moon", "time": "10:00"}
    with pytest.raises(UserError) as err:
        apply(bare_bot, data)
    assert "group sec meeting:" in err.value.message
    with bare_bot.sessions() as s:
        assert s.scalar(select(Group.id)) is None
        assert s.scalar(select(Channel.id)) is None
        assert s.scalar(select(MeetingSeries.id)) is None


def test_meeting_series_is_created_then_updated(bare_bot: Bot) -> None:
    data = copy.deepcopy(SMALL)
    data["group"][0]["meeting"] = {"rule": "2nd wednesday", "time": "10:00",
                                   "link": "https://meet.example.org/repl", "duration": 90}
    changes = apply(bare_bot, data)
    assert any(c.startswith("meeting of repl: 2nd wednesday at 10:00 Europe/Brussels")
               for c in changes)
    assert apply(bare_bot, data) == []
    data["group"][0]["meeting"]["time"] = "11:30"
    assert [c for c in apply(bare_bot, data) if "meeting" in c]
    with bare_bot.sessions() as s:
        series = s.scalar(select(MeetingSeries))
        assert series is not None
        assert series.start_time == dt.time(11, 30)
        assert series.duration_minutes == 90
        assert series.link == "https://meet.example.org/repl"


# --- a key left out of a file keeps what is stored (the whole family of omissions) ------------

_GROUP_KEYS = ("name", "mandate", "restricted", "channels", "members", "meeting")
_MEETING_KEYS = ("timezone", "remind", "link", "duration")
_MEMBER_KEYS = ("project", "role")
_examples = iter(range(10**6))


def _entry(slug: str, v: int) -> dict[str, Any]:
    """Version ``v`` (1 or 2) of a group entry, every value differing between the two."""
    return {
        "slug": slug,
        "name": f"Group {slug} v{v}",
        "mandate": f"Mandate {v}.",
        "restricted": v == 1,
        "channels": [f"shell:#{slug}-{v}"],
        "members": [{"user": f"shell:{slug}-m", "project": f"Project {v}",
                     "role": "chair" if v == 1 else "member"}],
        "meeting": {"rule": "2nd wednesday" if v == 1 else "last thursday",
                    "time": "10:00" if v == 1 else "11:30",
                    "timezone": "Europe/Lisbon" if v == 1 else "Europe/Helsinki",
                    "remind": "2d,1h" if v == 1 else "3d",
                    "link": f"https://meet.example.org/{v}",
                    "duration": 90 if v == 1 else 45},
    }


def _state(bot: Bot, slug: str) -> dict[str, Any]:
    with bot.sessions() as s:
        g = s.scalar(select(Group).where(Group.slug == slug))
        assert g is not None and g.series is not None
        m = g.memberships[0]
        return {
            "name": g.name, "mandate": g.mandate, "restricted": g.restricted,
            "channels": sorted(f"{c.platform}:{c.channel_id}" for c in g.channels),
            "role": m.role, "project": m.project,
            "rule": g.series.rule_text, "time": g.series.start_time.strftime("%H:%M"),
            "timezone": g.series.timezone, "remind": g.series.remind_offsets,
            "link": g.series.link, "duration": g.series.duration_minutes,
        }


@given(
    omit=st.sets(st.sampled_from(_GROUP_KEYS)),
    omit_meeting=st.sets(st.sampled_from(_MEETING_KEYS)),
    omit_member=st.sets(st.sampled_from(_MEMBER_KEYS)),
)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_left_out_keys_keep_what_is_stored(
    bare_bot: Bot, omit: set[str], omit_meeting: set[str], omit_member: set[str]
) -> None:
    slug = f"g{next(_examples)}"
    apply(bare_bot, {"group": [_entry(slug, 1)]})
    first = _state(bare_bot, slug)
    second = _entry(slug, 2)
    for key in omit_meeting:
        del second["meeting"][key]
    for key in omit_member:
        del second["members"][0][key]
    for key in omit:
        del second[key]
    apply(bare_bot, {"group": [second]})
    now = _state(bare_bot, slug)
    theirs = _state_of_entry(_entry(slug, 2))
    for field in ("name", "mandate", "restricted"):
        assert now[field] == (first[field] if field in omit else theirs[field]), field
    # channels are only ever added
    assert now["channels"] == sorted(
        first["channels"] + ([] if "channels" in omit else theirs["channels"]))
    for field in _MEMBER_KEYS:
        kept = "members" in omit or field in omit_member
        assert now[field] == (first[field] if kept else theirs[field]), field
    for field in ("rule", "time", *_MEETING_KEYS):
        kept = "meeting" in omit or field in omit_meeting
        assert now[field] == (first[field] if kept else theirs[field]), field


def _state_of_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """What ``_state`` reads once ``entry`` is applied whole (labels as the store keeps them)."""
    from handlers.core.recurrence import format_offsets, parse_offsets, parse_rule

    meeting, member = entry["meeting"], entry["members"][0]
    return {
        "name": entry["name"], "mandate": entry["mandate"], "restricted": entry["restricted"],
        "channels": entry["channels"], "role": member["role"], "project": member["project"],
        "rule": parse_rule(meeting["rule"])[1], "time": meeting["time"],
        "timezone": meeting["timezone"],
        "remind": format_offsets(parse_offsets(meeting["remind"])),
        "link": meeting["link"], "duration": meeting["duration"],
    }


# --- a file never silently undoes what was done in chat; export reproduces the store ------------


def outcome(bot: Bot, data: dict[str, Any], at: dt.datetime = NOW) -> Any:
    from handlers.governance._presets import apply_with_overrides

    with bot.sessions.begin() as session:
        return apply_with_overrides(session, bot.settings, data, now=at)


def test_apply_names_what_it_would_undo_from_chat(bare_bot: Bot) -> None:
    bot = bare_bot
    preset_data = load_toml(preset_text(), "preset")
    assert outcome(bot, preset_data).overrides == []
    bot.admin("tg add replication @carol as chair")
    bot.now = dt.datetime(2026, 11, 28, 10, 15, tzinfo=dt.UTC)
    out = bot.say("carol", "#replication",
                  "meeting schedule replication 2nd wednesday 10:30 link "
                  "https://meet.example.org/repl")
    assert "now meets" in out
    again = outcome(bot, preset_data, NOW + dt.timedelta(hours=2))
    # the file gives a time, so it would change it back (named, with who and when); it
    # gives no link, so the link is kept
    assert again.changes == ["meeting of replication: time 10:30 -> 10:00"]
    assert again.overrides == [
        "meeting of replication: time 10:30 -> 10:00: changed in chat by carol on "
        "2026-11-28 10:15 UTC (schedule)"]
    with bot.sessions() as s:
        series = s.scalar(select(MeetingSeries).join(Group).where(Group.slug == "replication"))
        assert series is not None and series.link == "https://meet.example.org/repl"
    # once applied, that chat change is behind the last apply: nothing more to name
    assert outcome(bot, preset_data, NOW + dt.timedelta(hours=3)).changes == []


def test_member_changes_in_chat_are_named(bare_bot: Bot) -> None:
    apply(bare_bot, SMALL)
    bare_bot.now = dt.datetime(2026, 11, 28, 11, 0, tzinfo=dt.UTC)
    assert "as chair" in bare_bot.say("alice", "#repl", "tg add repl @bob project Bravo as chair")
    got = outcome(bare_bot, {"group": [{"slug": "repl", "members": [
        {"user": "shell:bob", "role": "member"}]}]}, NOW + dt.timedelta(hours=3))
    assert got.changes == ["updated shell:bob in repl: role member"]
    assert len(got.overrides) == 1 and "changed in chat by alice" in got.overrides[0]


_RULES = ["first tuesday", "2nd wednesday", "last thursday", "day 15", "3rd friday",
          "RRULE:FREQ=MONTHLY;BYDAY=-1SU"]
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30).map(
    str.strip)


@given(
    groups=st.lists(st.fixed_dictionaries({
        "name": _text.filter(bool), "mandate": _text, "restricted": st.booleans(),
        "rule": st.sampled_from(_RULES), "hour": st.integers(0, 23),
        "zone": st.sampled_from(["Europe/Brussels", "America/New_York", "Asia/Kolkata"]),
        "link": st.sampled_from([None, "https://meet.example.org/a?b=c&d=e"]),
        "members": st.lists(st.sampled_from(["shell:ann", "slack:U01", "matrix:@b:x.org"]),
                            unique=True, max_size=3),
        "project": st.one_of(st.none(), _text.filter(bool)),
    }), min_size=1, max_size=3),
    chat=st.booleans(),
)
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_export_then_apply_changes_nothing(bare_bot: Bot, groups: list[dict[str, Any]],
                                           chat: bool) -> None:
    from handlers.governance._presets import export_governance

    run = next(_examples)
    data: dict[str, Any] = {"admins": ["shell:ann"], "group": []}
    for i, g in enumerate(groups):
        meeting = {"rule": g["rule"], "time": f"{g['hour']:02d}:05", "timezone": g["zone"]}
        if g["link"]:
            meeting["link"] = g["link"]
        data["group"].append({
            "slug": f"x{run}-{i}", "name": f"{g['name']} {run}-{i}", "mandate": g["mandate"],
            "restricted": g["restricted"], "channels": [f"shell:#x{run}-{i}"],
            "members": [{"user": u, "project": g["project"], "role": "chair" if n else "member"}
                        if g["project"] else {"user": u} for n, u in enumerate(g["members"])],
            "meeting": meeting,
        })
    apply(bare_bot, data)
    if chat:  # changes made in chat are exported too
        bare_bot.admin(f"meeting schedule x{run}-0 last monday 16:45 Europe/Lisbon remind 2d")
        bare_bot.admin(f"tg add x{run}-0 @zed project Zulu as chair")
        bare_bot.admin(f"tg settings x{run}-0 join open")
    with bare_bot.sessions() as s:
        text = export_governance(s)
        for group in s.scalars(select(Group).where(Group.slug.like(f"x{run}-%"))):
            # the join policy is in the file, so a fresh store gets it too
            assert f'slug = "{group.slug}"' in text
            assert f'join = "{group.join_policy}"' in text.split(f'slug = "{group.slug}"')[1]
    exported = load_toml(text, "export")
    got = outcome(bare_bot, exported, NOW + dt.timedelta(hours=1))
    assert got.changes == [] and got.overrides == [], text
    with bare_bot.sessions() as s:
        assert export_governance(s) == text


def test_an_apply_time_stored_naive_by_an_earlier_version_is_read_as_utc(
        bare_bot: Bot) -> None:
    """Versions before the audit mark kept only the apply time, written naive UTC: read as
    UTC, and a chat change after it is still named."""
    from handlers.governance._presets import AUDIT_MARK_KEY, LAST_APPLY_KEY, last_applied
    from storage import kv
    from storage.models import KvState

    apply(bare_bot, SMALL)
    bare_bot.now = dt.datetime(2026, 11, 28, 11, 0, tzinfo=dt.UTC)  # after it
    bare_bot.say("alice", "#repl", "tg add repl @bob project Bravo as chair")
    with bare_bot.sessions.begin() as s:
        s.execute(KvState.__table__.delete().where(KvState.key == AUDIT_MARK_KEY))
        kv.put(s, LAST_APPLY_KEY, "2026-11-28T09:00:00")  # naive, as once written
    with bare_bot.sessions() as s:
        assert last_applied(s).at == NOW and last_applied(s).audit_mark is None
    got = outcome(bare_bot, {"group": [{"slug": "repl", "members": [
        {"user": "shell:bob", "role": "member"}]}]}, NOW + dt.timedelta(hours=3))
    assert got.changes == ["updated shell:bob in repl: role member"]
    assert len(got.overrides) == 1 and "on 2026-11-28 11:00 UTC" in got.overrides[0]
