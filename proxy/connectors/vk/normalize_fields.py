"""Small, total readers of VK's fields, shared by the normalizer's modules (see normalize.py)."""

from collections.abc import Mapping
from typing import Any

from proxy.connectors.json_fields import (  # noqa: F401 (the readers every VK module takes from here)
    _Handler,
    _int,
    _list,
    _required,
    _Skip,
    _str,
    _time,
)


def _nonzero(value: object) -> int | None:
    """Like :func:`_int`, but VK's 0 ("none") becomes None (random_id, message id)."""
    number = _int(value)
    return number or None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _first_int(obj: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        number = _int(obj.get(key))
        if number is not None:
            return number
    return None
