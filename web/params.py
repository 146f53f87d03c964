"""Every parameter of every route, parsed in one place: strings in, typed values out, or a ParamError.

A view reads its query string, its form and its path ids only through this module, before it touches the
database or sends a byte, and answers a ParamError with 400 and the reason (a form redisplayed next to its
reason answers 422, as the UI's forms do). Each parameter is declared once below as a `Param`: its name,
its parser and its length limit; `DECLARED` lists every name, so the route-walking property test
(tests/test_property_routes.py) knows what to send.

Rules every parser follows, because each of these once reached the database and answered 500:

- text never holds NUL or another control character (PostgreSQL text and jsonb refuse NUL) and has a
  length limit;
- an id is ASCII digits only (str.isdigit() accepts "²" and int() accepts "٣" and "３"), from 1 to the
  largest value its column holds: PostgreSQL `integer` for operators, communities, API tokens and
  canned responses, `bigint` for everything else and for VK's ids;
- a day lies within FIRST_DAY..LAST_DAY, so turning it into an instant in any time zone, and adding the
  day after it, cannot overflow;
- an enum is one of its values.

`plain_parameters_middleware` also refuses (400) any query or form value holding a control character or
longer than ANY_MAX_LENGTH, read or not, before the handler runs: the admin forms' free text is covered
by it (web/views/admin_forms.py reads those forms with the parsers here).

Messages are English with ``%(name)s`` placeholders (`ParamError.message`, the catalog key, so a page
shows them in the reader's language); ``str()`` is the filled English text.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from proxy.actions import CLOSE_REASONS
from proxy.audit.archive import ArchiveFilter, ArchiveState
from proxy.audit.reading import JournalFilter
from proxy.audit.search import MAX_SEARCH_CHARS
from proxy.inbox import InboxFilter
from proxy.models import ActorKind, Channel, ConversationStatus, DeletedVia, Network
from proxy.stats import StatsParamError
from proxy.stats.drill import METRICS
from proxy.stats.operators import OPERATORS_CSV_HEADER
from proxy.stats.period import Period, period_of
from proxy.stats.timeseries import BUCKETS
from web.i18n import gettext

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

INT32_MAX = 2**31 - 1  # PostgreSQL integer: operators, communities, API tokens, canned responses
INT64_MAX = 2**63 - 1  # PostgreSQL bigint: conversations, items, authors, outbox rows, journal entries
# The days a report or a filter may name: far from both ends of what datetime can hold in any zone.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
SHORT_TEXT = 200  # the length limit of a parameter that is not free text
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_LAST_POSITION = (datetime.combine(LAST_DAY, time(0), tzinfo=UTC) - _EPOCH) // _MICRO


def N_(message: str) -> str:
    """Mark a message for the translation catalogs; it is translated where it is shown."""
    return message


class ParamError(ValueError):
    """A parameter that cannot be used; the message is one line meant for the user."""

    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)


def explain(exc: Exception) -> str:
    """A refused parameter in the reader's language (a ParamError with its values; other errors as they are)."""
    if isinstance(exc, ParamError):
        return gettext(exc.message, **exc.params)
    return str(exc)


def shown(raw: str) -> str:
    """A refused value as a message quotes it: short, and without the characters that were refused."""
    clean = "".join(c if c.isprintable() else "?" for c in raw[:40])
    return repr(clean + ("…" if len(raw) > 40 else ""))


def _unsafe(raw: str) -> bool:
    # Cc: NUL and the other control characters; Cs: lone surrogates, which no database stores.
    return any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in raw)


# --- parsers: one raw string in, a value out ---------------------------------------------------------


def ids_up_to(high: int) -> Callable[[str, str], int]:
    """An id from 1 to `high`, in ASCII digits."""

    def parse(raw: str, name: str) -> int:
        if raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and 1 <= int(raw) <= high:
            return int(raw)
        raise ParamError(
            N_("%(name)s must be an id (a whole number), got %(value)s"), name=name, value=shown(raw)
        )

    return parse


def numbers_between(low: int, high: int) -> Callable[[str, str], int]:
    """A whole number from `low` to `high`, in ASCII digits (with a minus sign when `low` is negative)."""

    def parse(raw: str, name: str) -> int:
        digits = raw[1:] if raw.startswith("-") and low < 0 else raw
        if digits.isascii() and digits.isdigit() and len(digits) <= 19 and low <= int(raw) <= high:
            return int(raw)
        raise ParamError(
            N_("%(name)s must be a whole number from %(low)s to %(high)s, got %(value)s"),
            name=name, low=low, high=high, value=shown(raw),
        )  # fmt: skip

    return parse


def day(raw: str, name: str) -> date:
    """A day written YYYY-MM-DD, between FIRST_DAY and LAST_DAY."""
    try:
        if len(raw) != 10 or not raw.isascii():
            raise ValueError
        value = date.fromisoformat(raw)
    except ValueError:
        raise ParamError(
            N_("%(name)s must be a date like 2025-03-01, got %(value)s"), name=name, value=shown(raw)
        ) from None
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ParamError(
            N_("%(name)s must be a day from %(first)s to %(last)s, got %(value)s"),
            name=name, first=FIRST_DAY, last=LAST_DAY, value=shown(raw),
        )  # fmt: skip
    return value


def one_of(values: Iterable[str]) -> Callable[[str, str], str]:
    allowed = tuple(values)

    def parse(raw: str, name: str) -> str:
        if raw in allowed:
            return raw
        raise ParamError(
            N_("%(name)s must be one of: %(allowed)s, got %(value)s"),
            name=name, allowed=", ".join(allowed), value=shown(raw),
        )  # fmt: skip

    return parse


def member_of(enum: type[Enum]) -> Callable[[str, str], Any]:
    check = one_of(str(member.value) for member in enum)
    return lambda raw, name: enum(check(raw, name))


def flag(raw: str, name: str) -> bool:
    lowered = raw.lower()
    if lowered in ("0", "false", "no", "off"):
        return False
    if lowered in ("1", "true", "yes", "on"):
        return True
    raise ParamError(N_("%(name)s must be 1 or 0, got %(value)s"), name=name, value=shown(raw))


def text(raw: str, name: str) -> str:
    """Free text: its length and characters are checked by `Param`."""
    return raw


def action_name(raw: str, name: str) -> str:
    if all(c.isascii() and (c.isalnum() or c in "._") for c in raw):
        return raw
    raise ParamError(N_("action must be an action name like reply.send, got %(value)s"), value=shown(raw))


def search_text(raw: str, name: str) -> str:
    return " ".join(raw.split())


def page_position(parts: int) -> Callable[[str, str], tuple[Any, ...]]:
    """`after` of the audit pages: whole numbers joined by ".", the first a time in microseconds since
    1970 (returned as a datetime), the others ids."""

    def parse(raw: str, name: str) -> tuple[Any, ...]:
        pieces = raw.split(".")
        if len(pieces) == parts and all(p.isascii() and p.isdigit() and len(p) <= 19 for p in pieces):
            numbers = [int(p) for p in pieces]
            if numbers[0] <= _LAST_POSITION and all(n <= INT64_MAX for n in numbers[1:]):
                return (_EPOCH + numbers[0] * _MICRO, *numbers[1:])
        raise ParamError(N_("after is not a page position from this site, got %(value)s"), value=shown(raw))

    return parse


def position_of(moment: datetime) -> int:
    """The first number of a page position: `moment` in microseconds since 1970."""
    return (moment - _EPOCH) // _MICRO


def inbox_cursor(raw: str, name: str) -> str:
    """The inbox's cursor, as proxy/inbox.py writes it: base64 of [segment, ISO time, conversation id]."""
    try:
        segment, moment, row_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if (
            isinstance(segment, str)
            and isinstance(row_id, int)
            and 1 <= row_id <= INT64_MAX
            and FIRST_DAY.year <= datetime.fromisoformat(moment).year <= LAST_DAY.year
        ):
            return raw
    except (ValueError, TypeError, binascii.Error):
        pass
    raise ParamError(N_("the page cursor is not valid; start again from the first page"))


# --- declared parameters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param(Generic[T]):
    """One parameter: its name, its parser, and how long its raw text may be."""

    name: str
    parse: Callable[[str, str], T]
    max_length: int = SHORT_TEXT
    strip: bool = True  # surrounding blanks are not part of the value (a password's are)

    def read(self, source: Mapping[str, Any]) -> T | None:
        """The value in `source` (a query string or a form); None when absent or blank."""
        raw = source.get(self.name)
        if raw is None:
            return None
        if not isinstance(raw, str):  # a file where a field was expected
            raise ParamError(N_("%(name)s must be text"), name=self.name)
        if self.strip:
            raw = raw.strip()
        if raw == "":
            return None
        if len(raw) > self.max_length:
            raise ParamError(
                N_("%(name)s is longer than %(limit)s characters"), name=self.name, limit=self.max_length
            )
        if _unsafe(raw):
            raise ParamError(N_("%(name)s holds a control character such as NUL"), name=self.name)
        return self.parse(raw, self.name)


def community_or_team(raw: str, name: str) -> int | str:
    return "team" if raw == "team" else ids_up_to(INT32_MAX)(raw, name)


def operator_or_outside(raw: str, name: str) -> int | str:
    if raw == "outside":
        return raw
    try:
        return ids_up_to(INT32_MAX)(raw, name)
    except ParamError:
        raise ParamError(
            N_("operator must be an operator id or 'outside', got %(value)s"), value=shown(raw)
        ) from None


def sort_column(raw: str, name: str) -> str:
    if raw.removeprefix("-") in OPERATORS_CSV_HEADER:
        return raw
    raise ParamError(
        N_("sort must be a column of operators.csv (with - for descending), got %(value)s"), value=shown(raw)
    )


# What a browser's URL parser drops before reading an address: C0 controls and spaces around it, and
# tabs and newlines anywhere (so "/\t/evil.example" is "//evil.example", another site).
_URL_TRIMMED = "".join(map(chr, range(0x21)))
_URL_DROPPED = {ord("\t"): None, ord("\n"): None, ord("\r"): None}


def local_path(raw: str, name: str) -> str:
    """Where to go after logging in: a path of this site only, so the form cannot bounce users elsewhere.

    Read as a browser reads it (tabs and newlines dropped, a backslash taken for a slash) before it is
    checked, and returned that way: what is checked is what the browser follows.
    """
    path = raw.strip(_URL_TRIMMED).translate(_URL_DROPPED).replace("\\", "/")
    parts = urlsplit(path)
    if not path.startswith("/") or path.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return path


FROM = Param("from", day)
TO = Param("to", day)
DIALECT = Param("dialect", one_of(("csv", "excel")))
COMMUNITY = Param("community", ids_up_to(INT32_MAX))
OPERATOR = Param("operator", ids_up_to(INT32_MAX))
AUTHOR = Param("author", ids_up_to(INT64_MAX))
CONVERSATION = Param("conversation", ids_up_to(INT64_MAX))
# Stats
BUCKET = Param("bucket", one_of(BUCKETS))
SORT = Param("sort", sort_column)
NETWORK = Param("network", member_of(Network))
METRIC = Param("metric", one_of(METRICS))
DRILL_OPERATOR = Param("operator", operator_or_outside)
# Audit
ACTION = Param("action", action_name, max_length=64)
ACTOR = Param("actor", member_of(ActorKind))
OUTSIDE = Param("outside", flag)
BEFORE = Param("before", ids_up_to(INT64_MAX))
SEARCH = Param("q", search_text, max_length=4 * MAX_SEARCH_CHARS)
CHANNEL = Param("channel", member_of(Channel))
NETWORK = Param("network", member_of(Network))
VIA = Param("via", member_of(DeletedVia))
STATE = Param("state", member_of(ArchiveState))
DELETED_AFTER = Param("after", page_position(2))
TIMELINE_AFTER = Param("after", page_position(3))
BACK = Param("back", text, max_length=4000)
# Inbox and conversations
STATUS = Param("status", one_of((*(s.value for s in ConversationStatus), "all")))
ASSIGNED = Param("assigned", one_of(("me", "none")))
OVER_SLA = Param("over_sla", flag)
INBOX_AFTER = Param("after", inbox_cursor, max_length=400)
NEXT_AFTER = Param("after", ids_up_to(INT64_MAX))
NEXT = Param("next", local_path, max_length=2000)
# Forms of the conversation page (the action's own rules are proxy's: proxy/actions.py)
TEXT = Param("text", text, max_length=4096)
REPLY_TO = Param("reply_to_item_id", ids_up_to(INT64_MAX))
ASSIGNEE = Param("assignee_id", ids_up_to(INT32_MAX))
BAN_DAYS = Param("days", numbers_between(1, 3650))
BAN_REASON = Param("reason", numbers_between(0, 99))
BAN_COMMENT = Param("comment", text, max_length=500)
CLOSE_REASON = Param("close_reason", one_of(CLOSE_REASONS))
# Log in
LOGIN = Param("login", text, max_length=64)
PASSWORD = Param("password", text, max_length=1000, strip=False)
# Admin pages (their forms are read by web/views/admin_forms.py with these parsers)
CANNED_SCOPE = Param("community", community_or_team)
ACTIVE = Param("active", flag)
ADMIN_FORM_FIELDS = (
    "communities", "role", "vk_user_id", "display_name", "name", "title", "vk_group_id", "mode", "secret",
    "confirmation", "sla_minutes", "bh_on", "bh_tz", "bh_days", "bh_start", "bh_end", "admin_vk_user_id",
    "community_token", "admin_token", "remove_community_token", "remove_admin_token", "telegram_user_id",
    "bot_token",
)  # fmt: skip

# Every name declared above, computed once from this module's own declarations: a Param made anywhere
# else (a test's) changes nothing here.
DECLARED: frozenset[str] = frozenset(
    {value.name for value in list(globals().values()) if isinstance(value, Param)} | set(ADMIN_FORM_FIELDS)
)


@dataclass
class Source:
    """The parameters of one part of a request (its query string, or its form), read through `Param`s.

    `read` keeps the raw text of each parameter that was read and accepted, so an export journals what
    it was asked for and nothing a caller added (which no parser has checked).
    """

    values: Mapping[str, Any]
    read: dict[str, str] = field(default_factory=dict)

    def __call__(self, param: Param[T]) -> T | None:
        value = param.read(self.values)
        if value is not None:
            self.read[param.name] = str(self.values[param.name]).strip()
        return value

    def get(self, param: Param[T], default: T) -> T:
        value = self(param)
        return default if value is None else value


def query_of(request: web.Request) -> Source:
    return Source(request.query)


async def form_of(request: web.Request) -> Source:
    return Source(await request.post())


def path_id(request: web.Request, name: str = "id", *, high: int = INT64_MAX) -> int:
    """An id from the path; 404 when no row can have it (too large for its column, 0, not ASCII)."""
    try:
        return ids_up_to(high)(request.match_info[name], name)
    except ParamError:
        raise web.HTTPNotFound() from None


# --- every parameter, read or not -----------------------------------------------------------------------

# Longer than any field of any form (a reply and a template are 4,096 characters at most).
ANY_MAX_LENGTH = 10_000
UNCHECKED_PREFIXES = ("/callback/", "/static/")  # VK's JSON callbacks have their own checks


def check_plain(values: Mapping[str, Any]) -> None:
    """ParamError when a value holds a control character or is longer than ANY_MAX_LENGTH."""
    for name, raw in values.items():
        if isinstance(raw, str) and (len(raw) > ANY_MAX_LENGTH or _unsafe(raw)):
            raise ParamError(
                N_("%(name)s holds a control character such as NUL, or is longer than %(limit)s characters"),
                name=shown(name), limit=ANY_MAX_LENGTH,
            )  # fmt: skip


@web.middleware
async def plain_parameters_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a query or form value no parser could use, whether or not the view reads it.

    The typed parsers above check the parameters a view reads; this also covers the free text of the
    admin forms and anything else a request carries, which a view may echo into a page or the journal.
    """
    if not request.path.startswith(UNCHECKED_PREFIXES):
        try:
            check_plain(request.query)
            if request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                check_plain(await request.post())
        except ParamError as exc:
            return web.Response(status=400, text=gettext(exc.message, **exc.params))
    return await handler(request)


# --- parameters read together -------------------------------------------------------------------------


def period(query: Source, tz: ZoneInfo) -> Period:
    """A report's period: `from` and `to`, whole days in `tz` (proxy/stats/period.py: the defaults)."""
    first, last = query(FROM), query(TO)
    if first and last and first > last:
        raise ParamError(N_("from (%(first)s) must not be after to (%(last)s)"), first=first, last=last)
    try:
        return period_of(first, last, tz)
    except StatsParamError as exc:
        raise ParamError(str(exc)) from None


def since_until(query: Source, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """`from` and `to` of the audit pages as instants: [since, until), either end open when not given."""
    first, last = query(FROM), query(TO)
    if first and last and first > last:
        raise ParamError(N_("from (%(first)s) must not be after to (%(last)s)"), first=first, last=last)
    since = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC) if last else None
    return since, until


def journal_filter(query: Source, tz: ZoneInfo) -> JournalFilter:
    """The journal page's and journal.csv's filters."""
    since, until = since_until(query, tz)
    community = query(COMMUNITY)
    return JournalFilter(
        operator_id=query(OPERATOR),
        action=query(ACTION),
        community_ids=(community,) if community is not None else None,
        since=since,
        until=until,
        outside_only=query.get(OUTSIDE, False),
        actor_kind=query(ACTOR),
        network=query(NETWORK),
    )


def archive_filter(query: Source, tz: ZoneInfo) -> ArchiveFilter:
    """The deleted-content page's, deleted.csv's and the incident search's filters."""
    since, until = since_until(query, tz)
    community = query(COMMUNITY)
    text = query.get(SEARCH, "")
    if len(text) > MAX_SEARCH_CHARS:
        raise ParamError(N_("The search text is longer than %(limit)s characters."), limit=MAX_SEARCH_CHARS)
    return ArchiveFilter(
        community_ids=(community,) if community is not None else None,
        channel=query(CHANNEL),
        since=since,
        until=until,
        author_id=query(AUTHOR),
        deleted_via=query(VIA),
        text=text,
        state=query.get(STATE, ArchiveState.EVER),
        network=query(NETWORK),
    )


def inbox_filter(query: Source) -> InboxFilter:
    status = query.get(STATUS, ConversationStatus.OPEN.value)
    return InboxFilter(
        community=query(COMMUNITY),
        channel=query(CHANNEL),
        status=None if status == "all" else ConversationStatus(status),
        assigned=query(ASSIGNED),  # type: ignore[arg-type]
        over_sla=query.get(OVER_SLA, False),
        network=query(NETWORK),
    )


def back_query(raw: str | None, names: Iterable[str]) -> dict[str, str]:
    """A listing's query string sent back by a form, reduced to the listing's own parameters."""
    allowed = set(names)
    return {k: v for k, v in parse_qsl(raw or "") if k in allowed}
