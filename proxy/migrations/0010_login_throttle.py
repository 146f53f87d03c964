"""The log in throttle's counters, shared by every instance (web/throttle.py).

login_throttle: one row per counter (the login, the client address, or both), with the attempts taken,
the instant before which no attempt is allowed (`not_before`), when it was last taken, and a revision
that each change moves on, so an attempt is counted with a compare-and-set. Instants are seconds since
1970 as floating point, the same on both databases. Before this migration the counts were kept in each
instance's memory, and concurrent guesses were all checked before any was counted.

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

CREATE = {
    "postgres": """
        CREATE TABLE IF NOT EXISTS login_throttle (
            key VARCHAR(400) PRIMARY KEY,
            attempts INTEGER NOT NULL,
            not_before DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            revision BIGINT NOT NULL
        )
    """,
    "sqlite": """
        CREATE TABLE IF NOT EXISTS login_throttle (
            key VARCHAR(400) PRIMARY KEY,
            attempts INTEGER NOT NULL,
            not_before REAL NOT NULL,
            updated_at REAL NOT NULL,
            revision INTEGER NOT NULL
        )
    """,
}


async def create_login_throttle(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect not in CREATE:
        raise RuntimeError(f"no login_throttle table written for the {dialect} dialect")
    if schema_editor.collect_sql:
        schema_editor.collected_sql.append(CREATE[dialect])
    else:
        await schema_editor.client.execute_query(CREATE[dialect])


class Migration(migrations.Migration):
    dependencies = [("models", "0009_community_network")]

    operations = [ops.RunPython(create_login_throttle)]
