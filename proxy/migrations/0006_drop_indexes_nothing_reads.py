"""Drop indexes that no query reads and every new event writes (docs/benchmarks.md, ingest).

- item.text full-text indexes (PostgreSQL; SQLite never had them). Migration 0003 indexed item.text for
  search beside item_version.text, but no query can use the item ones: the archive's word search
  (proxy/audit/archive.py) tests item.text in an OR with EXISTS over the versions and the tombstones,
  which the planner cannot answer with a bitmap scan of item, and every other search reads
  item_version, whose rows hold every text an item ever had, the current one included. EXPLAIN of the
  archive query reads item_version_text_fts_* and neither item index. They cost every new item two
  to_tsvector calls and two GIN insertions, and every edit the same again.
- raw_event (status) and (received_at), both databases: nothing reads raw events by either (events are
  found by their (vk_group_id, event_id) key, and by id, which grows with received_at). A page listing
  VK's warnings would want a partial index WHERE status <> 'processed', which costs the common event
  nothing.

Search results and every row stay as they were: dropping an index removes no data.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

ITEM_TEXT_INDEXES = ("item_text_fts_ru", "item_text_fts_en")


async def drop_item_text_indexes(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for name in ITEM_TEXT_INDEXES:
        statement = f"DROP INDEX IF EXISTS {name}"
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0005_report_indexes")]

    operations = [
        ops.RunPython(drop_item_text_indexes),
        ops.RemoveIndex(model_name="RawEvent", fields=["received_at"]),
        ops.RemoveIndex(model_name="RawEvent", fields=["status"]),
    ]
