"""Text matching and time values for the audit's hand-written SQL, on PostgreSQL and SQLite.

A text matches when its stored terms (`search_terms` of item_version and journal_entry, written with
the row by proxy/search_terms.py, migration 0015) hold every stem of the query's words: word forms
match («гарантия» finds «гарантии»), and the same query finds the same rows on both databases.
PostgreSQL reads a GIN index over the terms as an array; the expression here must stay identical to
the index's (`string_to_array(search_terms, ' ')`), or the planner will not use it. SQLite looks for
each term between spaces.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from proxy.db.sql import SqlQuery
from proxy.search_terms import query_terms

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


def terms_match(q: SqlQuery, terms_column: str, text: str) -> str:
    """An SQL condition: the row whose terms are in `terms_column` has every stem of `text`'s words."""
    terms = query_terms(text)
    if not terms:
        return "FALSE" if q.postgres else "0"
    if q.postgres:
        wanted = ", ".join(q.p(term) for term in terms)
        return f"(string_to_array({terms_column}, ' ') @> ARRAY[{wanted}]::text[])"
    spaced = f"(' ' || {terms_column} || ' ')"
    return (
        "("
        + " AND ".join(f"{spaced} LIKE {q.p(_like_pattern(f' {term} '))} ESCAPE '\\'" for term in terms)
        + ")"
    )


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
