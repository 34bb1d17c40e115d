"""What the mail renderer and the adapters write of their own (the footer that says how to
answer, an attachment's line, a delivery problem) is in the reader's language too."""

from __future__ import annotations

from bot.conversation import Answer
from bot.email.render import render_mail
from handlers.core.i18n import Reader, _, localize, localized, said
from handlers.core.messages import Button, Buttons, File, Reply, Text, plain_spans


def test_a_french_readers_mail_says_how_to_answer_in_french() -> None:
    said_by_core = [Text((_("Your data"),)), Buttons((Button(_("Done"), "action done A-1"),)),
                    File("me.json", "application/json", b"{}", _("Your data"))]
    mail = render_mail(localize(said_by_core, Reader("fr")), replies=True)
    footer = said(_("Reply with a line, or type in chat:"), "fr")
    assert footer != "Reply with a line, or type in chat:"
    assert footer in mail.text and "Reply with a line" not in mail.html
    assert "Attached" not in mail.text and "me.json" in mail.text
    english = render_mail(localize(said_by_core, Reader("en")), replies=True)
    assert "Reply with a line, or type in chat:" in english.text


def test_delivery_problems_are_said_in_the_replys_language() -> None:
    problem = _("Could not post to {where} ({error}).", where="shell:#x", error="503")
    reply = localized(Reply().say(_("Your data")), Reader("de"))
    said_de = plain_spans(Answer(reply, (problem,)).notes[0].spans)
    assert "503" in said_de and "shell:#x" in said_de and "Could not post" not in said_de
