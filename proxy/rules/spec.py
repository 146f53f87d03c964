"""What a moderation rule may say, checked once, in one place: the admin pages, `proxy rule ...` and the
demo all write rules through `parse_conditions` and `parse_actions` (docs/rules.md has the reference).

A rule matches an incoming item when every condition it gives holds; a condition that lists values
holds when one of them does. Bad input raises InputError (its message is the translation key, `field`
names the part at fault) and nothing is stored.
"""

from __future__ import annotations

import re
from typing import Any

import regex

from proxy.admin_access import InputError
from proxy.events import Channel

# VK attachment types a condition may name (the `type` of an item's attachment).
ATTACHMENT_KINDS = (
    "photo", "video", "audio", "doc", "link", "sticker", "market", "poll", "wall", "wall_reply",
    "graffiti", "audio_message", "gift", "story", "article",
)  # fmt: skip
CHANNELS = tuple(c.value for c in Channel)
ACTION_KINDS = ("delete", "ban", "assign", "note", "reply", "alert", "flag")
# groups.ban reasons as VK numbers them (proxy/actions.py BAN_REASONS).
BAN_REASON_CODES = (0, 1, 2, 3, 4)

# Sizes that keep one rule's evaluation cheap and its page readable.
MAX_NAME_CHARS = 100
MAX_WORDS = 10_000
MAX_WORD_CHARS = 64
MAX_PHRASES = 1_000
MAX_PATTERNS = 500
MAX_PATTERN_CHARS = 1_000
MAX_DOMAINS = 5_000
MAX_AUTHORS = 10_000
MAX_NOTE_CHARS = 16_000
MAX_BAN_COMMENT_CHARS = 2_048
MAX_BAN_DAYS = 3_650
MAX_REPEAT_WINDOW_MINUTES = 24 * 60
MAX_REPEAT_COUNT = 100

# Flags every rule's regular expressions are compiled with: case-insensitive, Unicode; the matching
# code applies the time limit (proxy/rules/matching.py).
PATTERN_FLAGS = regex.IGNORECASE | regex.UNICODE
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9\u0400-\u04ff-]{1,63}\.)+[a-z0-9\u0400-\u04ff-]{2,63}$")

CONDITION_KEYS = (
    "words", "phrases", "patterns", "domains_deny", "domains_allow", "any_link", "phone", "mention",
    "attachments", "repeated", "authors", "new_author", "channels", "hours",
)  # fmt: skip


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """A rule's regular expression, compiled as matching runs it; InputError when it does not compile."""
    try:
        return regex.compile(pattern, PATTERN_FLAGS)
    except (regex.error, ValueError, OverflowError) as exc:
        raise InputError(
            "the regular expression %(pattern)s does not compile: %(error)s",
            field="patterns",
            pattern=pattern[:80],
            error=str(exc),
        ) from None


def _refuse_nul(raw: Any, field: str) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000, so a rule carrying one would be stored on SQLite
    and fail as a database error on PostgreSQL: refused here on both, as input. (A walk, not recursion:
    the input may be nested as deep as a JSON parser allows.)"""
    pending = [raw]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            raise InputError("%(part)s contains the NUL character", field=field, part=field)
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _strings(raw: Any, field: str, *, limit: int, max_chars: int) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise InputError("%(field)s must be a list of texts", field=field)
    values = list(dict.fromkeys(v.strip() for v in raw if v.strip()))
    if len(values) > limit:
        raise InputError("%(field)s lists %(count)s values; at most %(limit)s", field=field, count=len(values),
                         limit=limit)  # fmt: skip
    for value in values:
        if len(value) > max_chars:
            raise InputError("a value of %(field)s is too long: at most %(limit)s characters", field=field,
                             limit=max_chars)  # fmt: skip
    return values


def _domains(raw: Any, field: str) -> list[str]:
    domains = []
    for value in _strings(raw, field, limit=MAX_DOMAINS, max_chars=253):
        domain = value.lower().removeprefix("http://").removeprefix("https://").removeprefix("www.")
        domain = domain.split("/", 1)[0].rstrip(".")
        if not _DOMAIN.match(domain):
            raise InputError("%(value)s is not a domain name", field=field, value=value[:80])
        domains.append(domain)
    return list(dict.fromkeys(domains))


def _integer(raw: Any, field: str, *, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raise InputError("%(field)s must be a whole number", field=field)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise InputError("%(field)s must be a whole number", field=field) from None
    if not low <= value <= high:
        raise InputError("%(field)s must be between %(low)s and %(high)s", field=field, low=low, high=high)
    return value


def _flag(raw: Any, field: str) -> bool:
    if raw in (True, False, None):
        return bool(raw)
    if isinstance(raw, str) and raw.lower() in ("true", "false", "on", "off", "1", "0", "yes", "no", ""):
        return raw.lower() in ("true", "on", "1", "yes")
    raise InputError("%(field)s must be true or false", field=field)


def _choices(raw: Any, field: str, allowed: tuple[str, ...]) -> list[str]:
    values = _strings(raw, field, limit=len(allowed), max_chars=32)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InputError("%(field)s: unknown value %(value)s; one of: %(allowed)s", field=field,
                         value=unknown[0][:32], allowed=", ".join(allowed))  # fmt: skip
    return values


def parse_conditions(raw: Any) -> dict[str, Any]:
    """The conditions in their stored form (only those given); InputError on anything else.

    - words: any of these words, in any of its Russian or English forms ("скидка" matches "скидки").
    - phrases: these words in this order, in any forms.
    - patterns: regular expressions (case-insensitive), each run under a time limit.
    - domains_deny: a link to one of these domains or a subdomain of one.
    - domains_allow: a link to a domain outside this list (the list is what may be linked).
    - any_link, phone, mention: the text has a link, a phone number, a mention of someone.
    - attachments: an attachment of one of these kinds (ATTACHMENT_KINDS).
    - repeated: {"count": N, "window_minutes": M}: the author sent the same text N times (this one
      included) within M minutes in the community.
    - authors: the author's VK id is on the list.  new_author: the author's first item in the community.
    - channels: the item is in one of these channels.
    - hours: {"from": H, "to": H}: it arrived between these hours, team time (wraps past midnight).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError("the conditions must be an object", field="conditions")
    _refuse_nul(raw, "conditions")
    unknown = sorted(set(raw) - set(CONDITION_KEYS))
    if unknown:
        raise InputError("unknown condition %(name)s; known: %(known)s", field="conditions",
                         name=unknown[0][:40], known=", ".join(CONDITION_KEYS))  # fmt: skip
    out: dict[str, Any] = {}
    if words := _strings(raw.get("words"), "words", limit=MAX_WORDS, max_chars=MAX_WORD_CHARS):
        out["words"] = words
    if phrases := _strings(raw.get("phrases"), "phrases", limit=MAX_PHRASES, max_chars=200):
        out["phrases"] = phrases
    if patterns := _strings(raw.get("patterns"), "patterns", limit=MAX_PATTERNS, max_chars=MAX_PATTERN_CHARS):
        for pattern in patterns:
            compile_pattern(pattern)
        out["patterns"] = patterns
    if deny := _domains(raw.get("domains_deny"), "domains_deny"):
        out["domains_deny"] = deny
    if allow := _domains(raw.get("domains_allow"), "domains_allow"):
        out["domains_allow"] = allow
    for name in ("any_link", "phone", "mention", "new_author"):
        if _flag(raw.get(name), name):
            out[name] = True
    if kinds := _choices(raw.get("attachments"), "attachments", ATTACHMENT_KINDS):
        out["attachments"] = kinds
    if raw.get("repeated") not in (None, {}, ""):
        repeated = raw["repeated"]
        if not isinstance(repeated, dict):
            raise InputError("repeated must be an object with count and window_minutes", field="repeated")
        out["repeated"] = {
            "count": _integer(repeated.get("count"), "repeated.count", low=2, high=MAX_REPEAT_COUNT),
            "window_minutes": _integer(
                repeated.get("window_minutes"), "repeated.window_minutes", low=1, high=MAX_REPEAT_WINDOW_MINUTES
            ),
        }
    if raw.get("authors") not in (None, [], ""):
        authors = raw["authors"]
        if isinstance(authors, str):
            authors = [a for a in re.split(r"[\s,]+", authors) if a]
        if not isinstance(authors, list) or len(authors) > MAX_AUTHORS:
            raise InputError("authors must be a list of at most %(limit)s VK ids", field="authors",
                             limit=MAX_AUTHORS)  # fmt: skip
        out["authors"] = sorted({_integer(a, "authors", low=1, high=2**63 - 1) for a in authors})
    if channels := _choices(raw.get("channels"), "channels", CHANNELS):
        out["channels"] = channels
    if raw.get("hours") not in (None, {}, ""):
        hours = raw["hours"]
        if not isinstance(hours, dict):
            raise InputError("hours must be an object with from and to", field="hours")
        start = _integer(hours.get("from"), "hours.from", low=0, high=23)
        end = _integer(hours.get("to"), "hours.to", low=0, high=24)
        if start == end:
            raise InputError("hours.from and hours.to must differ", field="hours")
        out["hours"] = {"from": start, "to": end}
    if not out:
        raise InputError("a rule needs at least one condition", field="conditions")
    return out


def parse_actions(raw: Any) -> list[dict[str, Any]]:
    """The actions in their stored form, in the order given; InputError on anything else.

    - {"do": "delete"}: delete the comment (VK keeps it restorable; messages cannot be deleted).
    - {"do": "ban", "days": N or null (forever), "reason": 0-4, "comment": "..."}: ban the author.
    - {"do": "assign", "operator_id": N}: assign the conversation to this operator.
    - {"do": "note", "text": "..."}: an internal note on the conversation.
    - {"do": "reply", "canned_id": N}: reply with this canned response.
    - {"do": "alert"}: send an alert to the team's SLA webhook.
    - {"do": "flag"}: only mark the item for review.
    Whether an operator or a canned response exists is checked by the store, which reads the database.
    """
    if not isinstance(raw, list) or not raw:
        raise InputError("a rule needs at least one action", field="actions")
    _refuse_nul(raw, "actions")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for action in raw:
        if isinstance(action, str):
            action = {"do": action}
        if not isinstance(action, dict) or action.get("do") not in ACTION_KINDS:
            raise InputError("unknown action; one of: %(known)s", field="actions", known=", ".join(ACTION_KINDS))
        kind = action["do"]
        if kind in seen:
            raise InputError("the action %(kind)s is given twice", field="actions", kind=kind)
        seen.add(kind)
        if kind == "ban":
            days = action.get("days")
            comment = str(action.get("comment") or "").strip()
            if len(comment) > MAX_BAN_COMMENT_CHARS:
                raise InputError("the ban comment is too long: at most %(limit)s characters", field="actions",
                                 limit=MAX_BAN_COMMENT_CHARS)  # fmt: skip
            out.append({
                "do": "ban",
                "days": None if days in (None, "", 0, "0") else _integer(days, "ban days", low=1, high=MAX_BAN_DAYS),
                "reason": _integer(action.get("reason", 1), "ban reason", low=0, high=4),
                "comment": comment,
            })  # fmt: skip
        elif kind == "assign":
            out.append({"do": "assign", "operator_id": _integer(action.get("operator_id"), "operator", low=1,
                                                                 high=2**31 - 1)})  # fmt: skip
        elif kind == "note":
            text = str(action.get("text") or "").strip()
            if not text or len(text) > MAX_NOTE_CHARS:
                raise InputError("the note must have between 1 and %(limit)s characters", field="actions",
                                 limit=MAX_NOTE_CHARS)  # fmt: skip
            out.append({"do": "note", "text": text})
        elif kind == "reply":
            out.append({"do": "reply", "canned_id": _integer(action.get("canned_id"), "canned response", low=1,
                                                             high=2**31 - 1)})  # fmt: skip
        else:
            out.append({"do": kind})
    return out


def parse_name(raw: Any) -> str:
    _refuse_nul(raw, "name")
    name = str(raw or "").strip()
    if not name:
        raise InputError("a rule needs a name", field="name")
    if len(name) > MAX_NAME_CHARS:
        raise InputError("the name is too long: at most %(limit)s characters", field="name", limit=MAX_NAME_CHARS)
    return name
