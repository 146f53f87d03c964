"""Small, total readers of VK's fields, shared by the normalizer's modules (see normalize.py)."""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from proxy.events import DomainEvent

# VK ids are int64; anything outside is not an id and would not fit the database either.
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _Skip(Exception):
    """A known event type whose object lacks what identifies the item; becomes Unsupported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- small, total field readers -------------------------------------------------------------


def _int(value: object) -> int | None:
    """An int64 JSON number, else None (bools are not ids, floats are not VK ids)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


def _nonzero(value: object) -> int | None:
    """Like :func:`_int`, but VK's 0 ("none") becomes None (random_id, message id)."""
    number = _int(value)
    return number or None


def _time(value: object) -> datetime | None:
    """A Unix timestamp as an aware UTC datetime; None when absent, zero or out of range."""
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _required(obj: Mapping[str, Any], key: str) -> int:
    number = _int(obj.get(key))
    if number is None:
        raise _Skip(f"object has no integer {key!r}")
    return number


def _first_int(obj: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        number = _int(obj.get(key))
        if number is not None:
            return number
    return None


# One VK event type's reader: (envelope fields, the event's object, group_id) -> domain event.
_Handler = Callable[[dict[str, Any], Mapping[str, Any], int], DomainEvent]
