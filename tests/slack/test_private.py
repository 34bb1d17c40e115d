"""Private stays private on Slack: answers holding a key reach the person alone."""

from __future__ import annotations

from tests.slack.conftest import SlackBot

SECRETS = ("/dashboard", "sig=", "token=", "/calendar/")


def test_answers_with_keys_are_ephemeral_never_posted(slack_bot: SlackBot) -> None:
    answers = []
    for command, text in (("/secretariat", "dashboard 90"), ("/secretariat", "feeds"),
                          ("/meeting", "feed all"), ("/secretariat", "deliveries all")):
        answer = slack_bot.reply(slack_bot.slash(command, text, channel="C_KEYS"))
        assert '"response_type": "ephemeral"' in answer, answer
        answers.append(answer)
    assert "/dashboard?exp=" in answers[0] and "/calendar/all.ics?token=" in answers[1]
    posted = [c for c in slack_bot.fake.find("api", "chat.postMessage")
              if c.body.get("channel") == "C_KEYS"]
    assert not [c for c in posted if any(s in c.dump for s in SECRETS)]
