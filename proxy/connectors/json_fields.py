"""Small, total readers of a network's JSON fields, shared by every connector's normalizer.

A reader never raises on a value of the wrong type: it answers None or an empty value, and the
normalizer decides what a missing field means (`_required` raises `_Skip`, which the normalizer turns
into an Unsupported event).
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from proxy.events import DomainEvent

# Ids on both networks are int64 (the Bot API promises 52 bits); anything outside is not an id and would
# not fit the database either.
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# One event kind's reader: (envelope fields, the event's object, the community's id) -> domain event.
_Handler = Callable[[dict[str, Any], Mapping[str, Any], int], DomainEvent]


class _Skip(Exception):
    """A known event kind whose object lacks what identifies the item; becomes Unsupported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _int(value: object) -> int | None:
    """An int64 JSON number, else None (bools are not ids, floats are no network's ids)."""
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


def _required(obj: Mapping[str, Any], key: str) -> int:
    number = _int(obj.get(key))
    if number is None:
        raise _Skip(f"object has no integer {key!r}")
    return number
