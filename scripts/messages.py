"""The message catalogs: extract what the code marks, merge it into each language's catalog,
check that each is complete.

    python -m scripts.messages update   # after changing a message: new ones appear empty
    python -m scripts.messages check    # what each catalog misses (make test's test does too)

Messages are marked with ``_("...")`` and ``_n("...", "...", n)`` (handlers.core.i18n) in
``handlers/`` and ``bot/``; each catalog is ``handlers/locale/<lang>/LC_MESSAGES/taskbot.po``.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from handlers.core.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("handlers", "bot")
KEYWORDS = {"_": None, "_n": (1, 2)}


def extracted() -> Catalog:
    """Every marked message in the code, with where it is used."""
    catalog = Catalog(project="taskbot", domain=DOMAIN, charset="utf-8")
    for source in SOURCES:
        found = extract_from_dir(ROOT / source, method_map=[("**.py", "python")],
                                 keywords=KEYWORDS, comment_tags=("TRANSLATORS:",))
        for filename, lineno, message, comments, context in found:
            catalog.add(message, None, [(f"{source}/{filename}", lineno)],
                        auto_comments=comments, context=context)
    return catalog


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def placeholders(text: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def problems(template: Catalog, catalog: Catalog) -> Iterator[str]:
    """What keeps ``catalog`` from saying every message of ``template`` right."""
    for message in template:
        if not message.id:
            continue
        found: Message | None = catalog.get(message.id, message.context)
        ident = message.id[0] if isinstance(message.id, tuple) else message.id
        if found is None or found.fuzzy:
            yield f"missing: {ident!r}"
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = found.string if isinstance(found.string, tuple) else (found.string,)
        if isinstance(message.id, tuple) and len(strings) != catalog.num_plurals:
            yield f"{ident!r}: {len(strings)} plural forms, not {catalog.num_plurals}"
        wanted = set().union(*(placeholders(i) for i in ids))
        # a plural form may leave the number out ("une action"), nothing else
        may_drop = {"n"} if isinstance(message.id, tuple) else set()
        for s in strings:
            if not s:
                yield f"untranslated: {ident!r}"
                break
            found_here = placeholders(s)
            if not (wanted - may_drop <= found_here <= wanted):
                yield f"{ident!r}: placeholders {sorted(found_here)}, not {sorted(wanted)}"
                break


def update() -> None:
    template = extracted()
    for lang in LANGUAGES:
        if lang == DEFAULT_LANGUAGE:
            continue
        path = po_path(lang)
        if path.exists():
            catalog = read(lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=DOMAIN, project="taskbot", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        # what no code says any more is dropped, not kept as a comment to drift
        catalog.obsolete.clear()
        with path.open("wb") as f:
            write_po(f, catalog, width=100, include_lineno=False, sort_output=False)
        missing = sum(1 for _ in problems(template, catalog))
        print(f"{lang}: {len(catalog)} messages, {missing} to translate")


def check() -> int:
    template = extracted()
    bad = 0
    for lang in LANGUAGES:
        if lang == DEFAULT_LANGUAGE:
            continue
        found = list(problems(template, read(lang)))
        bad += len(found)
        print(f"{lang}: {len(found)} problems")
        for line in found[:20]:
            print("  " + line)
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        update()
        return 0
    if argv[1:] == ["check"]:
        return check()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
