"""Every catalog says every message the code marks, with the same placeholders and as many
plural forms as its language has (babel's CLDR rules)."""

from __future__ import annotations

import pytest
from babel.messages.plurals import get_plural

from handlers.core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from scripts.messages import extracted, placeholders, problems, read

OTHERS = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]


@pytest.fixture(scope="module")
def template():  # type: ignore[no-untyped-def]
    return extracted()


def test_the_code_marks_its_messages(template) -> None:  # type: ignore[no-untyped-def]
    """The extraction sees the marks (a change to how messages are marked that the
    extractor cannot read would leave every catalog trivially complete)."""
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert len(ids) > 100
    assert all(placeholders(i) is not None for i in ids)


@pytest.mark.parametrize("lang", OTHERS)
def test_catalog_is_complete(template, lang: str) -> None:  # type: ignore[no-untyped-def]
    found = list(problems(template, read(lang)))
    assert not found, f"{lang}: {len(found)} problems, first: {found[:10]}"


@pytest.mark.parametrize("lang", OTHERS)
def test_plural_forms_are_the_languages(lang: str) -> None:
    """Polish has three forms (1 akcja, 2 akcje, 5 akcji), French says 0 as 1: a header
    written by hand would choose the wrong one."""
    catalog, rule = read(lang), get_plural(lang)
    assert (catalog.num_plurals, catalog.plural_expr) == (rule.num_plurals, rule.plural_expr)
