"""Search by word stems, the same on PostgreSQL and SQLite (proxy/search_terms.py, proxy/audit/search.py).

- item_version.search_terms: the Snowball stems of text and forwarded_text; journal_entry.search_terms:
  of text. Written with the row; filled here for the rows stored before.
- PostgreSQL: a GIN index over each as an array (`string_to_array(search_terms, ' ')`, the expression
  proxy/audit/search.py queries with); the full-text indexes of 0003 and 0008 go, since nothing reads
  them any more and every insert paid for eight of them.
- The history guards stay as they were: filling the rows stored before is an UPDATE the guards refuse,
  so PostgreSQL disables them for this transaction's UPDATE and enables them again; SQLite cannot
  disable a trigger, so it drops and recreates them, the journal's outcome guard now keeping
  search_terms unchanged too.

The terms are computed by proxy/search_terms.py itself rather than a copy: stored terms are only of use
when they equal what the running code computes for a query. A change of that function needs a
migration that fills the terms again, like this one.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from proxy.search_terms import search_terms

OLD_FTS_INDEXES = tuple(
    f"{column}_fts_{config}"
    for column in (
        "item_text",
        "item_version_text",
        "item_tombstone_last_text",
        "journal_entry_text",
        "item_version_forwarded_text",
    )
    for config in ("ru", "en")
)
PAGE = 1000

JOURNAL_FIXED_COLUMNS = (
    "id", "created_at", "actor_kind", "operator_id", "vk_user_id", "action", "community_id",
    "conversation_id", "item_id", "text", "params", "prev_hash", "hash", "mac", "search_terms",
)  # fmt: skip

# As 0003_audit_guards created it.
SQLITE_VERSION_GUARD = """
        CREATE TRIGGER item_version_no_update BEFORE UPDATE ON item_version
        BEGIN
            SELECT RAISE(ABORT, 'UPDATE on item_version refused: its rows are kept for good');
        END;
        """


def _sqlite_journal_guard() -> str:
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in JOURNAL_FIXED_COLUMNS)
    return f"""
        CREATE TRIGGER journal_entry_outcome_once BEFORE UPDATE ON journal_entry
        WHEN NOT (OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL AND {unchanged})
        BEGIN
            SELECT RAISE(ABORT, 'UPDATE on journal_entry refused: only a pending outcome may be filled, once');
        END;
        """


async def _fill(client, table: str, columns: tuple[str, ...], postgres: bool) -> None:
    last_id = 0
    first, second = ("$1", "$2") if postgres else ("?", "?")
    update = f"UPDATE {table} SET search_terms = {first} WHERE id = {second}"
    while True:
        rows = await client.execute_query_dict(
            f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > {first} ORDER BY id LIMIT {PAGE}",
            [last_id],
        )
        if not rows:
            return
        changes = [[terms, row["id"]] for row in rows if (terms := search_terms(*(row[c] for c in columns)))]
        if changes:
            await client.execute_many(update, changes)
        last_id = rows[-1]["id"]


async def fill_search_terms(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        before = [f"DROP INDEX IF EXISTS {name}" for name in OLD_FTS_INDEXES] + [
            "ALTER TABLE item_version DISABLE TRIGGER item_version_no_update",
            "ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_outcome_once",
        ]
        after = [
            "ALTER TABLE item_version ENABLE TRIGGER item_version_no_update",
            "ALTER TABLE journal_entry ENABLE TRIGGER journal_entry_outcome_once",
            "CREATE INDEX IF NOT EXISTS item_version_search_terms ON item_version"
            " USING gin (string_to_array(search_terms, ' '))",
            "CREATE INDEX IF NOT EXISTS journal_entry_search_terms ON journal_entry"
            " USING gin (string_to_array(search_terms, ' '))",
        ]
    elif dialect == "sqlite":
        before = [
            "DROP TRIGGER IF EXISTS item_version_no_update",
            "DROP TRIGGER IF EXISTS journal_entry_outcome_once",
        ]
        after = [SQLITE_VERSION_GUARD, _sqlite_journal_guard()]
    else:
        raise RuntimeError(f"no search terms written for the {dialect} dialect")
    if schema_editor.collect_sql:
        schema_editor.collected_sql.extend(
            [*before, "-- search_terms filled by proxy/search_terms.py", *after]
        )
        return
    client = schema_editor.client
    for statement in before:
        await client.execute_query(statement)
    postgres = dialect == "postgres"
    await _fill(client, "item_version", ("text", "forwarded_text"), postgres)
    await _fill(client, "journal_entry", ("text",), postgres)
    for statement in after:
        # One statement per call: SQLite's editor would split a trigger body at its inner ";".
        await client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0014_operator_locale_follows_browser")]

    operations = [
        ops.AddField(
            model_name="ItemVersion", name="search_terms", field=fields.TextField(default="", db_default="")
        ),
        ops.AddField(
            model_name="JournalEntry", name="search_terms", field=fields.TextField(default="", db_default="")
        ),
        ops.RunPython(fill_search_terms),
    ]
