"""Live team: an incident's traffic while 0, 25 or 100 operators have the inbox open, or 100 have
conversation pages open (issue 19).

PostgreSQL, two communities, `SEED_CONVERSATIONS` open conversations seeded through the callback
endpoint (bench/cases/team_traffic.py). Then, per level, customer events arrive at `RATE` a second for
`SECONDS` from `SENDERS` concurrent senders: new messages into existing (mostly the hot ones) and new
dialogs, replies in busy wall threads, new wall comments, edits, deletions, in both communities. Each
operator is one of the bench's accounts (`op1`...), logged in with its own session, assigned to both
communities, and replays its page in a process of its own (bench/cases/team_clients.py): the inbox
(GET /, `/live?since=`, the list partial on `resync`; pushed rows cause no request), or a conversation
page on one of the hot conversations (several on the hottest), refreshing its partials as htmx does.

Per level: the callback's p50/p99, the proxy's, PostgreSQL's and the bench's own CPU per event, requests
per event, the time from the callback's "ok" to the change in each open view (p50/p99), and the changes
missed (each client's final view checked against the database). The 0-operator level is the baseline
of the same run; one level puts 50 inboxes on each of two instances, callbacks alternating between them.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.cases.team_clients import ClientProcess, ClientResult, ClientSpec
from bench.cases.team_report import LevelResult, report
from bench.cases.team_traffic import GROUPS, SEED_CONVERSATIONS, Change, Traffic, hot_keys, seed
from bench.context import Context
from bench.processes import cpu_seconds, cpu_used, postgres_pids
from bench.results import BenchResult

# The scale: 40 customer events a second for 30 s over 2,000 open conversations (team_traffic.py).
RATE = 40.0
SECONDS = 30.0
SENDERS = 16
SETTLE_SECONDS = 3.0
DROPPED = "dropping a live update"  # proxy/live.py's warning
HOTTEST = 8  # the pages beyond one per hot conversation go to this many hottest ones


@dataclass(frozen=True)
class Level:
    operators: int
    instances: int = 1
    pages: bool = False  # conversation pages open instead of the inbox


LEVELS = [Level(0), Level(25), Level(100), Level(100, 2), Level(100, 1, pages=True)]


async def run(context: Context) -> BenchResult:
    await context.dataset.base()
    await context.dataset.second_community()
    result = BenchResult("team", "")
    levels: list[LevelResult] = []
    conn = await context.database.connect()
    try:
        trusted = {"PROXY_TRUSTED_PROXIES": "127.0.0.1/32"}  # the clients' X-Forwarded-For (team_clients.py)
        async with context.proxy(**trusted) as first, context.proxy(**trusted) as second:
            servers = [first, second]
            seeded = await seed([s.base_url for s in servers])
            hot = await _hot_ids(conn)
            for number, level in enumerate(LEVELS, start=1):
                print(f"[bench] team: level {number}: {level}", flush=True)
                levels.append(await _run_level(servers, number, level, conn, hot))
    finally:
        await conn.close()
    report(result, levels, rate=RATE, seconds=SECONDS, senders=SENDERS, settle=SETTLE_SECONDS)
    result.notes.append(
        f"Seeding {SEED_CONVERSATIONS:,} conversations through the callback endpoint took {seeded:.1f} s."
    )
    return result


async def _hot_ids(conn: Any) -> list[int]:
    """The hot conversations' ids, the hottest first."""
    keys = hot_keys()
    records = await conn.fetch(
        "SELECT c.id, c.key, m.vk_group_id FROM conversation c JOIN community m ON m.id = c.community_id "
        "WHERE m.vk_group_id = ANY($1) AND c.key = ANY($2)",
        list(GROUPS),
        [key for _, key in keys],
    )
    ids = {(r["vk_group_id"], r["key"]): r["id"] for r in records}
    return [ids[key] for key in keys if key in ids]


def _specs(level: Level, servers: list[Any], hot: list[int]) -> list[ClientSpec]:
    specs = []
    for n in range(level.operators):
        conversation = None
        if level.pages:
            conversation = hot[n] if n < len(hot) else hot[(n - len(hot)) % HOTTEST]
        specs.append(ClientSpec(f"op{n + 1}", servers[n % level.instances].base_url, conversation))
    return specs


async def _send(session: aiohttp.ClientSession, url: str, change: Change, latencies: list[float]) -> None:
    change.sent = time.perf_counter()
    async with session.post(url, data=change.body) as response:
        text = await response.text()
    change.ok_at = time.perf_counter()
    if text == "ok":
        latencies.append(change.ok_at - change.sent)


@dataclass
class _Readings:
    pids: list[int]
    bench: list[int]
    before: dict[str, dict[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pg = postgres_pids()
        self.before = self._now()

    def _now(self) -> dict[str, dict[int, float]]:
        return {"proxy": cpu_seconds(self.pids), "postgres": cpu_seconds(self.pg),
                "senders": cpu_seconds(self.bench[:1]), "clients": cpu_seconds(self.bench[1:])}  # fmt: skip

    def used(self) -> dict[str, float]:
        after = self._now()
        return {name: cpu_used(self.before[name], after[name]) for name in after}


async def _run_level(servers: list[Any], number: int, level: Level, conn: Any, hot: list[int]) -> LevelResult:
    result = LevelResult(level.operators, level.instances, level.pages)
    traffic = Traffic(number, int(RATE * SECONDS))
    specs = _specs(level, servers, hot)
    clients = ClientProcess(specs) if specs else None
    results: list[ClientResult] = []
    dropped_before = sum(_dropped(s) for s in servers)
    try:
        if clients is not None:
            await clients.ready()
            clients.start()
            await asyncio.sleep(0.2)  # the clients have reset their counters
        readings = _Readings([s.pid for s in servers], [os.getpid()] + ([clients.pid] if clients else []))
        semaphore = asyncio.Semaphore(SENDERS)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as sender:
            started = time.perf_counter()

            async def paced(change: Change) -> None:
                await asyncio.sleep(max(0.0, started + change.index / RATE - time.perf_counter()))
                server = servers[change.index % level.instances]
                async with semaphore:
                    url = f"{server.base_url}/callback/vk/{change.group_id}"
                    await _send(sender, url, change, result.callback)

            await asyncio.gather(*(paced(c) for c in traffic.changes))
            result.sending_seconds = time.perf_counter() - started
            await asyncio.sleep(SETTLE_SECONDS)
            if clients is not None:
                result.drain_seconds = await clients.drain()
        result.cpu = readings.used()
        result.events = len(traffic.changes)
        if clients is not None:
            results = await clients.stop()
    finally:
        if clients is not None:
            clients.kill()
    result.dropped = sum(_dropped(s) for s in servers) - dropped_before
    await result.check(conn, number, traffic.changes, results)
    return result


def _dropped(server: Any) -> int:
    """Live updates a server dropped for a page stream that did not keep up (its log says so)."""
    try:
        return server.log_path.read_text(errors="replace").count(DROPPED)
    except OSError:
        return 0
