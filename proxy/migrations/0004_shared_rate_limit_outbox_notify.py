"""Coordinate instances on PostgreSQL: VK rate limits held across instances, and outbox wake-ups.

PostgreSQL only (SQLite has one process, which keeps both in memory):

- vk_rate_window: per VK token (keyed by a hash, never the token), the start times of its last calls.
  proxy_rate_reserve(key, limit, period, margin) books the next start time for a call under the row's
  lock and returns how many seconds the caller must wait for it, on the database's clock, so every
  instance sees one sliding window per token whatever their own clocks say (proxy/rate_limit.py).
  Starts are spaced evenly, (period + margin) / limit apart, rather than in bursts of `limit`: a burst
  of calls leaves its instance together and some are delayed on the way (threads, a busy event loop),
  which packed them closer to the calls booked a window later and let VK count one too many.
- A statement trigger on outbox INSERT sends NOTIFY proxy_outbox, which PostgreSQL delivers when the
  queuing transaction commits (and never if it rolls back), so the outbox workers of every instance
  wake up for a new row at once instead of at their next poll (proxy/outbox.py).

The SQL lives here, not in an importable module, so that this migration keeps doing what it did.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

POSTGRES_SQL = [
    """
    CREATE TABLE IF NOT EXISTS vk_rate_window (
        key VARCHAR(80) PRIMARY KEY,
        starts DOUBLE PRECISION[] NOT NULL DEFAULT '{}'
    );
    """,
    """
    CREATE OR REPLACE FUNCTION proxy_rate_reserve(
        p_key TEXT, p_limit INTEGER, p_period DOUBLE PRECISION, p_margin DOUBLE PRECISION
    ) RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
    DECLARE
        booked DOUBLE PRECISION[];
        n INTEGER;
        now_s DOUBLE PRECISION;
        start_s DOUBLE PRECISION;
    BEGIN
        INSERT INTO vk_rate_window (key) VALUES (p_key) ON CONFLICT (key) DO NOTHING;
        SELECT w.starts INTO booked FROM vk_rate_window w WHERE w.key = p_key FOR UPDATE;
        -- Read the clock after the lock: another instance's booking may have been waited for.
        now_s := extract(epoch FROM clock_timestamp());
        n := coalesce(array_length(booked, 1), 0);
        start_s := now_s;
        IF n > 0 THEN
            start_s := greatest(start_s, booked[n] + (p_period + p_margin) / p_limit);
        END IF;
        IF n >= p_limit THEN
            -- The call `p_limit` bookings back must have left the window (plus a margin for jitter).
            start_s := greatest(start_s, booked[n - p_limit + 1] + p_period + p_margin);
        END IF;
        booked := booked || start_s;
        n := n + 1;
        IF n > p_limit THEN
            booked := booked[n - p_limit + 1 : n];
        END IF;
        UPDATE vk_rate_window SET starts = booked WHERE key = p_key;
        RETURN start_s - now_s;
    END
    $$;
    """,
    """
    CREATE OR REPLACE FUNCTION proxy_outbox_queued() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('proxy_outbox', '');
        RETURN NULL;
    END
    $$;
    """,
    """
    CREATE TRIGGER outbox_queued_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION proxy_outbox_queued();
    """,
]


async def install(apps, schema_editor) -> None:
    dialect = schema_editor.client.capabilities.dialect
    if dialect != "postgres":
        return  # one SQLite process: in-process rate limiters and wake-ups
    for statement in POSTGRES_SQL:
        if schema_editor.collect_sql:
            schema_editor.collected_sql.append(statement)
        else:
            await schema_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0003_audit_guards")]

    operations = [ops.RunPython(install)]
