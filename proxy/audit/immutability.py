"""The database's share of keeping history: which triggers must exist, and whether they do.

The triggers themselves are created by migration 0003_audit_guards. A later migration that rebuilds
one of these tables (SQLite rebuilds a table to alter a column) would drop its triggers silently, so
`proxy journal verify` also checks that every guard is still in place.
"""

from __future__ import annotations

from typing import Any

_NO_DELETE = ("journal_entry", "item_version", "item_tombstone", "item", "raw_event")

_COMMON = (
    "journal_entry_outcome_once",
    "item_version_no_update",
    *(f"{table}_no_delete" for table in _NO_DELETE),
)
EXPECTED_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": _COMMON,
    "postgres": (*_COMMON, *(f"{table}_no_truncate" for table in _NO_DELETE)),
}


async def installed_triggers(connection: Any) -> set[str]:
    """Names of the triggers present on the connection's database."""
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
        )
    else:
        rows = await connection.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {row["name"] for row in rows}


async def missing_guards(connection: Any) -> list[str]:
    """The history guards that are absent (or disabled, on PostgreSQL), in a stable order."""
    present = await installed_triggers(connection)
    expected = EXPECTED_TRIGGERS.get(connection.capabilities.dialect, ())
    return [name for name in expected if name not in present]
