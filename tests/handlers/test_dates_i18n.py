"""Date phrases in the bot's other languages, and date errors as messages to translate.

The words are read in every language whatever the reader's: weekdays, today / tomorrow / the
day after, next <weekday>, end of week and month, next week, in <n> <unit>, and a day with a
month's full name (CLDR's), with or without accents, in any case. Each family is checked
against its English phrase on any day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import unicodedata
from collections.abc import Iterator

import pytest
from babel import Locale
from hypothesis import given
from hypothesis import strategies as st

from handlers.core import dates
from handlers.core.dates import DateError, not_past, parse_date, take_due_tail
from handlers.core.grammar import Args, UserError
from handlers.core.i18n import LANGUAGES, Msg, Reader, spans_of
from handlers.core.messages import Day

D = dt.date
SAT = D(2026, 11, 28)  # the test clock's day: Saturday 28 Nov 2026
OTHERS = tuple(lang for lang in LANGUAGES if lang != "en")
DAYS = st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 1))

ENGLISH_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                    "sunday")
ENGLISH_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
                  "september", "october", "november", "december")


def _cldr(lang: str, what: str) -> Iterator[tuple[int, str]]:
    locale = Locale.parse(lang)
    data = locale.days if what == "days" else locale.months
    for context in ("format", "stand-alone"):
        yield from data[context]["wide"].items()


# (lang, phrase, weekday) for every CLDR weekday name in every "next"/"this" phrase of its
# language: Babel's weekday 0 is Monday, as datetime's
WEEKDAY_PHRASES = sorted(
    {
        (lang, template.format(form), i)
        for lang in OTHERS
        for i, name in _cldr(lang, "days")
        for form in dates._weekday_forms(lang, name)
        for template in dates._LANGUAGES[lang].weekday
    }
)
MONTH_NAMES = sorted({(lang, name, m) for lang in OTHERS for m, name in _cldr(lang, "months")})
RELATIVE = sorted(
    (lang, text, meaning)
    for lang in OTHERS
    for meaning, texts in dates._LANGUAGES[lang].relative.items()
    for text in texts
)
ENGLISH_OF = {
    dates._TODAY: "today", dates._YESTERDAY: "yesterday", dates._TOMORROW: "tomorrow",
    dates._NEXT_WEEK: "next week", dates._END_OF_WEEK: "end of week",
    dates._END_OF_MONTH: "end of month",
}


def _unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ł", "l")


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        # weekdays: the next such day strictly after today, as in English
        ("vendredi", D(2026, 12, 4)),
        ("Freitag", D(2026, 12, 4)),
        ("viernes", D(2026, 12, 4)),
        ("venerdì", D(2026, 12, 4)),
        ("venerdi", D(2026, 12, 4)),
        ("sexta-feira", D(2026, 12, 4)),
        ("sexta", D(2026, 12, 4)),
        ("sexta feira", D(2026, 12, 4)),
        ("vrijdag", D(2026, 12, 4)),
        ("piątek", D(2026, 12, 4)),
        ("PIATEK", D(2026, 12, 4)),
        ("samedi", D(2026, 12, 5)),
        ("domingo", D(2026, 11, 29)),
        ("poniedziałek", D(2026, 11, 30)),
        ("miércoles", D(2026, 12, 2)),
        ("Mittwoch", D(2026, 12, 2)),
        # today, yesterday, tomorrow, the day after tomorrow
        ("aujourd'hui", SAT),
        ("Aujourd’hui", SAT),
        ("aujourdhui", SAT),
        ("heute", SAT),
        ("hoy", SAT),
        ("oggi", SAT),
        ("hoje", SAT),
        ("vandaag", SAT),
        ("dziś", SAT),
        ("dzisiaj", SAT),
        ("hier", D(2026, 11, 27)),
        ("gisteren", D(2026, 11, 27)),
        ("demain", D(2026, 11, 29)),
        ("morgen", D(2026, 11, 29)),
        ("Mañana", D(2026, 11, 29)),
        ("manana", D(2026, 11, 29)),
        ("domani", D(2026, 11, 29)),
        ("amanhã", D(2026, 11, 29)),
        ("jutro", D(2026, 11, 29)),
        ("après-demain", D(2026, 11, 30)),
        ("apres demain", D(2026, 11, 30)),
        ("übermorgen", D(2026, 11, 30)),
        ("Uebermorgen", D(2026, 11, 30)),
        ("pasado mañana", D(2026, 11, 30)),
        ("dopodomani", D(2026, 11, 30)),
        ("depois de amanhã", D(2026, 11, 30)),
        ("overmorgen", D(2026, 11, 30)),
        ("pojutrze", D(2026, 11, 30)),
        # next <weekday>
        ("vendredi prochain", D(2026, 12, 4)),
        ("ce vendredi", D(2026, 12, 4)),
        ("nächsten Freitag", D(2026, 12, 4)),
        ("naechsten freitag", D(2026, 12, 4)),
        ("am Freitag", D(2026, 12, 4)),
        ("próximo lunes", D(2026, 11, 30)),
        ("el próximo lunes", D(2026, 11, 30)),
        ("el lunes que viene", D(2026, 11, 30)),
        ("prossimo venerdì", D(2026, 12, 4)),
        ("la prossima domenica", D(2026, 11, 29)),
        ("próxima sexta", D(2026, 12, 4)),
        ("na sexta que vem", D(2026, 12, 4)),
        ("volgende vrijdag", D(2026, 12, 4)),
        ("w przyszły piątek", D(2026, 12, 4)),
        ("następny piątek", D(2026, 12, 4)),
        ("w środę", D(2026, 12, 2)),
        ("we środę", D(2026, 12, 2)),
        ("w przyszłą sobotę", D(2026, 12, 5)),
        # end of month, end of week, next week
        ("fin du mois", D(2026, 11, 30)),
        ("Monatsende", D(2026, 11, 30)),
        ("Ende des Monats", D(2026, 11, 30)),
        ("fin de mes", D(2026, 11, 30)),
        ("fine mese", D(2026, 11, 30)),
        ("fim do mês", D(2026, 11, 30)),
        ("fim do mes", D(2026, 11, 30)),
        ("eind van de maand", D(2026, 11, 30)),
        ("koniec miesiąca", D(2026, 11, 30)),
        ("fin de la semaine", D(2026, 11, 29)),
        ("koniec tygodnia", D(2026, 11, 29)),
        ("la semaine prochaine", D(2026, 11, 30)),
        ("nächste Woche", D(2026, 11, 30)),
        ("semana que vem", D(2026, 11, 30)),
        ("w przyszłym tygodniu", D(2026, 11, 30)),
        # day and month, with or without a year
        ("15 décembre", D(2026, 12, 15)),
        ("15 decembre", D(2026, 12, 15)),
        ("le 1er décembre", D(2026, 12, 1)),
        ("15. Dezember", D(2026, 12, 15)),
        ("am 15. Dezember 2027", D(2027, 12, 15)),
        ("15 März", D(2027, 3, 15)),
        ("15 Maerz", D(2027, 3, 15)),
        ("15 de diciembre", D(2026, 12, 15)),
        ("15 de diciembre de 2027", D(2027, 12, 15)),
        ("15 dicembre", D(2026, 12, 15)),
        ("l'8 dicembre", D(2026, 12, 8)),
        ("15 de dezembro", D(2026, 12, 15)),
        ("15 de março de 2027", D(2027, 3, 15)),
        ("15 december", D(2026, 12, 15)),
        ("15 augustus 2027", D(2027, 8, 15)),
        ("15 grudnia", D(2026, 12, 15)),
        ("15 grudnia 2027", D(2027, 12, 15)),
        ("15 grudnia 2027 r.", D(2027, 12, 15)),
        ("3 października", D(2027, 10, 3)),
        ("28 novembre", SAT),
        ("29 février", D(2028, 2, 29)),
        # in <n> <unit>
        ("dans 2 semaines", D(2026, 12, 12)),
        ("dans un mois", D(2026, 12, 28)),
        ("in 3 Tagen", D(2026, 12, 1)),
        ("in einer Woche", D(2026, 12, 5)),
        ("en 2 días", D(2026, 11, 30)),
        ("dentro de una semana", D(2026, 12, 5)),
        ("tra 2 settimane", D(2026, 12, 12)),
        ("daqui a 2 meses", D(2027, 1, 28)),
        ("em 1 mês", D(2026, 12, 28)),
        ("over een maand", D(2026, 12, 28)),
        ("over 3 weken", D(2026, 12, 19)),
        ("za tydzień", D(2026, 12, 5)),
        ("za 3 tygodnie", D(2026, 12, 19)),
        ("za 5 dni", D(2026, 12, 3)),
    ],
)
def test_phrases(phrase: str, expected: dt.date) -> None:
    assert parse_date(phrase, SAT) == expected


@pytest.mark.parametrize(
    ("phrase", "message", "shaped"),
    [
        # whole phrases only, each in one language
        ("vendredi matin", "Can't read 'vendredi matin' as a date", False),
        ("next vendredi", "Can't read 'next vendredi'", False),
        ("prochain Friday", "Can't read 'prochain Friday'", False),
        ("15 décembre foo", "Can't read", False),
        ("15 de grudnia", "Can't read", False),
        ("dans 2 weeks", "Can't read", False),
        # abbreviations of the other languages are not read: "mar" is March in English
        ("15 déc", "Can't read", False),
        ("ven", "Can't read", False),
        # the weekend is not the end of the week
        ("fin de semana", "Can't read", False),
        ("fine settimana", "Can't read", False),
        ("fim de semana", "Can't read", False),
        ("Wochenende", "Can't read", False),
        # a date that cannot be, in any language, is that date's error
        ("31 février", "'31 février' is not a real date", True),
        ("29 lutego 2027", "is not a real date", True),
        ("32 dicembre", "is not a real date", True),
        ("dans 0 jours", "the number must be between 1 and 999", True),
        ("za 1000 dni", "the number must be between 1 and 999", True),
    ],
)
def test_errors(phrase: str, message: str, shaped: bool) -> None:
    with pytest.raises(DateError) as info:
        parse_date(phrase, SAT)
    assert message in info.value.message
    assert info.value.shaped is shaped


def test_every_language_has_its_words() -> None:
    assert set(dates._LANGUAGES) == set(OTHERS)
    for words in dates._LANGUAGES.values():
        assert set(words.relative) == set(ENGLISH_OF) | {dates._AFTER_TOMORROW}
        assert set(words.units.values()) == {"day", "week", "month"}


def test_no_word_means_two_days() -> None:
    """Today's tables hold no word read differently by two languages (English included):
    were one added, it would be read by none (next test)."""
    assert dates._tables().ambiguous == frozenset()


def test_an_ambiguous_word_is_read_by_no_language(monkeypatch: pytest.MonkeyPatch) -> None:
    fr = dates._LANGUAGES["fr"]
    relative = {**fr.relative, dates._YESTERDAY: ("hier", "morgen")}
    # a made-up clash: French "morgen" for yesterday, German's and Dutch's tomorrow
    monkeypatch.setitem(dates._LANGUAGES, "fr", dataclasses.replace(fr, relative=relative))
    dates._tables.cache_clear()
    try:
        assert "morgen" in dates._tables().ambiguous
        with pytest.raises(DateError, match="Can't read 'morgen'"):
            parse_date("morgen", SAT)
        assert parse_date("demain", SAT) == D(2026, 11, 29)
        assert parse_date("hier", SAT) == D(2026, 11, 27)
    finally:
        monkeypatch.undo()
        dates._tables.cache_clear()
    assert parse_date("morgen", SAT) == D(2026, 11, 29)


@given(DAYS, st.sampled_from(WEEKDAY_PHRASES))
def test_weekday_phrases_are_the_english_weekday(
    today: dt.date, case: tuple[str, str, int]
) -> None:
    _lang, phrase, weekday = case
    assert parse_date(phrase, today) == parse_date(ENGLISH_WEEKDAYS[weekday], today)


@given(DAYS, st.sampled_from(RELATIVE))
def test_relative_phrases_are_the_english_ones(
    today: dt.date, case: tuple[str, str, tuple[str, int]]
) -> None:
    _lang, phrase, meaning = case
    if meaning == dates._AFTER_TOMORROW:
        expected = today + dt.timedelta(days=2)
    else:
        expected = parse_date(ENGLISH_OF[meaning], today)
    assert parse_date(phrase, today) == expected


@given(DAYS, st.sampled_from(MONTH_NAMES), st.integers(1, 28), st.none() | st.integers(1990, 2100))
def test_day_and_month_is_the_english_one(
    today: dt.date, case: tuple[str, str, int], day: int, year: int | None
) -> None:
    lang, name, month = case
    tail = "" if year is None else f" {year}"
    english = parse_date(f"{day} {ENGLISH_MONTHS[month - 1]}{tail}", today)
    assert parse_date(f"{day} {name}{tail}", today) == english
    of = " de " if lang in ("es", "pt") else " "
    dot = "." if lang in ("de", "pl") else ""
    assert parse_date(f"{day}{dot}{of}{name}{tail}", today) == english


@given(
    DAYS,
    st.sampled_from(WEEKDAY_PHRASES + [(lang, f"15 {name}", m) for lang, name, m in MONTH_NAMES]
                    + [(lang, text, 0) for lang, text, _m in RELATIVE]),
    st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_accents_and_case_do_not_matter(
    today: dt.date, case: tuple[str, str, int], upper: list[bool]
) -> None:
    _lang, phrase, _meaning = case
    expected = parse_date(phrase, today)
    plain = _unaccented(phrase)
    shouted = "".join(c.upper() if u else c for c, u in zip(plain, itertools.cycle(upper)))
    assert parse_date(plain, today) == expected
    assert parse_date(shouted, today) == expected
    assert parse_date(phrase.upper(), today) == expected


_PIECES = sorted(
    {w for _l, p, _m in WEEKDAY_PHRASES + RELATIVE for w in p.split()}
    | {name for _l, name, _m in MONTH_NAMES}
    | {"1er", "15.", "de", "r.", "l'8", "2027", "0", "1000", "15", "31", "-", "'", "in", "za"}
)


@given(
    st.lists(st.sampled_from(_PIECES) | st.text(alphabet="áçęłńóśźżßüñ'’-. 0123456789", max_size=6),
             max_size=6),
    DAYS,
)
def test_any_words_are_a_date_or_a_user_error(words: list[str], today: dt.date) -> None:
    """Words of every language in any order: a date or a UserError, never another error."""
    try:
        got = parse_date(" ".join(words), today)
    except UserError:
        return
    assert isinstance(got, dt.date)


@given(st.text(max_size=40), DAYS)
def test_any_text_is_a_date_or_a_user_error(phrase: str, today: dt.date) -> None:
    try:
        got = parse_date(phrase, today)
    except UserError:
        return
    assert isinstance(got, dt.date)


# --- due <date> in another language -----------------------------------------------------------


def _due(line: str) -> tuple[str, dt.date | None]:
    args = Args.of(line)
    end, due, _ = take_due_tail(args, SAT)
    return " ".join(t.value for t in args.tokens[:end]), due


def test_due_in_another_language() -> None:
    assert _due("Rapport due vendredi prochain") == ("Rapport", D(2026, 12, 4))
    assert _due("Bericht due 15. Dezember") == ("Bericht", D(2026, 12, 15))
    assert _due("Informe due el próximo lunes") == ("Informe", D(2026, 11, 30))
    assert _due("Raport due za tydzień") == ("Raport", D(2026, 12, 5))


def test_due_with_a_time_in_another_language_is_refused() -> None:
    with pytest.raises(UserError) as info:
        _due("Rapport due vendredi 16:00")
    assert info.value.message.startswith(
        "A due date is a day, without a time of day: write `due vendredi` (that is Fri 04 Dec")
    with pytest.raises(UserError, match="without a time of day"):
        _due("Bericht due nächsten Freitag 4pm")


def test_due_words_that_are_not_a_date_stay_text() -> None:
    assert _due("Ask Marco due diligence report") == ("Ask Marco due diligence report", None)
    # a month's name alone starts no date in the other languages (and may be a name)
    assert _due("Call due Marco Rossi") == ("Call due Marco Rossi", None)


# --- the errors are messages -------------------------------------------------------------------


def test_errors_are_messages_with_ids() -> None:
    with pytest.raises(DateError) as info:
        parse_date("fooday", SAT)
    message = info.value.message
    assert isinstance(message, Msg)
    assert message.msgid == "Can't read {phrase} as a date: {hint}."
    hint = dict(message.args)["hint"]
    assert isinstance(hint, Msg) and hint.msgid.startswith("try 2026-12-15, tomorrow")
    assert dict(message.args)["phrase"] == "'fooday'"


def test_past_due_date_names_its_days_as_days() -> None:
    with pytest.raises(UserError) as info:
        not_past(D(2026, 11, 27), SAT)
    message = info.value.message
    assert message == "The due date Fri 27 Nov 2026 is in the past (today is Sat 28 Nov 2026)."
    assert isinstance(message, Msg)
    spans = spans_of(message, Reader("fr"))
    assert Day(D(2026, 11, 27), "fr") in spans and Day(SAT, "fr") in spans
