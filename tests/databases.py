"""Test databases: one migrated template per backend per run, and a fresh copy for every test.

SQLite copies the template file; PostgreSQL clones it with CREATE DATABASE ... TEMPLATE. Both are far
faster than migrating for every test, and every test starts from an empty, fully migrated schema.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from proxy import db

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        conn = await asyncio.wait_for(asyncpg.connect(_asyncpg_url(postgres_base_url())), 5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


class PostgresFactory:
    """Creates the migrated template once, then one clone per test; drops them all at the end."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:8]
        self.template = f"proxy_tpl_{self.run_id}"
        self.created: list[str] = []

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(_asyncpg_url(postgres_base_url()))

    async def prepare(self) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await conn.close()
        await db.migrate(_with_database(postgres_base_url(), self.template))

    async def new_database(self) -> str:
        name = f"proxy_t_{self.run_id}_{len(self.created)}"
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await conn.close()
        self.created.append(name)
        return _with_database(postgres_base_url(), name)

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def drop_all(self) -> None:
        conn = await self._admin()
        try:
            for name in [*self.created, self.template]:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


class SqliteFactory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.sqlite3"
        self.count = 0

    async def prepare(self) -> None:
        await db.migrate(f"sqlite://{self.template}")

    async def new_database(self) -> str:
        self.count += 1
        path = self.directory / f"test_{self.count}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite://{path}"

    async def drop(self, url: str) -> None:
        Path(url.removeprefix("sqlite://")).unlink(missing_ok=True)
