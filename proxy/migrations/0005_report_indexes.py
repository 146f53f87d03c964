"""Indexes for the reports and the inbox (docs/benchmarks.md).

- PostgreSQL only: reaction_sample (operator_id, seconds) INCLUDE (ended_at, is_first, business_seconds,
  community_id) WHERE ended_by = 'reply'. The per-operator reaction figures (proxy/stats/reactions.py)
  read it in an index-only scan already ordered by operator and seconds, so the sorted values the
  medians are taken from come without a sort. SQLite computes those figures with window functions over
  a join, which this index does not serve: it gets none.
- Both databases: conversation (status, last_item_at) WHERE waiting_since IS NULL, the inbox's
  conversations nobody waits on, most recent first (proxy/inbox.py, after the waiting ones); without
  it that part of the queue was a scan of every conversation.

Plain CREATE INDEX (migrations run in a transaction, so not CONCURRENTLY): writes to the two tables wait
while the indexes are built, a few seconds per million rows.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

REACTION_INDEX = """
    CREATE INDEX IF NOT EXISTS idx_reaction_sample_reply_operator_seconds
        ON reaction_sample (operator_id, seconds)
        INCLUDE (ended_at, is_first, business_seconds, community_id)
        WHERE ended_by = 'reply'
"""
INBOX_INDEX = """
    CREATE INDEX IF NOT EXISTS idx_conversation_answered_status_last_item
        ON conversation (status, last_item_at)
        WHERE waiting_since IS NULL
"""


async def install_indexes(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        statements = [REACTION_INDEX, INBOX_INDEX]
    elif dialect == "sqlite":
        statements = [INBOX_INDEX]
    else:
        raise RuntimeError(f"no report indexes written for the {dialect} dialect")
    for statement in statements:
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0004_shared_rate_limit_outbox_notify")]

    operations = [ops.RunPython(install_indexes)]
