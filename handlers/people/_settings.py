"""``me language`` and ``me zone``: what a person reads the bot in.

A person's language is used for everything said to them alone (replies, nudges, their mail);
shared channels keep their group's (``tg settings <group> language``). A person's zone is
used for every time shown to them and for when their personal messages fall (a nudge at 09:00
is 09:00 where they are). Without a choice: ``TASKBOT_LANGUAGE``, and for the zone what their
chat profile says (``profile_zone``, where the platform tells it), else each time's own (the
group's).
"""

from __future__ import annotations

from babel import Locale
from babel.core import UnknownLocaleError

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.grammar import Args, UserError
from handlers.core.i18n import LANGUAGES, Msg, _, available, normalize
from handlers.core.messages import Reply, When
from handlers.core.params import Values
from handlers.core.readers import LANGUAGE, PROFILE_ZONE, ZONE, zone_names
from handlers.core.roles import ANYONE
from handlers.core.router import Registry
from storage.models import Person

DEFAULT = "default"


def language_name(lang: str) -> str:
    """``français``: a language as its speakers write it (CLDR)."""
    try:
        return Locale.parse(lang).get_display_name(lang) or lang
    except (ValueError, UnknownLocaleError):  # a test's pseudo-language
        return lang


def _languages() -> str:
    return ", ".join(f"{code} ({language_name(code)})" for code in LANGUAGES)


def _language(_ctx: Ctx, args: Args) -> str | None:
    raw = args.next("<language>")
    if raw.lower() == DEFAULT:
        return None
    code = normalize(raw)
    if code not in available():
        raise UserError(_("The bot does not speak {language}. Languages: {languages}.",
                          language=repr(raw), languages=_languages()))
    return code


def _zone(_ctx: Ctx, args: Args) -> str | None:
    raw = args.next("<Area/City>")
    if raw.lower() == DEFAULT:
        return None
    found = zone_names().get(raw.lower())
    if found is None:
        raise UserError(_("{zone} is not a time zone: use an Area/City name, like "
                          "Europe/Lisbon.", zone=repr(raw)))
    return found


LANGUAGE_PARAM = p.custom("<language>|default", _language, rest=False)
ZONE_PARAM = p.custom("<Area/City>|default", _zone, rest=False)


def _choose(ctx: Ctx, key: str, chosen: str | None) -> dict[str, object]:
    """The person's setting ``key`` set (None: back to the default), audited; their
    settings as they now are."""
    person = ctx.actor
    settings = dict(person.settings or {})
    old = settings.get(key)
    if chosen is None:
        settings.pop(key, None)
    else:
        settings[key] = chosen
    person.settings = settings
    ctx.audit(key, "person", person.id, old=old, new=chosen)
    return settings


def register(reg: Registry) -> None:
    @reg.command("me", "language", p.spec(LANGUAGE_PARAM),
                 _("the language the bot writes to you in (en, fr, de, es, it, pt, nl, pl), "
                   "or default"), ANYONE)
    def me_language(ctx: Ctx, v: Values) -> Reply:
        chosen: str | None = v[LANGUAGE_PARAM]
        _choose(ctx, LANGUAGE, chosen)
        if chosen is None:
            return Reply().say(_("You read the bot in its default language ({language}) "
                                 "again.", language=language_name(ctx.settings.language)))
        return Reply().say(_("The bot now writes to you in {language}. Shared channels keep "
                             "their group's language.", language=language_name(chosen)))

    @reg.command("me", "zone", p.spec(ZONE_PARAM),
                 _("the time zone times are shown to you in (an Area/City name), or default"),
                 ANYONE)
    def me_zone(ctx: Ctx, v: Values) -> Reply:
        chosen: str | None = v[ZONE_PARAM]
        settings = _choose(ctx, ZONE, chosen)
        zone = chosen or settings.get(PROFILE_ZONE)
        if not isinstance(zone, str):
            return Reply().say(_("Times are shown to you in each group's zone again "
                                 "({zone} by default).", zone=ctx.settings.timezone))
        return Reply().say(_("Times are shown to you in {zone} (now {now}); your nudges come "
                             "at their hour there.", zone=zone, now=When(ctx.now, zone)))


def shown(ctx: Ctx, person: Person) -> Msg:
    """``me``'s line about the person's language and zone, and where each comes from."""
    settings = person.settings or {}
    chosen = settings.get(LANGUAGE)
    lang = chosen if isinstance(chosen, str) else ctx.settings.language
    own, seen = settings.get(ZONE), settings.get(PROFILE_ZONE)
    if isinstance(own, str):
        where = _("{zone} (me zone)", zone=own)
    elif isinstance(seen, str):
        # TRANSLATORS: the zone a chat profile gives, used while the person chose none.
        where = _("{zone} (your profile's)", zone=seen)
    else:
        where = _("each group's ({zone} by default)", zone=ctx.settings.timezone)
    return _("Language: {language}. Times: {zone}.", language=language_name(lang),
             zone=where)
