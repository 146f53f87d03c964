"""UI text in Russian (the default) and English, through gettext catalogs, and times in the team's zone.

Catalogs are `web/translations/<locale>/LC_MESSAGES/messages.po` (message ids are the English text),
compiled in memory when the process starts, so a fresh clone needs no build step and a compiled file
can never be staler than its source. Extract new strings with
`pybabel extract -F web/babel.cfg -o web/translations/messages.pot web` and merge them with
`pybabel update -i web/translations/messages.pot -d web/translations`.

The locale of the request being served is held in a context variable (set by `locale_middleware`), so
templates (`{% trans %}`, `_()`) and views (`gettext()`) translate without passing it around.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from proxy.appkeys import SETTINGS
from web.auth import OPERATOR

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"

_locale: contextvars.ContextVar[str] = contextvars.ContextVar("ui_locale", default=DEFAULT_LOCALE)
_tz: contextvars.ContextVar[ZoneInfo | None] = contextvars.ContextVar("ui_tz", default=None)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of a locale (English, the source language, needs none).

    `messages.po` comes first; any other `<area>.po` beside it (one per area of the UI, so areas can be
    translated independently) is merged over it in name order.
    """
    catalog_dir = TRANSLATIONS_DIR / locale / "LC_MESSAGES"
    main = catalog_dir / "messages.po"
    if not main.exists():
        return NullTranslations()
    result = _compiled(main, locale)
    for extra in sorted(catalog_dir.glob("*.po")):
        if extra != main:
            result.merge(_compiled(extra, locale))
    return result


def _compiled(po_path: Path, locale: str) -> Translations:
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def current_locale() -> str:
    return _locale.get()


@cache
def babel_locale(name: str) -> Locale:
    """babel's Locale of a locale name, parsed once: given a name, babel parses it (and loads its
    plural rules) again on every call, which was a tenth of the inbox page's time (docs/benchmarks.md)."""
    return Locale.parse(name)


def use_locale(locale: str | None) -> contextvars.Token[str]:
    """Serve the rest of this task in `locale` (unknown ones fall back to the default)."""
    return _locale.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def gettext(message: str, **variables: object) -> str:
    """`message` in the current locale, with `%(name)s` placeholders filled from `variables`."""
    text = translations(current_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def preferred_locale(request: web.Request) -> str:
    """The operator's own choice, if they made one (`Operator.locale`: "ru" or "en"); otherwise, and
    before log in, the browser's first language we speak. Always one of LOCALES: the live streams render
    in it (`web/views/live.py`), and their updates are rendered in LOCALES only."""
    operator = request.get(OPERATOR)
    if operator is not None and operator.locale in LOCALES:
        return operator.locale
    return browser_locale(request)


def browser_locale(request: web.Request) -> str:
    """The first language of the browser's Accept-Language that we speak, else the default."""
    for part in request.headers.get("Accept-Language", "").split(","):
        language = part.split(";")[0].strip().lower()[:2]
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE


@web.middleware
async def locale_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    locale_token = use_locale(preferred_locale(request))
    tz_token = _tz.set(request.app[SETTINGS].tz)
    try:
        return await handler(request)
    finally:
        _tz.reset(tz_token)
        _locale.reset(locale_token)


@contextlib.contextmanager
def rendering_in(locale: str, tz: ZoneInfo | None) -> Iterator[None]:
    """Render in `locale` and `tz` outside a request (a live update rendered once for every page)."""
    locale_token, tz_token = use_locale(locale), _tz.set(tz)
    try:
        yield
    finally:
        _tz.reset(tz_token)
        _locale.reset(locale_token)


# One way to write a date and one to write a date and time per locale, on every page (a format name such
# as "short" or "medium" asks for the same): 5 December 2026 / 5 декабря 2026, and "…, 12:00".
DATE_PATTERN = "d MMMM y"
DATE_TIME_PATTERN = "d MMMM y, HH:mm"
_FORMAT_NAMES = ("short", "medium", "long", "full")


def local_time(value: datetime | str | None, format: str = "short") -> str:
    """A stored UTC time, shown in the team's time zone in the current locale's one date-time format.

    An ISO 8601 string is a time kept inside stored JSON (a forwarded message's date). A format other
    than a name ("HH:mm:ss") is a babel pattern, for a time of day alone."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    pattern = DATE_TIME_PATTERN if format in _FORMAT_NAMES else format
    return format_datetime(value, pattern, tzinfo=_tz.get(), locale=babel_locale(current_locale()))


def local_date(value: date | datetime | str | None) -> str:
    """A calendar day in the current locale's one date format (a time is first put in the team's zone)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        tz = _tz.get()
        value = (value.astimezone(tz) if tz is not None else value).date()
    return format_date(value, DATE_PATTERN, locale=babel_locale(current_locale()))


def duration(seconds: float) -> str:
    """A wait like "5 minutes" / "2 hours", rounded the way people say it."""
    return format_timedelta(
        timedelta(seconds=max(0, seconds)), threshold=1.5, locale=babel_locale(current_locale())
    )


# The words a role is called by, in every language we speak ("Administrator" is the first admin's name
# that `proxy bootstrap` gives): a display name that is one of them says the role already.
_ROLE_WORDS = {"admin": ("Admin", "Administrator"), "manager": ("Manager",), "operator": ("Operator",)}


@cache
def _names_of_roles() -> frozenset[str]:
    words = [word for names in _ROLE_WORDS.values() for word in names]
    return frozenset(
        translations(locale).gettext(word).casefold() for locale in LOCALES for word in words
    ) | frozenset(word.casefold() for word in words)


def role_adds_to(name: str, role: str) -> bool:
    """Whether the top bar should name the role beside `name`: a manager's or an admin's role tells what
    they may do, an operator's is everyone's, and a name that is a role's word says it already."""
    return str(role) != "operator" and name.strip().casefold() not in _names_of_roles()


def translated(text: str) -> str:
    """A stored text in the reader's language when the catalog has it (VK's refusals, kept in English in
    the outbox, proxy/connectors/vk/client.py ERROR_MESSAGES), else as it is; no placeholders filled."""
    return translations(current_locale()).gettext(text) if text else text


def install(env: jinja2.Environment) -> None:
    """Give templates `{% trans %}`, `_()`, and the `local_time`, `local_date`, `duration` and `translated`
    filters."""
    env.add_extension("jinja2.ext.i18n")
    # Jinja's new-style wrappers fill the placeholders (and escape them) themselves.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations(current_locale()).gettext(message),
        lambda singular, plural, n: translations(current_locale()).ngettext(singular, plural, n),
        newstyle=True,
    )
    env.filters["local_time"] = local_time
    env.filters["local_date"] = local_date
    env.filters["duration"] = duration
    env.filters["translated"] = translated
    env.globals["current_locale"] = current_locale
    env.globals["role_adds_to"] = role_adds_to
