"""Watching PostgreSQL's locks from a test: sessions waiting for one, and the deadlocks it detected."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.databases import _asyncpg_url


async def until_waiting(conn: asyncpg.Connection, count: int) -> None:
    """Until `count` sessions of this database wait for a lock (`conn` outside any transaction: within
    one, PostgreSQL keeps showing the activity it saw first)."""
    async with asyncio.timeout(30):
        while (  # noqa: ASYNC110 - waits for PostgreSQL's sessions
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            < count
        ):
            await asyncio.sleep(0.01)


async def deadlocks(url: str) -> int:
    """Deadlocks PostgreSQL has detected in this database (pg_stat_database).

    A session adds its own to the count when it exits at the latest: see `backends_gone`.
    """
    conn = await asyncpg.connect(_asyncpg_url(url))
    try:
        return await conn.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
    finally:
        await conn.close()


async def backends_gone(url: str) -> None:
    """Until no other session is connected to the database: a backend adds its counts to
    pg_stat_database as it exits, before it leaves pg_stat_activity."""
    conn = await asyncpg.connect(_asyncpg_url(url))
    try:
        async with asyncio.timeout(30):
            while await conn.fetchval(  # noqa: ASYNC110 - waits for PostgreSQL's backends
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ):
                await asyncio.sleep(0.05)
    finally:
        await conn.close()
