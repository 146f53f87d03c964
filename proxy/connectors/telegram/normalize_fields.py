"""Small, total readers of Telegram's fields, shared by the normalizer's modules (see normalize.py)."""

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from proxy.events import DomainEvent

# Telegram's ids fit in 52 bits (the Bot API says so of user and chat ids); anything outside int64 is not
# an id and would not fit the database either.
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Telegram's service accounts, which appear as `from` but never write anything themselves:
# GroupAnonymousBot stands for an anonymous group admin, 777000 ("Telegram") for a channel's post
# forwarded automatically into its discussion group. The real sender is then `sender_chat`.
ANONYMOUS_ADMIN_BOT_ID = 1087968824
SERVICE_USER_ID = 777000
PLACEHOLDER_SENDERS = frozenset({ANONYMOUS_ADMIN_BOT_ID, SERVICE_USER_ID})


class _Skip(Exception):
    """A known update kind whose object lacks what identifies the item; becomes Unsupported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _int(value: object) -> int | None:
    """An int64 JSON number, else None (bools are not ids, floats are not Telegram ids)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


def _time(value: object) -> datetime | None:
    """Unix seconds as an aware UTC datetime; None when absent, zero ("never") or out of range."""
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


# A business chat's items and conversation are keyed by its connection id (ItemRef.key "business:{id}:
# {chat}:{message}", 128 characters at most with two int64 ids in it). Telegram's ids are a few dozen visible
# ASCII characters; a longer one, or one with NUL or a lone surrogate, could not be stored, and the
# update would be refused by the database at every delivery.
_CONNECTION = re.compile(r"[!-~]{1,64}")


def _connection(obj: Mapping[str, Any]) -> str:
    """A business message's ``business_connection_id``; _Skip when it is missing or no row can hold it."""
    connection = _str(obj.get("business_connection_id"))
    if not connection:
        raise _Skip("business message without business_connection_id")
    if not _CONNECTION.fullmatch(connection):
        raise _Skip("business_connection_id is not one Telegram gives (at most 64 visible ASCII characters)")
    return connection


def _required(obj: Mapping[str, Any], key: str) -> int:
    number = _int(obj.get(key))
    if number is None:
        raise _Skip(f"object has no integer {key!r}")
    return number


def _id_of(obj: Mapping[str, Any], key: str) -> int | None:
    """The integer id of the nested object ``obj[key]`` (a User or Chat), else None."""
    return _int(_dict(obj.get(key)).get("id"))


# One update kind's reader: (envelope fields, the update's object, bot_id) -> domain event.
_Handler = Callable[[dict[str, Any], Mapping[str, Any], int], DomainEvent]
