"""The benchmark's own PostgreSQL database: created, migrated with `proxy migrate`, dropped."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

import asyncpg

from bench.processes import proxy_env, run_command

# Any database on the server will do to create and drop ours from.
DEFAULT_ADMIN_DSN = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_DATABASE = "proxy_bench"


@dataclass(frozen=True)
class BenchDatabase:
    admin_dsn: str
    name: str

    @property
    def dsn(self) -> str:
        """The bench database's URL (also the proxy's DATABASE_URL)."""
        base = self.admin_dsn.rsplit("/", 1)[0]
        return f"{base}/{self.name}"

    @classmethod
    def from_env(cls) -> BenchDatabase:
        name = os.environ.get("BENCH_DATABASE", DEFAULT_DATABASE)
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"BENCH_DATABASE must be a plain lower-case identifier, got {name!r}")
        return cls(os.environ.get("BENCH_ADMIN_DSN", DEFAULT_ADMIN_DSN), name)

    async def create(self) -> None:
        """A fresh, migrated database (an old one of the same name is dropped first)."""
        await self.drop()
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()
        await run_command([sys.executable, "-m", "proxy", "migrate"], proxy_env(self.dsn))

    async def drop(self) -> None:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn)

    async def server_version(self) -> str:
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            return str(await admin.fetchval("SHOW server_version"))
        finally:
            await admin.close()
