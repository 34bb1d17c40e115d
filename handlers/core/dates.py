"""Date phrases as people type them: ``2026-12-15``, ``friday``, ``in 2 weeks``, ``15 Dec``.

Pure functions of the words and ``today`` (the bot zone's date), so every phrase is testable
with a fixed day. Numeric forms are read day first, the European way the programme writes
them: ``15/12``, ``15.12.2027``, ``03/04/2027`` (3 April). Month-first (``12/15``) and
year-first slashed forms are refused rather than guessed.

The same phrases are read in the bot's other languages too, whatever the reader's own:
``vendredi``, ``nächsten Freitag``, ``el próximo lunes``, ``domani``, ``fim do mês``,
``15 december``, ``15 grudnia 2027``, with or without accents, in any case. Month and weekday
names come from Babel's CLDR data (full names only: abbreviations are too often another
language's word); the relative words are the small tables below. A phrase is read as a
whole, exactly where a date is expected, and a word that means different days in two
languages is read in none.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

from dateutil.relativedelta import relativedelta

from handlers.core.grammar import Args, UserError
from handlers.core.i18n import _
from handlers.core.messages import Day

T = TypeVar("T")

# TRANSLATORS: examples of dates the bot reads, ending a "Can't read ... as a date:" error.
# Dates are also read in your language: write its words (tomorrow, friday, next week, in 2
# weeks, end of month) and a FULL month name (15 December), never an abbreviated one.
HINT = _(
    "try 2026-12-15, tomorrow, friday, next week, in 2 weeks, end of month, 15 Dec "
    "or 15/12/2026"
)

WEEKDAYS: dict[str, int] = {}
for _i, _name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
):
    WEEKDAYS[_name] = _i
    WEEKDAYS[_name[:3]] = _i
WEEKDAYS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})

MONTHS: dict[str, int] = {}
for _i, _name in enumerate(
    (
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    ),
    start=1,
):
    MONTHS[_name] = _i
    MONTHS[_name[:3]] = _i
MONTHS["sept"] = 9

# re.ASCII throughout: \d alone also matches other scripts' digits, which int() then reads
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_SLASHED = re.compile(r"^\d{1,4}[/.]\d{1,2}(?:[/.]\d{1,4})?\.?$", re.ASCII)
# day first: 15/12, 15.12., 15/12/2027, 15.12.2027 (one separator throughout, four-digit year)
_DMY = re.compile(r"^(\d{1,2})([/.])(\d{1,2})(?:\2(\d{4}))?\.?$", re.ASCII)
_DAY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$", re.ASCII)
_YEAR = re.compile(r"^\d{4}$", re.ASCII)
_IN = re.compile(r"^in (\d{1,6}|a|an|one) (day|days|week|weeks|month|months)$", re.ASCII)

MAX_N = 999


class DateError(UserError):
    """A date that could not be read. ``shaped`` is True when the words clearly meant a
    date (``31 Feb``, ``15/12/2027``, ``in 0 days``), so a caller that would otherwise keep
    them as free text knows to report the error instead."""

    def __init__(self, message: str, *, shaped: bool) -> None:
        super().__init__(message)
        self.shaped = shaped


def _shift(day: dt.date, delta: relativedelta) -> dt.date:
    """``day + delta`` with the type dateutil leaves untyped; month ends clamp (31 Jan + 1
    month is 28 or 29 Feb)."""
    result: dt.date = day + delta
    return result


def _bad(raw: str) -> DateError:
    return DateError(
        # TRANSLATORS: {phrase} is what was typed, quoted; {hint} lists dates the bot reads
        _("Can't read {phrase} as a date: {hint}.", phrase=repr(raw), hint=HINT), shaped=False
    )


def _make(raw: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(
            _("{phrase} is not a real date: {hint}.", phrase=repr(raw), hint=HINT), shaped=True
        ) from None


def _day_month(raw: str, words: list[str], today: dt.date) -> dt.date | None:
    """``15 Dec``, ``Dec 15``, ``15th of December 2027``, ``Dec 15, 2027`` or None."""
    words = [w for w in words if w != "of"]
    year: int | None = None
    if len(words) == 3 and _YEAR.match(words[2]):
        year = int(words[2])
        words = words[:2]
    if len(words) != 2:
        return None
    first, second = words
    if _DAY.match(first) and second in MONTHS:
        day_word, month = first, MONTHS[second]
    elif first in MONTHS and _DAY.match(second):
        day_word, month = second, MONTHS[first]
    else:
        return None
    m = _DAY.match(day_word)
    assert m is not None
    day = int(m.group(1))
    if year is not None:
        return _make(raw, year, month, day)
    return _next_such_day(lambda y: _make(raw, y, month, day), month, day, today)


def _next_such_day(make: Callable[[int], dt.date], month: int, day: int,
                   today: dt.date) -> dt.date:
    """A day and month with no year: the next one on or after ``today`` (``make(year)``
    builds it, or refuses an impossible one in its own words); 29 February is the next
    leap day, within one leap cycle."""
    if month == 2 and day == 29:
        for y in range(today.year, today.year + 9):
            try:
                candidate = dt.date(y, 2, 29)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
    candidate = make(today.year)
    return candidate if candidate >= today else make(today.year + 1)


def _numeric(raw: str, m: re.Match[str], today: dt.date) -> dt.date:
    """``15/12`` or ``15.12.2027``, day first; without a year, the next such day from today.
    An impossible day or month (``12/15``, ``31/04``) is refused with one message."""
    day, month = int(m.group(1)), int(m.group(3))
    if m.group(4) is not None:
        return _make_numeric(raw, int(m.group(4)), month, day)
    return _next_such_day(lambda y: _make_numeric(raw, y, month, day), month, day, today)


def _make_numeric(raw: str, year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(
            _("{phrase} is not a real date: numeric dates are day first "
              "(15/12/2026 is 15 December).", phrase=repr(raw)),
            shaped=True,
        ) from None


def parse_date(words: list[str] | str, today: dt.date) -> dt.date:
    """The date a phrase means, counted from ``today``; UserError if it means none."""
    raw = words if isinstance(words, str) else " ".join(words)
    raw = " ".join(raw.split())
    phrase = raw.lower().replace(",", " ")
    toks = phrase.split()
    phrase = " ".join(toks)
    if not toks:
        # TRANSLATORS: <date> is the command's placeholder as its usage line writes it
        raise DateError(_("Missing <date>: {hint}.", hint=HINT), shaped=False)

    if m := _ISO.match(phrase):
        return _make(raw, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DMY.match(phrase):
        return _numeric(raw, m, today)
    if _SLASHED.match(phrase):
        raise DateError(
            # TRANSLATORS: {phrase} is what was typed, quoted. Write the month of "15 Dec" in
            # full in your language (15 décembre): abbreviations are read in English only
            _("{phrase} is not a date I can read: numeric dates are day first, like "
              "15/12/2026 or 15.12.2026 (or write 2026-12-15 or 15 Dec).", phrase=repr(raw)),
            shaped=True,
        )
    if phrase == "today":
        return today
    if phrase == "yesterday":
        return today - dt.timedelta(days=1)
    if phrase == "tomorrow":
        return today + dt.timedelta(days=1)
    if phrase in ("next week",):
        return today + dt.timedelta(days=7 - today.weekday())
    if phrase in ("end of month", "end of the month", "eom"):
        return _shift(today, relativedelta(day=31))
    if phrase in ("end of week", "end of the week", "eow"):
        return today + dt.timedelta(days=6 - today.weekday())
    day_name = toks[1] if len(toks) == 2 and toks[0] in ("next", "on", "this") else phrase
    if day_name in WEEKDAYS and len(toks) <= 2:
        ahead = (WEEKDAYS[day_name] - today.weekday()) % 7 or 7
        return today + dt.timedelta(days=ahead)
    if m := _IN.match(phrase):
        n = 1 if m.group(1) in ("a", "an", "one") else int(m.group(1))
        return _in(raw, n, m.group(2).rstrip("s"), today)
    found = _day_month(raw, toks, today)
    if found is None:
        found = _foreign(raw, phrase, today)
    if found is not None:
        return found
    raise _bad(raw)


def _in(raw: str, n: int, unit: str, today: dt.date) -> dt.date:
    """``in <n> <unit>`` (unit: day, week or month) from ``today``."""
    if not 1 <= n <= MAX_N:
        raise DateError(
            _("{phrase}: the number must be between 1 and {max}.", phrase=repr(raw), max=MAX_N),
            shaped=True,
        )
    if unit == "day":
        return today + dt.timedelta(days=n)
    if unit == "week":
        return today + dt.timedelta(weeks=n)
    return _shift(today, relativedelta(months=n))


def format_date(d: dt.date) -> str:
    """``Fri 04 Dec 2026``: the same plain form the shell uses for a Day span."""
    return d.strftime("%a %d %b %Y")


# --- the other languages -----------------------------------------------------------------

# What a whole phrase means: ("offset", days from today), ("weekday", 0 = Monday), or the
# start of next week, the end of this week or of this month (their number unused).
_Meaning = tuple[str, int]
_TODAY: _Meaning = ("offset", 0)
_YESTERDAY: _Meaning = ("offset", -1)
_TOMORROW: _Meaning = ("offset", 1)
_AFTER_TOMORROW: _Meaning = ("offset", 2)
_NEXT_WEEK: _Meaning = ("next week", 0)
_END_OF_WEEK: _Meaning = ("end of week", 0)
_END_OF_MONTH: _Meaning = ("end of month", 0)

_DAYS, _WEEKS, _MONTHS = "day", "week", "month"


@dataclass(frozen=True)
class _Language:
    """One language's date words. Its month and weekday names come from CLDR; ``weekday``
    are the phrases around a weekday's name (``{}``), ``next`` and ``this`` alike meaning,
    as in English, the first such day after today. Every word is matched folded (no case,
    no accents), so the tables are written as the language writes them."""

    relative: dict[_Meaning, tuple[str, ...]]
    weekday: tuple[str, ...]
    starts: tuple[str, ...]  # words that open a weekday phrase (`due prochain ...`)
    within: tuple[str, ...]  # `in <n> <unit>`: the words before the count
    one: tuple[str, ...]  # a count of one in words (`une semaine`)
    units: dict[str, str]
    bare_unit: bool = False  # `za tydzień`: a unit alone is one of it
    lead: tuple[str, ...] = ()  # before a day and month: `le 15 décembre`
    day: str = r"(\d{1,2})"  # the day's number as written (re.ASCII): `1er`, `15.`
    of: tuple[str, ...] = ()  # between day, month and year: `15 de diciembre de 2027`
    after_year: tuple[str, ...] = ()  # `15 grudnia 2027 r.`


_LANGUAGES: dict[str, _Language] = {
    "fr": _Language(
        relative={
            _TODAY: ("aujourd'hui",),
            _YESTERDAY: ("hier",),
            _TOMORROW: ("demain",),
            _AFTER_TOMORROW: ("après-demain",),
            _NEXT_WEEK: ("la semaine prochaine", "semaine prochaine"),
            _END_OF_WEEK: ("fin de la semaine", "la fin de la semaine", "fin de cette semaine"),
            _END_OF_MONTH: ("fin du mois", "fin de mois", "la fin du mois", "fin de ce mois"),
        },
        weekday=("{}", "ce {}", "{} prochain", "prochain {}"),
        starts=("prochain",),
        within=("dans",),
        one=("un", "une"),
        units={"jour": _DAYS, "jours": _DAYS, "semaine": _WEEKS, "semaines": _WEEKS,
               "mois": _MONTHS},
        lead=("le",),
        day=r"(\d{1,2})(?:er)?",
    ),
    "de": _Language(
        relative={
            _TODAY: ("heute",),
            _YESTERDAY: ("gestern",),
            _TOMORROW: ("morgen",),
            _AFTER_TOMORROW: ("übermorgen",),
            _NEXT_WEEK: ("nächste Woche", "kommende Woche"),
            _END_OF_WEEK: ("Ende der Woche", "Ende dieser Woche", "zum Ende der Woche"),
            _END_OF_MONTH: ("Monatsende", "zum Monatsende", "Ende des Monats",
                            "Ende dieses Monats", "zum Ende des Monats"),
        },
        weekday=("{}", "am {}", "diesen {}", "nächsten {}", "nächster {}", "am nächsten {}",
                 "kommenden {}", "am kommenden {}"),
        starts=("nächsten", "nächster", "kommenden"),
        within=("in",),
        one=("einem", "einer"),
        units={"Tag": _DAYS, "Tagen": _DAYS, "Woche": _WEEKS, "Wochen": _WEEKS,
               "Monat": _MONTHS, "Monaten": _MONTHS},
        lead=("am", "den", "zum", "bis zum"),
        day=r"(\d{1,2})\.?",
    ),
    "es": _Language(
        relative={
            _TODAY: ("hoy",),
            _YESTERDAY: ("ayer",),
            _TOMORROW: ("mañana",),
            _AFTER_TOMORROW: ("pasado mañana",),
            _NEXT_WEEK: ("la próxima semana", "próxima semana", "la semana próxima",
                         "la semana que viene", "semana que viene"),
            # not "fin de semana": that is the weekend
            _END_OF_WEEK: ("fin de la semana", "final de la semana"),
            _END_OF_MONTH: ("fin de mes", "fin del mes", "final de mes", "final del mes",
                            "a fin de mes", "a final de mes"),
        },
        weekday=("{}", "el {}", "este {}", "próximo {}", "el próximo {}", "{} próximo",
                 "el {} próximo", "{} que viene", "el {} que viene"),
        starts=("próximo",),
        within=("en", "dentro de"),
        one=("un", "una"),
        units={"día": _DAYS, "días": _DAYS, "semana": _WEEKS, "semanas": _WEEKS,
               "mes": _MONTHS, "meses": _MONTHS},
        lead=("el",),
        day=r"(\d{1,2})º?",
        of=("de", "del"),
    ),
    "it": _Language(
        relative={
            _TODAY: ("oggi",),
            _YESTERDAY: ("ieri",),
            _TOMORROW: ("domani",),
            _AFTER_TOMORROW: ("dopodomani",),
            _NEXT_WEEK: ("la prossima settimana", "prossima settimana",
                         "la settimana prossima", "settimana prossima"),
            # not "fine settimana": that is the weekend
            _END_OF_WEEK: ("fine della settimana", "fine di questa settimana"),
            _END_OF_MONTH: ("fine mese", "fine del mese", "a fine mese", "fine di questo mese",
                            "entro fine mese"),
        },
        weekday=("{}", "questo {}", "questa {}", "{} prossimo", "{} prossima", "prossimo {}",
                 "prossima {}", "il prossimo {}", "la prossima {}"),
        starts=("prossimo", "prossima"),
        within=("tra", "fra"),
        one=("un", "una", "uno"),
        units={"giorno": _DAYS, "giorni": _DAYS, "settimana": _WEEKS, "settimane": _WEEKS,
               "mese": _MONTHS, "mesi": _MONTHS},
        lead=("il",),
        day=r"(?:l')?(\d{1,2})º?",
    ),
    "pt": _Language(
        relative={
            _TODAY: ("hoje",),
            _YESTERDAY: ("ontem",),
            _TOMORROW: ("amanhã",),
            _AFTER_TOMORROW: ("depois de amanhã",),
            _NEXT_WEEK: ("a próxima semana", "próxima semana", "na próxima semana",
                         "a semana que vem", "semana que vem", "na semana que vem"),
            # not "fim de semana": that is the weekend
            _END_OF_WEEK: ("fim da semana", "final da semana"),
            _END_OF_MONTH: ("fim do mês", "final do mês", "fim de mês", "no fim do mês",
                            "no final do mês", "até o fim do mês", "até ao fim do mês"),
        },
        weekday=("{}", "na {}", "no {}", "esta {}", "este {}", "nesta {}", "neste {}",
                 "próxima {}", "próximo {}", "a próxima {}", "o próximo {}", "na próxima {}",
                 "no próximo {}", "{} que vem", "na {} que vem", "no {} que vem"),
        starts=("próxima", "próximo"),
        within=("em", "daqui a", "dentro de"),
        one=("um", "uma"),
        units={"dia": _DAYS, "dias": _DAYS, "semana": _WEEKS, "semanas": _WEEKS,
               "mês": _MONTHS, "meses": _MONTHS},
        lead=("dia", "em", "no dia", "a"),
        day=r"(\d{1,2})º?",
        of=("de",),
    ),
    "nl": _Language(
        relative={
            _TODAY: ("vandaag",),
            _YESTERDAY: ("gisteren",),
            _TOMORROW: ("morgen",),
            _AFTER_TOMORROW: ("overmorgen",),
            _NEXT_WEEK: ("volgende week", "komende week"),
            _END_OF_WEEK: ("eind van de week", "einde van de week", "eind deze week",
                           "eind van deze week", "einde van deze week"),
            _END_OF_MONTH: ("eind van de maand", "einde van de maand", "eind deze maand",
                            "eind van deze maand", "einde van deze maand", "einde maand",
                            "eind maand"),
        },
        weekday=("{}", "op {}", "deze {}", "volgende {}", "komende {}", "aanstaande {}"),
        starts=("volgende", "komende", "aanstaande"),
        within=("over", "in"),
        one=("een", "één"),
        units={"dag": _DAYS, "dagen": _DAYS, "week": _WEEKS, "weken": _WEEKS,
               "maand": _MONTHS, "maanden": _MONTHS},
        lead=("op",),
        day=r"(\d{1,2})e?",
    ),
    "pl": _Language(
        relative={
            _TODAY: ("dziś", "dzisiaj"),
            _YESTERDAY: ("wczoraj",),
            _TOMORROW: ("jutro",),
            _AFTER_TOMORROW: ("pojutrze",),
            _NEXT_WEEK: ("przyszły tydzień", "w przyszłym tygodniu", "następny tydzień",
                         "w następnym tygodniu"),
            _END_OF_WEEK: ("koniec tygodnia", "na koniec tygodnia", "do końca tygodnia"),
            _END_OF_MONTH: ("koniec miesiąca", "na koniec miesiąca", "do końca miesiąca"),
        },
        weekday=("{}", "w {}", "we {}", "w ten {}", "w tę {}", "przyszły {}", "przyszłą {}",
                 "w przyszły {}", "w przyszłą {}", "następny {}", "następną {}",
                 "w następny {}", "w następną {}", "najbliższy {}", "najbliższą {}",
                 "w najbliższy {}", "w najbliższą {}"),
        starts=("przyszły", "przyszłą", "następny", "następną", "najbliższy", "najbliższą"),
        within=("za",),
        one=("jeden", "jedną"),
        units={"dzień": _DAYS, "dni": _DAYS, "tydzień": _WEEKS, "tygodnie": _WEEKS,
               "tygodni": _WEEKS, "miesiąc": _MONTHS, "miesiące": _MONTHS,
               "miesięcy": _MONTHS},
        bare_unit=True,
        lead=("dnia",),
        day=r"(\d{1,2})\.?",
        after_year=("r", "r.", "roku"),
    ),
}

# English's whole phrases (read first, by parse_date): another language's word that would
# mean something else in English is dropped, not shadowed in silence
_ENGLISH: dict[str, _Meaning] = {
    "today": _TODAY, "yesterday": _YESTERDAY, "tomorrow": _TOMORROW, "next week": _NEXT_WEEK,
    "end of month": _END_OF_MONTH, "end of the month": _END_OF_MONTH, "eom": _END_OF_MONTH,
    "end of week": _END_OF_WEEK, "end of the week": _END_OF_WEEK, "eow": _END_OF_WEEK,
}

_FOLD = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "-": " ",
                       "‐": " ", "ł": "l", "ß": "ss"})
_COUNT = re.compile(r"^\d{1,6}$", re.ASCII)


def _fold(text: str) -> str:
    """``Après-demain`` -> ``apres demain``: lower case, no accents (``ł`` is ``l``), one
    apostrophe, hyphens as spaces, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.lower().translate(_FOLD))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _variants(lang: str, text: str) -> set[str]:
    """The folded spellings of a table's word: German's umlauts also as ae/oe/ue (``Maerz``),
    an apostrophe also left out (``aujourdhui``)."""
    text = text.lower()
    out = {_fold(text)}
    if lang == "de":
        out.add(_fold(text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")))
    return out | {v.replace("'", "") for v in out if "'" in v}


def _weekday_forms(lang: str, name: str) -> set[str]:
    """A CLDR weekday name and the forms people also write: Portuguese drops ``-feira``
    (``sexta``); Polish says ``w środę`` (a feminine name's accusative)."""
    forms = {name}
    if lang == "pt" and name.endswith("-feira"):
        forms.add(name.removesuffix("-feira"))
    if lang == "pl" and name.endswith("a"):
        forms.add(name[:-1] + "ę")
    return forms


@dataclass(frozen=True)
class _Reader:
    """One language's tables, folded, for reading."""

    within: tuple[tuple[str, ...], ...]
    one: frozenset[str]
    units: dict[str, str]
    bare_unit: bool
    lead: tuple[tuple[str, ...], ...]
    day: re.Pattern[str]
    of: frozenset[str]
    after_year: frozenset[tuple[str, ...]]
    months: dict[str, int]


@dataclass(frozen=True)
class _Tables:
    phrases: dict[str, _Meaning]  # a whole phrase, folded
    readers: dict[str, _Reader]
    # first words of a phrase that can only be a date, for `due <words>` (a month name is
    # not one: the other languages write the day first, and it may be a name, Marco, Maja)
    starts: frozenset[str]
    ambiguous: frozenset[str]  # dropped: they mean different days in different languages


def _folded(lang: str, texts: tuple[str, ...]) -> set[str]:
    return {v for t in texts for v in _variants(lang, t)}


@functools.cache
def _tables() -> _Tables:
    """Every language's phrases and month names, folded; a phrase or month name that two
    languages (English included) read differently is kept by none."""
    from babel import Locale

    phrases: dict[str, set[_Meaning]] = {}
    months: dict[str, dict[str, int]] = {}
    month_claims: dict[str, set[int]] = {}
    starts: set[str] = set()

    def claim(lang: str, text: str, meaning: _Meaning) -> None:
        for v in _variants(lang, text):
            phrases.setdefault(v, set()).add(meaning)

    english = dict(_ENGLISH)
    for name, i in WEEKDAYS.items():
        for t in ("{}", "next {}", "on {}", "this {}"):
            english[t.format(name)] = ("weekday", i)
    for text, meaning in english.items():
        phrases.setdefault(text, set()).add(meaning)
    for name, i in MONTHS.items():
        month_claims.setdefault(name, set()).add(i)
    for lang, words in _LANGUAGES.items():
        locale = Locale.parse(lang)
        for meaning, texts in words.relative.items():
            for text in texts:
                claim(lang, text, meaning)
                if " " not in text:
                    starts |= _variants(lang, text)
        months[lang] = {}
        for context in ("format", "stand-alone"):
            for weekday, name in locale.days[context]["wide"].items():
                for form in _weekday_forms(lang, name):
                    starts |= _variants(lang, form)
                    for t in words.weekday:
                        claim(lang, t.format(form), ("weekday", weekday))
            for month, name in locale.months[context]["wide"].items():
                for v in _variants(lang, name):
                    months[lang][v] = month
                    month_claims.setdefault(v, set()).add(month)
        starts |= _folded(lang, words.starts)
    ambiguous = {p for p, m in phrases.items() if len(m) > 1}
    ambiguous |= {name for name, m in month_claims.items() if len(m) > 1}
    readers = {
        lang: _Reader(
            within=tuple(tuple(v.split()) for v in _folded(lang, words.within)),
            one=frozenset(_folded(lang, words.one)),
            units={v: unit for text, unit in words.units.items()
                   for v in _variants(lang, text)},
            bare_unit=words.bare_unit,
            lead=tuple(tuple(v.split()) for v in _folded(lang, words.lead)),
            day=re.compile(f"^{words.day}$", re.ASCII),
            of=frozenset(_folded(lang, words.of)),
            after_year=frozenset(tuple(v.split()) for v in _folded(lang, words.after_year)),
            months={n: m for n, m in months[lang].items() if n not in ambiguous},
        )
        for lang, words in _LANGUAGES.items()
    }
    return _Tables(
        phrases={p: next(iter(m)) for p, m in phrases.items()
                 if len(m) == 1 and p not in english},  # English's own are read before
        readers=readers,
        starts=frozenset(starts - ambiguous),
        ambiguous=frozenset(ambiguous),
    )


def _resolve(meaning: _Meaning, today: dt.date) -> dt.date:
    kind, n = meaning
    if kind == "offset":
        return today + dt.timedelta(days=n)
    if kind == "weekday":
        return today + dt.timedelta(days=(n - today.weekday()) % 7 or 7)
    if kind == "next week":
        return today + dt.timedelta(days=7 - today.weekday())
    if kind == "end of week":
        return today + dt.timedelta(days=6 - today.weekday())
    return _shift(today, relativedelta(day=31))


def _within(raw: str, toks: list[str], reader: _Reader, today: dt.date) -> dt.date | None:
    """``dans 2 semaines``, ``in einer Woche``, ``za tydzień``, or None."""
    for words in reader.within:
        if tuple(toks[: len(words)]) == words:
            rest = toks[len(words):]
            break
    else:
        return None
    if len(rest) == 1 and reader.bare_unit:
        n: int | None = 1
    elif len(rest) == 2:
        count = rest.pop(0)
        n = 1 if count in reader.one else int(count) if _COUNT.match(count) else None
    else:
        return None
    unit = reader.units.get(rest[0])
    if n is None or unit is None:
        return None
    return _in(raw, n, unit, today)


def _dated(raw: str, toks: list[str], reader: _Reader, today: dt.date) -> dt.date | None:
    """``le 1er décembre``, ``15. Dezember 2027``, ``15 de diciembre de 2027``, ``l'8
    dicembre``, ``15 grudnia 2027 r.``, or None."""
    for words in sorted(reader.lead, key=len, reverse=True):
        if len(toks) > len(words) and tuple(toks[: len(words)]) == words:
            toks = toks[len(words):]
            break
    m = reader.day.match(toks[0]) if toks else None
    if m is None:
        return None
    rest = toks[1:]
    if rest and rest[0] in reader.of:
        rest = rest[1:]
    if not rest or rest[0] not in reader.months:
        return None
    month, day = reader.months[rest[0]], int(m.group(1))
    rest = rest[1:]
    if not rest:
        return _next_such_day(lambda y: _make(raw, y, month, day), month, day, today)
    if len(rest) > 1 and rest[0] in reader.of:
        rest = rest[1:]
    if not _YEAR.match(rest[0]) or (len(rest) > 1 and tuple(rest[1:]) not in reader.after_year):
        return None
    return _make(raw, int(rest[0]), month, day)


def _foreign(raw: str, phrase: str, today: dt.date) -> dt.date | None:
    """The phrase read in the bot's other languages: a date when those that read it agree;
    the date's error when one only finds it impossible (``31 février``); else None."""
    tables = _tables()
    folded = _fold(phrase)
    if (meaning := tables.phrases.get(folded)) is not None:
        return _resolve(meaning, today)
    toks = folded.split()
    found: set[dt.date] = set()
    errors: list[DateError] = []
    for reader in tables.readers.values():
        try:
            got = _within(raw, toks, reader, today) or _dated(raw, toks, reader, today)
        except DateError as err:
            errors.append(err)
            continue
        if got is not None:
            found.add(got)
    if len(found) == 1:
        return found.pop()
    if not found and errors:
        raise errors[0]
    return None


# --- the trailing `due <date>` / `group <group>` of an action, one rule everywhere ---------

# A first word that starts a date phrase: after `due`, it makes the tail an attempt at a date.
_DATE_START = frozenset(
    {"today", "tomorrow", "yesterday", "next", "this", "on", "in", "end", "eom", "eow"}
)
_TIME = re.compile(
    r"^(?:\d{1,2}(?:[:.h]\d{2})?(?:am|pm)|\d{1,2}[:h]\d{2}|noon|midnight|am|pm)$",
    re.ASCII | re.IGNORECASE,
)


def not_past(due: dt.date, today: dt.date) -> None:
    """A new due date is today or later, wherever it is typed."""
    if due < today:
        raise UserError(
            _("The due date {due} is in the past (today is {today}).",
              due=Day(due), today=Day(today))
        )


def _reads_as_date(words: list[str]) -> bool:
    """``due blah`` or ``due friday 4pm`` means a date; ``due diligence report`` is text."""
    first = words[0].lower().rstrip(",")
    return (
        len(words) == 1
        or first in WEEKDAYS
        or first in MONTHS
        or first in _DATE_START
        or (first[:1].isascii() and first[:1].isdigit())
        or _fold(first) in _tables().starts
    )


def _last_keyword(args: Args, word: str, end: int) -> int | None:
    for i in range(end - 1, args.pos - 1, -1):
        tok = args.tokens[i]
        if not tok.quoted and tok.value.lower() == word:
            return i
    return None


def _check_due_attempt(words: list[str], today: dt.date) -> None:
    """Raise the reason a ``due`` tail that reads as a date is not one."""
    if len(words) > 1 and _TIME.match(words[-1]):
        try:
            day = parse_date(words[:-1], today)
        except DateError:
            pass
        else:
            raise UserError(
                # TRANSLATORS: `due {words}` is the command's option as typed: keep `due`
                _("A due date is a day, without a time of day: write `due {words}` "
                  "(that is {date}).", words=" ".join(words[:-1]), date=Day(day))
            )
    parse_date(words, today)  # raises the date's own error
    raise _bad(" ".join(words))  # pragma: no cover - a tail that parses was taken already


def take_due_tail(
    args: Args,
    today: dt.date,
    group: Callable[[list[str]], T] | None = None,
) -> tuple[int, dt.date | None, T | None]:
    """Peel ``due <date>`` and (when ``group`` is given) ``group <group>`` off an action's
    text, the one rule for ``action add`` and ``#action``.

    Returns the end of the title, the due date and the group. A tail that reads as an
    attempt and fails is an error (the date's or the group's own), so nothing is written
    with a wrong due date or group folded into its title: ``due`` followed by one word or by
    words that start like a date (``due blah``, ``due friday 4pm``, ``due 31 Feb``), or
    ``group`` followed by one word. Other words (``the due diligence report``) stay in the
    title silently. A past due date is refused.
    """
    parsers: dict[str, Callable[[list[str]], object]] = {
        "due": lambda words: parse_date(words, today)
    }
    if group is not None:
        parsers["group"] = group
    end, opts = args.take_trailing_options(parsers)
    found: T | None = None
    if group is not None:
        if "group" in opts:
            found = cast("T", opts["group"])
        elif (i := _last_keyword(args, "group", end)) is not None:
            words = [t.value for t in args.tokens[i + 1 : end]]
            if len(words) == 1:
                group(words)  # raises the group's own error
    due = opts.get("due")
    assert due is None or isinstance(due, dt.date)
    if due is None and (i := _last_keyword(args, "due", end)) is not None:
        words = [t.value for t in args.tokens[i + 1 : end]]
        if words and _reads_as_date(words):
            _check_due_attempt(words, today)
    if due is not None:
        not_past(due, today)
    return end, due, found


# --- months (the report, check-ins) ---------------------------------------------------------

_MONTH_NUMBERS = {name.lower(): i for i, name in enumerate(_calendar.month_name) if name}
_MONTH_NUMBERS.update({name.lower(): i for i, name in enumerate(_calendar.month_abbr) if name})


def parse_month(raw: str, today: dt.date) -> dt.date:
    """``2026-10``, ``october``, ``oct 2026``, ``this month``, ``last month`` -> the first
    day of that month. A bare month name is the latest one not after this month."""
    text = " ".join(raw.lower().split())
    if text in ("", "this month", "this"):
        return today.replace(day=1)
    if text in ("last month", "last", "previous"):
        return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text, re.ASCII)
    if m and 1 <= int(m.group(2)) <= 12:
        return dt.date(int(m.group(1)), int(m.group(2)), 1)
    m = re.fullmatch(r"([a-z]+)\.?(?: (\d{4}))?", text, re.ASCII)
    if m and m.group(1) in _MONTH_NUMBERS:
        month = _MONTH_NUMBERS[m.group(1)]
        if m.group(2):
            return dt.date(int(m.group(2)), month, 1)
        year = today.year if month <= today.month else today.year - 1
        return dt.date(year, month, 1)
    # TRANSLATORS: 2026-10, october, oct 2026 and last month are what may be typed: keep them
    raise UserError(_("{month} is not a month: use 2026-10, october, oct 2026 or last month.",
                      month=repr(raw)))
