"""Text PostgreSQL cannot store, cleaned out of an event before any of it is written."""

from __future__ import annotations

import dataclasses
from typing import Any

from proxy.events import DomainEvent


def _clean(value: Any) -> Any:
    """Strings without NUL (PostgreSQL text refuses it) and without lone surrogates (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    return value


def _sanitized(event: DomainEvent) -> DomainEvent:
    """The event with every text and JSON field cleaned; ``raw`` is stored escaped, as received."""
    changes = {}
    for field in dataclasses.fields(event):
        if field.name == "raw":
            continue
        value = getattr(event, field.name)
        if isinstance(value, str | list | dict):
            cleaned = _clean(value)
            if cleaned != value:
                changes[field.name] = cleaned
    return dataclasses.replace(event, **changes) if changes else event
