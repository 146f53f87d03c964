"""Keep history for good in the database itself, and index content for incident search.

Triggers (PostgreSQL and SQLite):
- journal_entry: DELETE refused. UPDATE refused unless it only fills outcome, outcome_detail and
  outcome_at on a row whose outcome_at was NULL (so an outcome is filled once). TRUNCATE refused (PostgreSQL).
- item_version: UPDATE and DELETE refused.
- item, item_tombstone, raw_event: DELETE refused.
INSERT stays allowed everywhere, so a backup can be imported into an empty database.

Full-text search (PostgreSQL only): GIN expression indexes with the 'russian' and 'english'
configurations over item.text, item_version.text, item_tombstone.last_text and journal_entry.text.
The expressions must stay identical to the ones proxy/audit/search.py queries with.
Plain indexes (both databases) for timelines over a time range and an item's tombstones.

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# Tables whose rows are never deleted.
NO_DELETE = ("journal_entry", "item_version", "item_tombstone", "item", "raw_event")
# Tables that refuse TRUNCATE too (PostgreSQL; SQLite has no TRUNCATE, and its
# "DELETE FROM t" fast path is switched off by any DELETE trigger).
NO_TRUNCATE = NO_DELETE

# Every journal_entry column but the three outcome columns: they must not change on UPDATE (SQLite).
# PostgreSQL compares whole rows instead, so a column added later is covered there without a new trigger.
JOURNAL_FIXED_COLUMNS = (
    "id", "created_at", "actor_kind", "operator_id", "vk_user_id", "action", "community_id",
    "conversation_id", "item_id", "text", "params", "prev_hash", "hash",
)

SEARCH_COLUMNS = (
    ("item", "text"),
    ("item_version", "text"),
    ("item_tombstone", "last_text"),
    ("journal_entry", "text"),
)
SEARCH_CONFIGS = ("russian", "english")

# Plain indexes for incident timelines over a time range, and for an item's tombstones (both databases).
TIMELINE_INDEXES = (
    ("item_version", "valid_from"),
    ("item_tombstone", "restored_at"),
    ("item_tombstone", "item_id"),
    ("item", "sent_by_id"),
)


def _timeline_sql() -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS idx_{table}_{column}_audit ON {table} ({column});"
        for table, column in TIMELINE_INDEXES
    ]


def _postgres_sql() -> list[str]:
    sql = [
        """
        CREATE OR REPLACE FUNCTION proxy_keep_for_good() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on % refused: its rows are kept for good', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END
        $$;
        """,
        """
        CREATE OR REPLACE FUNCTION proxy_journal_outcome_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL
               AND (to_jsonb(NEW) - 'outcome' - 'outcome_detail' - 'outcome_at')
                   = (to_jsonb(OLD) - 'outcome' - 'outcome_detail' - 'outcome_at') THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'UPDATE on journal_entry % refused: only a pending outcome may be filled, once', OLD.id
                USING ERRCODE = 'restrict_violation';
        END
        $$;
        """,
        """
        CREATE TRIGGER journal_entry_outcome_once BEFORE UPDATE ON journal_entry
            FOR EACH ROW EXECUTE FUNCTION proxy_journal_outcome_once();
        """,
        """
        CREATE TRIGGER item_version_no_update BEFORE UPDATE ON item_version
            FOR EACH ROW EXECUTE FUNCTION proxy_keep_for_good();
        """,
    ]
    for table in NO_DELETE:
        sql.append(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION proxy_keep_for_good();"
        )
    for table in NO_TRUNCATE:
        sql.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION proxy_keep_for_good();"
        )
    for table, column in SEARCH_COLUMNS:
        for config in SEARCH_CONFIGS:
            sql.append(
                f"CREATE INDEX IF NOT EXISTS {table}_{column}_fts_{config[:2]} ON {table} "
                f"USING gin (to_tsvector('{config}'::regconfig, {column}));"
            )
    return sql


def _sqlite_sql() -> list[str]:
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in JOURNAL_FIXED_COLUMNS)
    sql = [
        f"""
        CREATE TRIGGER journal_entry_outcome_once BEFORE UPDATE ON journal_entry
        WHEN NOT (OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL AND {unchanged})
        BEGIN
            SELECT RAISE(ABORT, 'UPDATE on journal_entry refused: only a pending outcome may be filled, once');
        END;
        """,
        """
        CREATE TRIGGER item_version_no_update BEFORE UPDATE ON item_version
        BEGIN
            SELECT RAISE(ABORT, 'UPDATE on item_version refused: its rows are kept for good');
        END;
        """,
    ]
    for table in NO_DELETE:
        sql.append(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'DELETE on {table} refused: its rows are kept for good'); END;"
        )
    return sql


async def install_guards(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        statements = _postgres_sql() + _timeline_sql()
    elif dialect == "sqlite":
        statements = _sqlite_sql() + _timeline_sql()
    else:
        raise RuntimeError(f"no history guards written for the {dialect} dialect")
    for statement in statements:
        # One statement per call: SQLite's editor would split a trigger body at its inner ";".
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0002_outbox_result_item_key")]

    operations = [ops.RunPython(install_guards)]
