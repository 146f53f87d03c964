"""Forwarded and quoted messages are content: kept on the item and on each version, and searchable.

- item.forwarded, item_version.forwarded: the quoted message (VK's reply_message) and the forwarded ones
  (fwd_messages), nested, as JSON (shape and bounds: proxy/events.py). Rows stored before keep `[]`; their
  raw events still hold what VK sent.
- item_version.forwarded_text: the texts of those messages at every depth, one per line, so that search
  finds a message by what it forwards.
- PostgreSQL: GIN expression indexes over item_version.forwarded_text with the 'russian' and 'english'
  configurations, the same expressions as item_version.text's (migration 0003) and the ones
  proxy/audit/search.py queries with. SQLite searches by substring and needs none.
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

SEARCH_CONFIGS = ("russian", "english")


def _json_field() -> fields.JSONField:
    # The database default fills the rows stored before.
    return fields.JSONField(
        default=list, db_default=[], encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
    )


async def index_forwarded_text(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    for config in SEARCH_CONFIGS:
        statement = (
            f"CREATE INDEX IF NOT EXISTS item_version_forwarded_text_fts_{config[:2]} ON item_version "
            f"USING gin (to_tsvector('{config}'::regconfig, forwarded_text))"
        )
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0007_one_active_ban")]

    operations = [
        ops.AddField(model_name="Item", name="forwarded", field=_json_field()),
        ops.AddField(model_name="ItemVersion", name="forwarded", field=_json_field()),
        ops.AddField(model_name="ItemVersion", name="forwarded_text", field=fields.TextField(default="", db_default="")),
        ops.RunPython(index_forwarded_text),
    ]
