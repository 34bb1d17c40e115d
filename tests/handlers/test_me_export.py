"""``me export``: one JSON file with everything the bot keeps about the person who asks,
read back and compared with the store; nobody else's rows, no secrets, to them alone."""

from __future__ import annotations

import json

from sqlalchemy import select

from handlers.core.messages import File
from storage.models import ActionAssignee, ActionNote, AuditLog, Identity, Membership, Person
from tests.support.dialog import Bot


def test_the_export_holds_the_person_s_rows_and_no_one_else_s(bot: Bot) -> None:
    bot.admin("tg add replication @ana project Lighthouse One as chair")
    bot.admin("tg add replication @ben")
    bot.say("ana", None, "action add @ben Draft the guide group replication")
    bot.say("ana", None, "action add Send the kit group replication")
    bot.say("ana", None, "action note A-2 sent to the city")
    bot.say("ana", None, "meeting rsvp replication yes")
    bot.admin("decision post replication Adopt the kit")
    bot.say("ana", None, "decision ack D-1")
    bot.say("ana", None, "meeting feed replication")  # a link key: its token is a secret
    reply = bot.ask("ana", None, "me export")
    assert not reply.error and reply.confidential  # to her alone, on every platform
    [file] = [b for b in reply.blocks if isinstance(b, File)]
    data = json.loads(file.content)
    with bot.sessions() as s:
        ana = s.scalar(select(Person).join(Identity).where(Identity.external_id == "ana"))
        assert ana is not None
        assert data["person"]["id"] == ana.id and data["person"]["display_name"] == "ana"
        tables = data["tables"]
        assert [(m["group_id"], m["role"], m["project"]) for m in tables["memberships"]] == [
            (m.group_id, m.role, m.project) for m in s.scalars(
                select(Membership).where(Membership.person_id == ana.id))]
        assert len(tables["memberships"]) == 1  # ben's is not hers
        assert {a["action_id"] for a in tables["action_assignees"]} == set(s.scalars(
            select(ActionAssignee.action_id).where(ActionAssignee.person_id == ana.id)))
        assert {a["id"] for a in tables["actions"]} == {1, 2}  # written by her, both
        assert [n["text"] for n in tables["action_notes"]] == list(s.scalars(
            select(ActionNote.text).where(ActionNote.author_id == ana.id)))
        assert [r["answer"] for r in tables["meeting_rsvps"]] == ["yes"]
        assert [t["decision_id"] for t in tables["decision_targets"]] == [1]
        audit_ids = set(s.scalars(select(AuditLog.id).where(AuditLog.actor_id == ana.id,
                                                            AuditLog.verb != "export")))
        assert audit_ids <= {a["id"] for a in tables["audit_log"]}
        assert [i["external_id"] for i in tables["identities"]] == ["ana"]
    assert all("token" not in row for row in tables.get("link_keys", []))
    assert "link_keys" in tables
    text = file.content.decode()
    assert '"ben"' not in text  # no other person's name or id string


def test_the_export_says_what_each_row_is_about(bot: Bot) -> None:
    """The rows hers point at come along (an action she holds but did not write, the
    decision she acknowledged, her group), also from a table where she has rows of her
    own (she wrote one action and holds another): each once, and nobody's name."""
    bot.admin("tg add replication @ana")
    bot.admin("tg add replication @ben")
    bot.say("ana", None, "action add Send the kit group replication")  # hers: she wrote it
    bot.say("ben", None, "action add @ana Draft the guide group replication")  # she holds it
    bot.admin("decision post replication Adopt the kit")
    bot.say("ana", None, "decision ack D-1")
    [file] = [b for b in bot.ask("ana", None, "me export").blocks if isinstance(b, File)]
    data = json.loads(file.content)
    written = {a["id"] for a in data["tables"]["actions"]}
    linked = {a["id"]: a["title"] for a in data["linked"].get("actions", [])}
    assert written == {1} and linked == {2: "Draft the guide"}
    assert [d["text"] for d in data["linked"]["decisions"]] == ["Adopt the kit"]
    assert [g["slug"] for g in data["linked"]["groups"]] == ["replication"]
    assert '"ben"' not in file.content.decode()
