"""Text matching and time values for the audit's hand-written SQL, on PostgreSQL and SQLite.

PostgreSQL: full-text search with the 'russian' and 'english' configurations, each backed by a GIN
expression index (migration 0003_audit_guards). The expression here must stay identical to the
index's, or the planner will not use the index.

SQLite: a plain substring match. LIKE ignores case for ASCII only, so the lower-case, capitalised and
upper-case forms of the words are tried too (enough for a Cyrillic word at the start of a sentence).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from proxy.db.sql import SqlQuery

SEARCH_CONFIGS = ("russian", "english")
MAX_SEARCH_CHARS = 200


class SearchError(ValueError):
    """A search text that cannot be used (empty, too long)."""


def clean_search_text(text: str) -> str:
    """The search text trimmed; SearchError when it is empty or too long."""
    text = " ".join(text.split())
    if not text:
        raise SearchError("the search text is empty")
    if len(text) > MAX_SEARCH_CHARS:
        raise SearchError(f"the search text is longer than {MAX_SEARCH_CHARS} characters")
    return text


def text_matches(q: SqlQuery, column: str, text: str) -> str:
    """An SQL condition: `column` contains `text` (full-text on PostgreSQL, substring on SQLite)."""
    if q.postgres:
        param = q.p(text)
        return (
            "("
            + " OR ".join(
                f"to_tsvector('{config}'::regconfig, {column}) @@ "
                f"websearch_to_tsquery('{config}'::regconfig, {param})"
                for config in SEARCH_CONFIGS
            )
            + ")"
        )
    variants = dict.fromkeys((text, text.lower(), text.capitalize(), text.upper()))
    return "(" + " OR ".join(f"{column} LIKE {q.p(_like_pattern(v))} ESCAPE '\\'" for v in variants) + ")"


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def db_time(value: Any) -> datetime | None:
    """A timestamp read by hand-written SQL as an aware UTC datetime (SQLite returns text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def in_list(q: SqlQuery, values: Any) -> str:
    """`(p1, p2, ...)` for an IN condition; `(NULL)` for an empty list, which matches nothing."""
    values = list(values)
    if not values:
        return "(NULL)"
    return "(" + ", ".join(q.p(v) for v in values) + ")"
