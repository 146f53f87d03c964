"""A raw event's delivered content is kept as delivered (proxy/audit/immutability.py, docs/audit.md).

Trigger raw_event_content_fixed (PostgreSQL and SQLite): an UPDATE of raw_event is refused unless it
changes nothing but `status` and `detail`, the processing result that ingest fills after insert. Before
it, a payload rewritten in the minutes before the next digest (proxy/audit/history.py digests rows once
they have settled) would have been digested, and signed, as if VK had delivered it.

PostgreSQL compares whole rows less those two columns, so a column added later is covered without a new
trigger; SQLite lists the columns an UPDATE must leave unchanged. DELETE and TRUNCATE were refused
already (0003_audit_guards); INSERT stays allowed, so a backup can still be imported.

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

RAW_EVENT_FIXED_COLUMNS = (
    "id", "community_id", "vk_group_id", "event_id", "type", "payload", "source", "received_at",
)  # fmt: skip

POSTGRES_SQL = [
    """
    CREATE OR REPLACE FUNCTION proxy_raw_event_content_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (to_jsonb(NEW) - 'status' - 'detail') = (to_jsonb(OLD) - 'status' - 'detail') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'UPDATE on raw_event % refused: only its processing status and detail may change', OLD.id
            USING ERRCODE = 'restrict_violation';
    END
    $$;
    """,
    """
    CREATE TRIGGER raw_event_content_fixed BEFORE UPDATE ON raw_event
        FOR EACH ROW EXECUTE FUNCTION proxy_raw_event_content_fixed();
    """,
]


def _sqlite_sql() -> list[str]:
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in RAW_EVENT_FIXED_COLUMNS)
    return [
        f"""
        CREATE TRIGGER raw_event_content_fixed BEFORE UPDATE ON raw_event
        WHEN NOT ({unchanged})
        BEGIN
            SELECT RAISE(ABORT, 'UPDATE on raw_event refused: only its processing status and detail may change');
        END;
        """,
    ]


async def install_guard(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        statements = POSTGRES_SQL
    elif dialect == "sqlite":
        statements = _sqlite_sql()
    else:
        raise RuntimeError(f"no raw event guard written for the {dialect} dialect")
    for statement in statements:
        # One statement per call: SQLite's editor would split a trigger body at its inner ";".
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0016_moderation_rules")]

    operations = [ops.RunPython(install_guard)]
