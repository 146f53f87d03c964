"""What comment threads hang on: the post, photo, video, product or board topic (proxy/thread_parents.py).

thread_parent: one row per commented object of a community (`key` "wall:-1_2"), written from the events
that carry it (a community's wall_post_new) or fetched from the network once in the background. `state`
is "pending" (not loaded yet; `next_attempt_at` says when to try, `attempts` how often it failed),
"loaded" or "missing" (the network no longer has it). Instants are seconds since 1970 as floating
point, the same on both databases. Before this migration a conversation showed only its key.

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

CREATE = {
    "postgres": [
        """
        CREATE TABLE IF NOT EXISTS thread_parent (
            id BIGSERIAL PRIMARY KEY,
            community_id BIGINT NOT NULL REFERENCES community (id) ON DELETE RESTRICT,
            key VARCHAR(128) NOT NULL,
            channel VARCHAR(16) NOT NULL,
            owner_id BIGINT NOT NULL,
            object_id BIGINT NOT NULL,
            state VARCHAR(16) NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            image_url VARCHAR(1024) NOT NULL DEFAULT '',
            posted_at DOUBLE PRECISION,
            url VARCHAR(1024) NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            CONSTRAINT thread_parent_community_key UNIQUE (community_id, key),
            CONSTRAINT thread_parent_state CHECK (state IN ('pending', 'loaded', 'missing'))
        )
        """,
        "CREATE INDEX IF NOT EXISTS thread_parent_due ON thread_parent (state, next_attempt_at)",
    ],
    "sqlite": [
        """
        CREATE TABLE IF NOT EXISTS thread_parent (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            community_id BIGINT NOT NULL REFERENCES community (id) ON DELETE RESTRICT,
            key VARCHAR(128) NOT NULL,
            channel VARCHAR(16) NOT NULL,
            owner_id BIGINT NOT NULL,
            object_id BIGINT NOT NULL,
            state VARCHAR(16) NOT NULL CHECK (state IN ('pending', 'loaded', 'missing')),
            text TEXT NOT NULL DEFAULT '',
            image_url VARCHAR(1024) NOT NULL DEFAULT '',
            posted_at REAL,
            url VARCHAR(1024) NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (community_id, key)
        )
        """,
        "CREATE INDEX IF NOT EXISTS thread_parent_due ON thread_parent (state, next_attempt_at)",
    ],
}


async def create_thread_parent(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect not in CREATE:
        raise RuntimeError(f"no thread_parent table written for the {dialect} dialect")
    for statement in CREATE[dialect]:
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0011_journal_macs")]

    operations = [ops.RunPython(create_thread_parent)]
