"""Database wiring: the Tortoise configuration, migrations, and the connection lifecycle.

The package also holds what every part that writes SQL by hand shares: `proxy.db.sql` (statements that
mean the same on PostgreSQL and SQLite) and `proxy.db.group_commit` (one-row statements written together).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api.migrate import migrate as run_migrations

MODELS_MODULE = "proxy.models"
MIGRATIONS_MODULE = "proxy.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise ORM configuration for one database URL."""
    url = database_url
    if url.startswith("postgresql://"):
        # Tortoise spells the asyncpg backend "postgres".
        url = "postgres://" + url[len("postgresql://") :]
    connection: str | dict[str, Any] = url
    if url.startswith("postgres://"):
        connection = expand_db_url(url)
        connection["credentials"]["reset"] = _keep_session
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def _keep_session(_connection: Any) -> None:
    """Release a pooled connection as it is, without asyncpg's reset query.

    asyncpg's default reset (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is a
    round trip on every release, and ingest's common case is one statement: it was a third of that
    path's round trips. Nothing leaves session state on a pooled connection: advisory locks there are
    transaction-scoped (the long-poll leader's session lock has a connection of its own, as has LISTEN),
    settings are made with SET LOCAL / set_config(..., true), and no cursor outlives its transaction.
    asyncpg still drops the connection's listeners and rolls back an unfinished transaction itself.
    """


def is_postgres() -> bool:
    """Whether the default connection is PostgreSQL (for SKIP LOCKED, advisory locks, LISTEN)."""
    return connections.get("default").capabilities.dialect == "postgres"


async def open_database(database_url: str) -> None:
    """Connect the ORM; the schema must already be migrated."""
    await Tortoise.init(config=tortoise_config(database_url))


async def close_database() -> None:
    await Tortoise.close_connections()
    # Tortoise caches compiled INSERT statements by connection name, not by dialect: a process that
    # reopens "default" on another backend (the test suite does) would reuse SQLite's placeholders.
    EXECUTOR_CACHE.clear()


def _migration_config(database_url: str) -> dict[str, Any]:
    """The configuration migrations run with: on SQLite, foreign keys are not enforced meanwhile.

    SQLite cannot drop a column's UNIQUE in place, so a migration that changes one rebuilds the table
    (create the new table, copy, drop the old, rename). With foreign keys enforced, dropping a table
    other rows refer to either fails (RESTRICT) or deletes those rows (CASCADE). SQLite's documented
    procedure is to switch enforcement off around the rebuild and run `PRAGMA foreign_key_check` before
    committing: a migration that rebuilds a table does that check itself (`check_foreign_keys`), so a
    broken reference rolls the migration back instead of being committed.
    """
    config = tortoise_config(database_url)
    connection = config["connections"]["default"]
    if isinstance(connection, str) and connection.startswith("sqlite://"):
        expanded = expand_db_url(connection)
        expanded["credentials"]["foreign_keys"] = "OFF"
        config["connections"]["default"] = expanded
    return config


async def check_foreign_keys(client: Any) -> None:
    """Refuse to commit a migration that left a row referring to nothing (SQLite; see _migration_config)."""
    if client.capabilities.dialect != "sqlite":
        return
    _, broken = await client.execute_query("PRAGMA foreign_key_check")
    if broken:
        rows = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:10])
        raise RuntimeError(f"the migration left {len(broken)} rows referring to nothing: {rows}")


async def migrate(database_url: str, target: str | None = None) -> None:
    """Apply every pending migration (tortoise's built-in migration system), or those up to `target`
    ("models.0017_raw_event_content_guard")."""
    try:
        await run_migrations(config=_migration_config(database_url), target=target)
    finally:
        await close_database()


@asynccontextmanager
async def database(database_url: str) -> AsyncIterator[None]:
    """Open the database for the duration of a block (CLI commands, scripts)."""
    await open_database(database_url)
    try:
        yield
    finally:
        await close_database()
