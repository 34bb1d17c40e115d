"""The mechanism that says a message in its reader's language and zone (handlers.core.i18n):
English is what it always was, a translation keeps its spans, posts keep their messages."""

from __future__ import annotations

import datetime as dt
import gettext
import io
import pickle

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from hypothesis import given
from hypothesis import strategies as st

from handlers.core.i18n import ENGLISH, Msg, Reader, _, _n, install, localize, spans_of
from handlers.core.messages import Button, Buttons, Day, Mention, Table, Text, When, plain_spans
from handlers.core.posts import blocks_from_json, blocks_to_json


def _catalog(lang: str, entries: dict[str | tuple[str, str], str | tuple[str, ...]]) -> str:
    """A catalog made here, installed under a name of its own (``x-<lang>``)."""
    catalog = Catalog(locale=lang, domain="taskbot")
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    name = f"x-{lang}"
    install(name, gettext.GNUTranslations(buf))
    return name


ANA = Mention(7, "Ana", (("shell", "ana"),))


@given(st.text().filter(lambda t: "{" not in t and "}" not in t))
def test_a_message_is_its_english(text: str) -> None:
    msg = _(text)
    assert msg == text and isinstance(msg, str)
    assert spans_of(msg, ENGLISH) == ((text,) if text else ())
    assert pickle.loads(pickle.dumps(msg)) == text


@given(st.integers(min_value=0, max_value=10**6))
def test_english_plural(n: int) -> None:
    msg = _n("{n} open action", "{n} open actions", n)
    assert msg == (f"{n} open action" if n == 1 else f"{n} open actions")


def test_a_span_argument_stays_a_span_where_the_translation_puts_it() -> None:
    msg = _("{who} took {action}.", who=ANA, action="A-3")
    assert msg == "@Ana took A-3."  # the plain English, for logs and old readers
    assert spans_of(msg, ENGLISH) == (ANA, " took A-3.")
    fr = _catalog("fr", {"{who} took {action}.": "{action} a été pris par {who}."})
    assert spans_of(msg, Reader(fr)) == ("A-3 a été pris par ", ANA, ".")


def test_a_message_inside_a_message_is_translated_too() -> None:
    de = _catalog("de", {"{count} in {group}": "{count} in {group}",
                         ("{n} open action", "{n} open actions"): ("{n} offene Aufgabe",
                                                                   "{n} offene Aufgaben")})
    msg = _("{count} in {group}", count=_n("{n} open action", "{n} open actions", 3),
            group="repl")
    assert msg == "3 open actions in repl"
    assert plain_spans(spans_of(msg, Reader(de))) == "3 offene Aufgaben in repl"


@pytest.mark.parametrize(("n", "form"), [(1, "akcja"), (2, "akcje"), (4, "akcje"),
                                         (5, "akcji"), (12, "akcji"), (22, "akcje"),
                                         (25, "akcji"), (101, "akcji")])
def test_polish_has_three_plural_forms(n: int, form: str) -> None:
    pl = _catalog("pl", {("{n} open action", "{n} open actions"):
                         ("{n} otwarta akcja", "{n} otwarte akcje", "{n} otwartych akcji")})
    said = plain_spans(spans_of(_n("{n} open action", "{n} open actions", n), Reader(pl)))
    assert said.startswith(str(n)) and said.endswith(form)


def test_a_broken_translation_falls_back_to_english() -> None:
    es = _catalog("es", {"Saved {what}.": "Guardado {what."})
    assert plain_spans(spans_of(_("Saved {what}.", what="A-1"), Reader(es))) == "Saved A-1."


def test_labels_headers_and_times_are_localized() -> None:
    nl = _catalog("nl", {"Due": "Vervalt", "Done": "Klaar", "Meets {when}": "Vergadert {when}"})
    at = dt.datetime(2026, 12, 9, 9, 0, tzinfo=dt.UTC)
    blocks = [Table((_("Due"),), (((Day(dt.date(2026, 12, 9)),),),)),
              Buttons((Button(_("Done"), "action done A-1"),)),
              Text((_("Meets {when}", when=When(at, "Europe/Brussels")),))]
    table, buttons, text = localize(blocks, Reader(nl, "Europe/Lisbon"))
    assert isinstance(table, Table) and isinstance(buttons, Buttons)
    assert isinstance(text, Text)
    assert table.headers == ("Vervalt",) and buttons.buttons[0].label == "Klaar"
    when = text.spans[1]
    assert isinstance(when, When) and when.zone == "Europe/Lisbon"
    # nl is no language the bot has under this name: its dates stay English
    assert plain_spans(text.spans) == "Vergadert Wed 09 Dec 2026 09:00 WET"
    # in a shared channel (no zone of the reader's) a time keeps the group's zone
    shared = localize(blocks, Reader("de"))[2]
    assert isinstance(shared, Text)
    assert plain_spans(shared.spans) == "Meets Mi., 9. Dez. 2026 10:00 CET"


@pytest.mark.parametrize(("zone", "shown"), [
    ("Europe/Lisbon", "09:00 WET"), ("Europe/Brussels", "10:00 CET"),
    ("Europe/Helsinki", "11:00 EET")])
def test_a_time_in_each_readers_zone_names_the_zone(zone: str, shown: str) -> None:
    when = When(dt.datetime(2026, 12, 9, 9, 0, tzinfo=dt.UTC), "Europe/Brussels")
    text = localize([Text((_("at {when}", when=when),))], Reader("en", zone))[0]
    assert isinstance(text, Text) and plain_spans(text.spans).endswith(shown)


def test_posts_keep_their_messages_through_the_outbox() -> None:
    at = dt.datetime(2026, 3, 29, 8, 0, tzinfo=dt.UTC)
    blocks = [Text((_("{who} decided {what} on {day}, meeting {when}.", who=ANA,
                      what=_n("{n} thing", "{n} things", 2), day=Day(dt.date(2026, 3, 29)),
                      when=When(at, "Europe/Brussels")),)),
              Table((_("Due"),), ()), Buttons((Button(_("Done"), "x"),))]
    back = blocks_from_json(blocks_to_json(blocks))
    assert back == blocks
    first = back[0]
    assert isinstance(first, Text) and isinstance(first.spans[0], Msg)
    assert first.spans[0].args == blocks[0].spans[0].args  # type: ignore[union-attr]
    assert localize(back, Reader("fr")) == localize(blocks, Reader("fr"))
