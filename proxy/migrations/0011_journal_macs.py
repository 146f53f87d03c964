"""A keyed MAC on journal entries (proxy/audit/journal.py, docs/audit.md "Checkpoints").

- journal_entry.mac: HMAC-SHA256 of the entry's content with a secret derived from the journal signing
  key, which the database does not hold; NULL for entries written without a key (all entries before
  this migration). The entry's hash covers it when present.
- journal_entry.outcome_mac: HMAC of the entry's hash and its outcome, filled with the outcome (once),
  so that an outcome changed behind the triggers is found; NULL without a key.
- The journal_entry_outcome_once trigger lets an UPDATE fill outcome_mac with the outcome. SQLite: it
  lists the columns an UPDATE must leave unchanged, recreated with `mac` among them. PostgreSQL: the
  function comparing whole rows leaves outcome_mac out of the comparison, like the other outcome columns.

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

JOURNAL_FIXED_COLUMNS = (
    "id", "created_at", "actor_kind", "operator_id", "vk_user_id", "action", "community_id",
    "conversation_id", "item_id", "text", "params", "prev_hash", "hash", "mac",
)


def _sqlite_outcome_trigger() -> list[str]:
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in JOURNAL_FIXED_COLUMNS)
    return [
        "DROP TRIGGER IF EXISTS journal_entry_outcome_once;",
        f"""
        CREATE TRIGGER journal_entry_outcome_once BEFORE UPDATE ON journal_entry
        WHEN NOT (OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL AND {unchanged})
        BEGIN
            SELECT RAISE(ABORT, 'UPDATE on journal_entry refused: only a pending outcome may be filled, once');
        END;
        """,
    ]


POSTGRES_OUTCOME_FUNCTION = """
    CREATE OR REPLACE FUNCTION proxy_journal_outcome_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.outcome_at IS NULL AND NEW.outcome_at IS NOT NULL
           AND (to_jsonb(NEW) - 'outcome' - 'outcome_detail' - 'outcome_at' - 'outcome_mac')
               = (to_jsonb(OLD) - 'outcome' - 'outcome_detail' - 'outcome_at' - 'outcome_mac') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'UPDATE on journal_entry % refused: only a pending outcome may be filled, once', OLD.id
            USING ERRCODE = 'restrict_violation';
    END
    $$;
"""


async def guard_macs(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        statements = [POSTGRES_OUTCOME_FUNCTION]
    elif dialect == "sqlite":
        statements = _sqlite_outcome_trigger()
    else:
        raise RuntimeError(f"no journal guard written for the {dialect} dialect")
    for statement in statements:
        # One statement per call: SQLite's editor would split a trigger body at its inner ";".
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0010_login_throttle")]

    operations = [
        ops.AddField(
            model_name="JournalEntry",
            name="mac",
            field=fields.CharField(max_length=64, null=True),
        ),
        ops.AddField(
            model_name="JournalEntry",
            name="outcome_mac",
            field=fields.CharField(max_length=64, null=True),
        ),
        ops.RunPython(guard_macs),
    ]
