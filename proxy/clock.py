"""One place that says what time it is, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time in UTC, at microsecond precision (what both databases keep)."""
    return datetime.now(UTC)
