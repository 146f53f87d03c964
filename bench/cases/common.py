"""Helpers the cases share: load levels in a table, a figure from a load result."""

from __future__ import annotations

import aiohttp

from bench.load import LoadResult
from bench.processes import cpu_seconds, machine_busy_seconds


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def load_row(label: str, result: LoadResult) -> list[str]:
    return [
        label,
        str(result.concurrency),
        f"{result.completed:,}",
        str(result.failed),
        f"{result.rate:,.0f}",
        ms(result.p50_ms),
        ms(result.p99_ms),
    ]


LOAD_HEADER = ["what", "concurrency", "answered", "failed", "per second", "p50 ms", "p99 ms"]


def cpu_snapshot(server_pid: int | None, database: list[int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far: the server under test, PostgreSQL's processes, and the whole machine (load
    generator and everything else included, as pid 0)."""
    figures = {"PostgreSQL": cpu_seconds(database), "machine": {0: machine_busy_seconds()}}
    if server_pid is not None:
        figures["server"] = cpu_seconds([server_pid])
    return figures


async def route_exists(session: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> bool:
    """False when the server answers 404 or 405 (the route is not there yet)."""
    async with session.request(method, url, allow_redirects=False, **kwargs) as response:  # type: ignore[arg-type]
        await response.read()
        return response.status not in (404, 405)


async def log_in(session: aiohttp.ClientSession, base_url: str, login: str, password: str) -> None:
    """Log the session in through the login form (its cookie jar must accept cookies for an IP)."""
    async with session.post(
        f"{base_url}/login", data={"login": login, "password": password, "next": "/"}, allow_redirects=False
    ) as response:
        await response.read()
        if response.status not in (302, 303):
            raise RuntimeError(f"log in as {login} failed: HTTP {response.status}")


def cookie_session(concurrency: int = 1) -> aiohttp.ClientSession:
    """A load session that keeps the session cookie of 127.0.0.1."""
    from bench.load import client_session

    return client_session(concurrency, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def table_sizes(conn: object, tables: list[str]) -> list[list[str]]:
    """Rows [table, rows (estimate), size with indexes MB] for the report."""
    rows = [["table", "rows", "MB with indexes"]]
    for table in tables:
        record = await conn.fetchrow(  # type: ignore[attr-defined]
            "SELECT reltuples::bigint AS n, pg_total_relation_size(oid) AS size FROM pg_class WHERE relname = $1",
            table,
        )
        rows.append([table, f"{record['n']:,}", f"{record['size'] / 1e6:.0f}"])
    return rows
