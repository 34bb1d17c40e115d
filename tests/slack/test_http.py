"""Taskbot over Slack's HTTP interface: signed requests in, recorded Web API calls out.

Each test uses channels and groups of its own, so the module's one bot process serves all.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from tests.slack.conftest import SlackBot
from tests.slack.fake_slack import Call

# a due date ahead of the bot's real clock (``taskbot run`` here runs on it), whatever the day
DUE = (dt.date.today() + dt.timedelta(days=45)).isoformat()

ALICE = "U0ALICE"
BOB = "U0BOB"


def posted(bot: SlackBot, channel: str, count: int = 1, contains: str = "") -> list[Call]:
    return bot.fake.wait_for(
        "api", "chat.postMessage", count=count,
        where=lambda c: c.body.get("channel") == channel and contains in c.dump,
    )


def setup_group(bot: SlackBot, slug: str, channel: str, *members: str) -> None:
    """A group linked to ``channel`` with ``members`` (the first as chair)."""
    bot.slash("/tg", f"create {slug} Group {slug}", channel=channel)
    posted(bot, channel, contains=f"Created group {slug}")
    bot.slash("/tg", f"link {slug}", channel=channel)
    posted(bot, channel, contains="now linked")
    for i, member in enumerate(members):
        role = "chair" if i == 0 else "member"
        bot.slash("/tg", f"add {slug} <@{member}|{member.lower()}> as {role}", channel=channel)
        posted(bot, channel, contains=f"<@{member}>")


def buttons(call: Call) -> list[dict[str, Any]]:
    return [el for block in call.body.get("blocks", []) if block["type"] == "actions"
            for el in block["elements"]]


# --- signatures -----------------------------------------------------------------------------


def test_bad_signature_is_refused(slack_bot: SlackBot) -> None:
    body = "command=%2Ftg&text=list&user_id=U0X&channel_id=C1"
    forged = slack_bot.post(body, "application/x-www-form-urlencoded", signed=False, headers={
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    })
    assert forged.status == 401
    unsigned = slack_bot.post(body, "application/x-www-form-urlencoded", signed=False)
    assert unsigned.status == 401


def test_timestamp_older_than_five_minutes_is_refused(slack_bot: SlackBot) -> None:
    body = "command=%2Ftg&text=list&user_id=U0X&channel_id=C1"
    old = slack_bot.post(body, "application/x-www-form-urlencoded",
                         timestamp=int(time.time()) - 6 * 60)
    assert old.status == 401
    fresh = slack_bot.post(body, "application/x-www-form-urlencoded")
    assert fresh.status == 200


# --- every command family -------------------------------------------------------------------


def test_tg_family(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "tgfam", "C_TG", ALICE)
    listing = slack_bot.reply(slack_bot.slash("/tg", "show tgfam", channel="C_TG"))
    assert '"response_type": "ephemeral"' in listing
    assert "Group tgfam" in listing and f"<@{ALICE}>" in listing


def test_action_family_and_done_button(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "actfam", "C_ACT", ALICE)
    slack_bot.slash("/action", f"add <@{ALICE}|alice> Write the report due 2099-01-10",
                    channel="C_ACT")
    added = posted(slack_bot, "C_ACT", contains="Write the report")[0]
    assert "<!date^" in added.dump  # the due date, in each reader's own zone
    label = json.loads(added.dump)["text"].split(":")[0].split()[-1]  # "A-n"
    listing = slack_bot.reply(slack_bot.slash("/action", "list actfam", channel="C_ACT"))
    assert "Write the report" in listing and '"ephemeral"' in listing

    # Done, clicked by the assignee, runs the button's command as her
    result = slack_bot.interact({
        "type": "block_actions", "user": {"id": ALICE, "name": "alice"},
        "channel": {"id": "C_ACT"}, "team": {"id": "T1"}, "api_app_id": "A1",
        "response_url": slack_bot.fake.response_url("done1"), "trigger_id": "t.done",
        "container": {"type": "message", "channel_id": "C_ACT"},
        "actions": [{"type": "button", "action_id": "taskbot:1", "block_id": "b1",
                     "value": f"action done {label}", "text": {"type": "plain_text",
                                                                 "text": "Done"}}],
    })
    assert result.status == 200
    posted(slack_bot, "C_ACT", contains=f"Completed {label}")
    shown = slack_bot.reply(slack_bot.slash("/action", f"show {label}", channel="C_ACT"))
    assert "done" in shown.lower()


def test_meeting_family(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "meetfam", "C_MEET", ALICE)
    slack_bot.slash("/meeting", "schedule meetfam first tuesday 10:00 Europe/Brussels",
                    channel="C_MEET")
    posted(slack_bot, "C_MEET", contains="first")
    nxt = slack_bot.reply(slack_bot.slash("/meeting", "next meetfam", channel="C_MEET"))
    assert "<!date^" in nxt and "{date_short_pretty} {time}" in nxt


def test_decision_family_and_acknowledge_button(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "decfam", "C_DEC", ALICE)
    slack_bot.slash("/decision", "post decfam Adopt the shared roadmap", channel="C_OTHER")
    post = posted(slack_bot, "C_DEC", contains="Adopt the shared roadmap")[0]
    ack = [b for b in buttons(post) if b["value"].startswith("decision ack")]
    assert ack, post.dump
    result = slack_bot.interact({
        "type": "block_actions", "user": {"id": ALICE, "name": "alice"},
        "channel": {"id": "C_DEC"}, "team": {"id": "T1"}, "api_app_id": "A1",
        "response_url": slack_bot.fake.response_url("ack1"), "trigger_id": "t.ack",
        "container": {"type": "message", "channel_id": "C_DEC"},
        "actions": [{"type": "button", "action_id": ack[0]["action_id"], "block_id": "b1",
                     "value": ack[0]["value"], "text": {"type": "plain_text",
                                                        "text": "Acknowledge"}}],
    })
    assert result.status == 200
    done = posted(slack_bot, "C_DEC", contains="acknowledged")[0]
    assert f"<@{ALICE}>" in done.dump and "decfam" in done.dump


def test_secretariat_family(slack_bot: SlackBot) -> None:
    summary = slack_bot.reply(slack_bot.slash("/secretariat", "summary", channel="C_SEC"))
    assert '"ephemeral"' in summary and "overdue" in summary.lower()
    csv = slack_bot.slash("/secretariat", "actions all csv", channel="C_SEC")
    note = slack_bot.reply(csv)
    assert "direct message" in note
    uploads = slack_bot.fake.wait_for("api", "files.completeUploadExternal")
    assert uploads[-1].body["channel_id"] == "D0ADMIN"
    assert slack_bot.fake.find("upload")


def test_help_and_errors_are_ephemeral(slack_bot: SlackBot) -> None:
    helped = slack_bot.reply(slack_bot.slash("/taskbot-help", "", channel="C_HELP"))
    assert "Taskbot commands" in helped and "/action" in helped
    usage = slack_bot.reply(slack_bot.slash("/taskbot-help", "action", channel="C_HELP"))
    assert "/action add" in usage
    wrong = slack_bot.reply(slack_bot.slash("/action", "frobnicate", channel="C_HELP"))
    assert '"ephemeral"' in wrong and "frobnicate" in wrong
    assert not [c for c in slack_bot.fake.find("api", "chat.postMessage")
                if c.body.get("channel") == "C_HELP"]


# --- safety ---------------------------------------------------------------------------------


def test_injection_text_is_inert(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "inject", "C_INJ", ALICE)
    # what Slack sends for typed "<!channel> & <@U0BOB> ping" with should_escape on
    slack_bot.slash("/action", "add &lt;!channel&gt; &amp; &lt;@U0BOB&gt; ping everyone",
                    channel="C_INJ", user=ALICE)
    post = posted(slack_bot, "C_INJ", contains="ping everyone")[0]
    raw = post.dump
    assert "&lt;!channel&gt; &amp;amp; &lt;@U0BOB&gt;" not in raw  # not escaped twice
    assert "&lt;!channel&gt; &amp; &lt;@U0BOB&gt; ping everyone" in raw
    assert "<!channel>" not in raw and "<@U0BOB>" not in raw


# --- modal, Home tab, events ----------------------------------------------------------------


def test_action_modal_creates_the_action(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "modal", "C_MOD", ALICE, BOB)
    name = slack_bot.slash("/action", "", channel="C_MOD", user=ALICE, trigger_id="trig.modal")
    opened = slack_bot.fake.wait_for("api", "views.open",
                                     where=lambda c: c.body.get("trigger_id") == "trig.modal")[0]
    view = opened.body["view"]
    if isinstance(view, str):
        view = json.loads(view)
    assert view["callback_id"] == "taskbot_action_add"
    options = next(b for b in view["blocks"] if b["block_id"] == "group")["element"]
    assert options["initial_option"]["value"] == "modal"
    result = slack_bot.interact({
        "type": "view_submission", "user": {"id": ALICE, "name": "alice"},
        "team": {"id": "T1"}, "api_app_id": "A1", "trigger_id": "t.sub",
        "view": {
            "id": "V1", "type": "modal", "callback_id": "taskbot_action_add",
            "private_metadata": view["private_metadata"],
            "state": {"values": {
                "text": {"text": {"type": "plain_text_input", "value": "Book the venue"}},
                "assignees": {"assignees": {"type": "multi_users_select",
                                            "selected_users": [BOB]}},
                "due": {"due": {"type": "datepicker", "selected_date": "2099-03-01"}},
                "group": {"group": {"type": "static_select",
                                    "selected_option": {"value": "modal"}}},
            }},
        },
    })
    assert result.status == 200
    added = posted(slack_bot, "C_MOD", contains="Book the venue")[0]
    assert f"<@{BOB}>" in added.dump
    assert not slack_bot.fake.find("respond", name)  # the form needs no second answer


def test_home_tab_published_once_for_three_deliveries(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "home", "C_HOME", ALICE)
    slack_bot.slash("/action", "add Prepare the home tab due 2099-02-01", channel="C_HOME",
                    user=ALICE)
    posted(slack_bot, "C_HOME", contains="Prepare the home tab")
    event = {"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home",
             "event_ts": str(time.time())}
    for retry in (None, 1, 2):
        assert slack_bot.event(event, "Ev0HOME1", retry=retry).status == 200
    published = slack_bot.fake.wait_for("api", "views.publish",
                                        where=lambda c: c.body.get("user_id") == ALICE)
    time.sleep(1.0)
    assert len(slack_bot.fake.find("api", "views.publish")) == len(published) == 1
    view = published[0].body["view"]
    text = json.dumps(view)
    assert "Your open actions" in text and "Prepare the home tab" in text
    assert "Recent decisions" in text and "next meetings" in text


# --- rate limits ----------------------------------------------------------------------------


def test_rate_limited_post_is_retried_and_posted_once(slack_bot: SlackBot) -> None:
    slack_bot.slash("/tg", "create ratelim Rate limited", channel="C_RATE")
    posted(slack_bot, "C_RATE", contains="Created group ratelim")
    slack_bot.fake.rate_limit("chat.postMessage", times=1, retry_after=1)
    slack_bot.slash("/tg", "link ratelim", channel="C_RATE")
    ok = posted(slack_bot, "C_RATE", contains="now linked")
    limited = [c for c in slack_bot.fake.find("api", "chat.postMessage", status=429)
               if c.body.get("channel") == "C_RATE"]
    assert len(limited) == 1
    time.sleep(0.5)
    assert len(posted(slack_bot, "C_RATE", contains="now linked")) == len(ok) == 1


def test_public_reply_where_the_bot_is_not_a_member(slack_bot: SlackBot) -> None:
    name = slack_bot.slash("/tg", "create notin Not invited", channel="CPRIV_1")
    answer = slack_bot.reply(name)
    assert '"response_type": "in_channel"' in answer and "Created group notin" in answer


# --- Done from a list, channel membership ---------------------------------------------------


def click(bot: SlackBot, user: str, channel: str, button: dict[str, Any], name: str) -> None:
    result = bot.interact({
        "type": "block_actions", "user": {"id": user, "name": user.lower()},
        "channel": {"id": channel}, "team": {"id": "T1"}, "api_app_id": "A1",
        "response_url": bot.fake.response_url(name), "trigger_id": f"t.{name}",
        "container": {"type": "message", "channel_id": channel, "is_ephemeral": True},
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "b1",
                     "value": button["value"], "text": button["text"]}],
    })
    assert result.status == 200


def test_done_clicked_from_the_rendered_list(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "donelist", "C_DL", ALICE, BOB)
    for title in ("First item", "Second item"):
        slack_bot.slash("/action", f"add {title}", channel="C_DL", user=BOB)
        posted(slack_bot, "C_DL", contains=title)
    name = slack_bot.slash("/action", "list", channel="C_DL", user=BOB)
    listing = slack_bot.fake.wait_for("respond", name)[0]
    done = [b for b in buttons(listing) if b["value"].startswith("action done")]
    assert [b["text"]["text"] for b in done] == [
        f"Done {b['value'].split()[-1]}" for b in done]
    assert len(done) == 2, listing.dump
    first = done[0]["value"].split()[-1]

    click(slack_bot, BOB, "C_DL", done[0], "dl_click")
    closed = posted(slack_bot, "C_DL", contains=f"Completed {first}")[0]
    assert "First item" in closed.dump
    again = slack_bot.fake.wait_for("respond", slack_bot.slash(
        "/action", "list", channel="C_DL", user=BOB))[0]
    assert [b["value"] for b in buttons(again)] == [done[1]["value"]]
    assert "First item" not in again.dump and "Second item" in again.dump
    # a second click on the stale list is refused, privately, and changes nothing
    click(slack_bot, BOB, "C_DL", done[0], "dl_stale")
    stale = slack_bot.reply("dl_stale")
    assert '"ephemeral"' in stale and "already done" in stale


def member_event(bot: SlackBot, kind: str, user: str, channel: str, event_id: str,
                 retry: int | None = None) -> None:
    event = {"type": kind, "user": user, "channel": channel, "channel_type": "C",
             "team": "T1", "event_ts": str(time.time())}
    assert bot.event(event, event_id, retry=retry).status == 200


def test_channel_joins_and_leaves_follow_the_group(slack_bot: SlackBot) -> None:
    carol, dave = "U0CAROL", "U0DAVE"
    setup_group(slack_bot, "follow", "C_FOL", ALICE, BOB)
    slack_bot.slash("/tg", "settings follow follow_channel on", channel="C_FOL", user=ALICE)
    posted(slack_bot, "C_FOL", contains="follow_channel is now on")

    # a join delivered three times (retries) adds carol once; the bot's own join is ignored
    for retry in (None, 1, 2):
        member_event(slack_bot, "member_joined_channel", carol, "C_FOL", "EvFOL1", retry)
    member_event(slack_bot, "member_joined_channel", "UBOT", "C_FOL", "EvFOL2")
    member_event(slack_bot, "member_left_channel", BOB, "C_FOL", "EvFOL3")
    member_event(slack_bot, "member_left_channel", ALICE, "C_FOL", "EvFOL4")  # stays chair

    def shown() -> str:
        return slack_bot.reply(slack_bot.slash("/tg", "show follow", channel="C_FOL"))

    deadline = time.monotonic() + 10
    text = shown()
    while (f"<@{BOB}>" in text or f"<@{carol}>" not in text) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = shown()
    assert f"<@{carol}>" in text and f"<@{BOB}>" not in text and f"<@{ALICE}>" in text
    assert "UBOT" not in text and text.count(f"<@{carol}>") == 1

    # switched off again: a join changes nothing
    slack_bot.slash("/tg", "settings follow follow_channel off", channel="C_FOL", user=ALICE)
    posted(slack_bot, "C_FOL", contains="follow_channel is now off")
    member_event(slack_bot, "member_joined_channel", dave, "C_FOL", "EvFOL5")
    slack_bot.fake.wait_for("api", "users.info", where=lambda c: c.body.get("user") == dave)
    time.sleep(0.5)
    assert f"<@{dave}>" not in shown()


def channel_message(bot: SlackBot, user: str, channel: str, text: str, ts: str) -> None:
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
             "channel_type": "channel"}
    assert bot.event(event, f"Ev{channel}{ts}").status == 200


def test_meeting_mode_in_a_channel(slack_bot: SlackBot) -> None:
    setup_group(slack_bot, "mtg", "C_MTG", ALICE, BOB)
    slack_bot.slash("/meeting", "start mtg", channel="C_MTG", user=ALICE)
    posted(slack_bot, "C_MTG", contains="started")
    channel_message(slack_bot, ALICE, "C_MTG", "#topic Budget", "1.000100")
    channel_message(slack_bot, BOB, "C_MTG", "just talking, not captured", "1.000200")
    channel_message(slack_bot, ALICE, "C_MTG",
                    f"#action <@{BOB}> Draft the budget due {DUE}", "1.000300")
    channel_message(slack_bot, ALICE, "C_MTG", "#agreed Budget frozen until March", "1.000400")
    # quiet captures are acknowledged with a reaction on the line itself
    reactions = slack_bot.fake.wait_for("api", "reactions.add", count=3)
    assert {c.body.get("timestamp") for c in reactions} >= {"1.000100", "1.000400"}
    slack_bot.slash("/meeting", "end", channel="C_MTG", user=ALICE)
    minutes = posted(slack_bot, "C_MTG", contains="Budget frozen until March")[-1].dump
    assert "Draft the budget" in minutes and f"<@{BOB}>" in minutes
    # the #action is a tracked action item
    listing = slack_bot.reply(slack_bot.slash("/action", "list mtg", channel="C_MTG"))
    assert "Draft the budget" in listing


def test_boc_meeting_decision_reaches_two_groups(slack_bot: SlackBot) -> None:
    # the preset made the BoC on first start: link it here and seat alice (chair) and bob
    slack_bot.slash("/tg", "link boc", channel="C_BOC")
    posted(slack_bot, "C_BOC", contains="now linked")
    for user, role in ((ALICE, "chair"), (BOB, "member")):
        slack_bot.slash("/tg", f"add boc <@{user}|{user.lower()}> as {role}", channel="C_BOC")
        posted(slack_bot, "C_BOC", contains=f"<@{user}>")
    setup_group(slack_bot, "tga", "C_TGA")
    setup_group(slack_bot, "tgb", "C_TGB")
    slack_bot.slash("/meeting", "start boc", channel="C_BOC", user=ALICE)
    posted(slack_bot, "C_BOC", contains="started")
    # a member may not steer the meeting until the chair hands it over
    channel_message(slack_bot, BOB, "C_BOC", "#topic Too early", "2.000100")
    slack_bot.fake.wait_for("api", "chat.postEphemeral",
                            where=lambda c: c.body.get("user") == BOB)
    channel_message(slack_bot, ALICE, "C_BOC", f"#chair <@{BOB}>", "2.000200")
    channel_message(slack_bot, BOB, "C_BOC", "#topic Replication playbook", "2.000300")
    channel_message(slack_bot, BOB, "C_BOC", "#info a line to take back", "2.000400")
    channel_message(slack_bot, BOB, "C_BOC", "#undo", "2.000500")
    channel_message(slack_bot, ALICE, "C_BOC", "#decision tga,tgb Adopt the playbook",
                    "2.000600")
    for channel in ("C_TGA", "C_TGB"):
        posted(slack_bot, channel, contains="Adopt the playbook")
    slack_bot.slash("/meeting", "end", channel="C_BOC", user=ALICE)
    minutes = posted(slack_bot, "C_BOC", contains="Replication playbook")[-1].dump
    assert "Adopt the playbook" in minutes
    assert "a line to take back" not in minutes and "Too early" not in minutes


def test_the_slack_profile_zone_is_the_default_zone(slack_bot: SlackBot) -> None:
    """users.info's ``tz`` is a person's zone until they choose one (me zone)."""
    zed = "U0ZED"  # seen first here: no name or zone of theirs is cached yet
    slack_bot.fake.zones[zed] = "Europe/Lisbon"
    shown = slack_bot.reply(slack_bot.slash("/taskbot-me", "", channel="C_ME", user=zed))
    assert "Times: Europe/Lisbon (your profile's)." in shown
    slack_bot.reply(slack_bot.slash("/taskbot-me", "zone Europe/Helsinki", channel="C_ME",
                                    user=zed))
    shown = slack_bot.reply(slack_bot.slash("/taskbot-me", "", channel="C_ME", user=zed))
    assert "Times: Europe/Helsinki (me zone)." in shown
