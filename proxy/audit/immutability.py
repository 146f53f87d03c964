"""The database's share of keeping history: which triggers must exist, and whether they do.

The triggers themselves are created by migration 0003_audit_guards (the journal's outcome guard is
recreated by 0011_journal_macs and 0015_search_terms; raw_event's content guard, which lets an UPDATE
change nothing but the processing status and detail, by 0017_raw_event_content_guard). A later migration
that rebuilds one of these tables (SQLite rebuilds a table to alter a column) would drop its triggers
silently, so `proxy journal verify` also checks that every guard is still in place: by its definition,
not its name. A trigger of the right name on another table, for another event, or calling a function
that no longer refuses (or, for the conditional guards, that lets more through), counts as missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NO_DELETE = ("journal_entry", "item_version", "item_tombstone", "item", "raw_event")

_COMMON = (
    "journal_entry_outcome_once",
    "item_version_no_update",
    "raw_event_content_fixed",
    *(f"{table}_no_delete" for table in _NO_DELETE),
)
EXPECTED_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": _COMMON,
    "postgres": (*_COMMON, *(f"{table}_no_truncate" for table in _NO_DELETE)),
}

# The journal_entry columns the outcome guard must keep unchanged on SQLite (0015_search_terms).
_JOURNAL_FIXED_COLUMNS = (
    "id", "created_at", "actor_kind", "operator_id", "vk_user_id", "action", "community_id",
    "conversation_id", "item_id", "text", "params", "prev_hash", "hash", "mac", "search_terms",
)  # fmt: skip
# The raw_event columns its content guard must keep unchanged (0017_raw_event_content_guard): all but
# status and detail, the processing result.
_RAW_EVENT_FIXED_COLUMNS = (
    "id",
    "community_id",
    "vk_group_id",
    "event_id",
    "type",
    "payload",
    "source",
    "received_at",
)
# That guard as SQLite keeps it and PostgreSQL's function body, whitespace collapsed: both must be exactly these.
_SQLITE_RAW_EVENT_SQL = (
    "CREATE TRIGGER raw_event_content_fixed BEFORE UPDATE ON raw_event WHEN NOT ("
    + " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in _RAW_EVENT_FIXED_COLUMNS)
    + ") BEGIN SELECT RAISE(ABORT, 'UPDATE on raw_event refused: only its processing status and detail may"
    " change'); END"
)
_POSTGRES_RAW_EVENT_BODY = (
    "BEGIN IF (to_jsonb(NEW) - 'status' - 'detail') = (to_jsonb(OLD) - 'status' - 'detail') THEN RETURN NEW;"
    " END IF; RAISE EXCEPTION 'UPDATE on raw_event % refused: only its processing status and detail may"
    " change', OLD.id USING ERRCODE = 'restrict_violation'; END"
)
# PostgreSQL's outcome guard function, whitespace collapsed (0011_journal_macs).
_POSTGRES_OUTCOME_BODY = (
    "BEGIN IF OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL AND (to_jsonb(NEW) - 'outcome' -"
    " 'outcome_detail' - 'outcome_at' - 'outcome_mac') = (to_jsonb(OLD) - 'outcome' - 'outcome_detail' -"
    " 'outcome_at' - 'outcome_mac') THEN RETURN NEW; END IF; RAISE EXCEPTION 'UPDATE on journal_entry %"
    " refused: only a pending outcome may be filled, once', OLD.id USING ERRCODE = 'restrict_violation'; END"
)
# pg_trigger.tgtype bits.
_BEFORE, _ROW = 2, 1
_EVENT_BITS = {"DELETE": 8, "UPDATE": 16, "TRUNCATE": 32}


@dataclass(frozen=True)
class Guard:
    table: str
    event: str  # DELETE, UPDATE or TRUNCATE


def expected_guard(name: str) -> Guard:
    for suffix, event in (("_no_delete", "DELETE"), ("_no_truncate", "TRUNCATE"), ("_no_update", "UPDATE")):
        if name.endswith(suffix):
            return Guard(name.removesuffix(suffix), event)
    if name == "journal_entry_outcome_once":
        return Guard("journal_entry", "UPDATE")
    if name == "raw_event_content_fixed":
        return Guard("raw_event", "UPDATE")
    raise ValueError(f"no guard named {name}")


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


async def installed_triggers(connection: Any) -> set[str]:
    """Names of the triggers present on the connection's database that do what their guard must."""
    if connection.capabilities.dialect == "postgres":
        return await _postgres_guards(connection)
    rows = await connection.execute_query_dict(
        "SELECT name, tbl_name AS table_name, sql FROM sqlite_master WHERE type = 'trigger'"
    )
    return {row["name"] for row in rows if _sqlite_guard_holds(row)}


async def _postgres_guards(connection: Any) -> set[str]:
    rows = await connection.execute_query_dict(
        "SELECT t.tgname AS name, c.relname AS table_name, n.nspname AS schema, t.tgtype AS type,"
        " p.proname AS function, p.prosrc AS body"
        " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_proc p ON p.oid = t.tgfoid"
        " WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND n.nspname = current_schema()"
    )
    return {row["name"] for row in rows if _postgres_guard_holds(row)}


def _postgres_guard_holds(row: dict[str, Any]) -> bool:
    try:
        guard = expected_guard(row["name"])
    except ValueError:
        return False
    kind = int(row["type"])
    if row["table_name"] != guard.table or not kind & _BEFORE or not kind & _EVENT_BITS[guard.event]:
        return False
    if guard.event != "TRUNCATE" and not kind & _ROW:
        return False
    body = _collapse(row["body"])
    if row["name"] == "journal_entry_outcome_once":
        return body == _POSTGRES_OUTCOME_BODY
    if row["name"] == "raw_event_content_fixed":
        return body == _POSTGRES_RAW_EVENT_BODY
    # Every other guard refuses unconditionally: a function that returns anything lets the change through.
    return body.startswith("BEGIN RAISE EXCEPTION") and "RETURN" not in body.upper()


def _sqlite_guard_holds(row: dict[str, Any]) -> bool:
    try:
        guard = expected_guard(row["name"])
    except ValueError:
        return False
    sql = _collapse(row["sql"])
    if row["table_name"] != guard.table or f"BEFORE {guard.event} ON {guard.table} " not in sql:
        return False
    if row["name"] == "journal_entry_outcome_once":
        return all(f'NEW."{c}" IS OLD."{c}"' in sql for c in _JOURNAL_FIXED_COLUMNS) and "RAISE(ABORT" in sql
    if row["name"] == "raw_event_content_fixed":
        return sql.removesuffix(";") == _SQLITE_RAW_EVENT_SQL
    # Every other guard refuses unconditionally: no WHEN clause, nothing but the RAISE in its body.
    return " WHEN " not in sql and re.search(r"BEGIN SELECT RAISE\(ABORT, '[^']*'\); END;?$", sql) is not None


async def missing_guards(connection: Any) -> list[str]:
    """The history guards that are absent, disabled (PostgreSQL) or altered, in a stable order."""
    present = await installed_triggers(connection)
    expected = EXPECTED_TRIGGERS.get(connection.capabilities.dialect, ())
    return [name for name in expected if name not in present]
