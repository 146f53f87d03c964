"""`make soak`: the long fault runs, bounded in count and time, on loopback only.

1. SIGKILL of the proxy at random moments of a 5,000-event callback burst, on SQLite and on a private
   PostgreSQL cluster (bench/soak_kill.py);
2. PostgreSQL stopped and started twice under callback traffic (bench/soak_postgres.py).

Prints one line per run and writes the figures to data/soak.json; exits 1 if anything was lost, doubled or
left unrecovered. Sizes can be changed with SOAK_EVENTS and SOAK_KILLS.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.soak_kill import describe, run_kill_burst
from bench.soak_postgres import PrivateCluster, run_postgres_outage
from proxy import db

RESULTS = Path(__file__).resolve().parent.parent / "data" / "soak.json"


async def kill_runs(events: int, kills: int, work: Path) -> list[dict[str, Any]]:
    results = []
    sqlite_url = f"sqlite://{work}/soak.sqlite3"
    await db.migrate(sqlite_url)
    report = await run_kill_burst(
        sqlite_url, events=events, kills=kills, seed=1, log_dir=work, label="sqlite"
    )
    print(report.line(), flush=True)
    results.append(describe(report))
    cluster = PrivateCluster().init()
    cluster.start()
    try:
        await db.migrate(cluster.url)
        report = await run_kill_burst(
            cluster.url, events=events, kills=kills, seed=2, log_dir=work, label="postgres"
        )
    finally:
        cluster.destroy()
    print(report.line(), flush=True)
    results.append(describe(report))
    return results


async def outage_runs(events: int, work: Path) -> list[dict[str, Any]]:
    results = []
    for seed, outage in ((3, 3.0), (4, 8.0)):
        cluster = PrivateCluster().init()
        cluster.start()
        try:
            report = await run_postgres_outage(
                cluster, events=events, outage_seconds=outage, seed=seed, log_dir=work
            )
        finally:
            cluster.destroy()
        print(report.line(), flush=True)
        results.append({**report.__dict__, "ok": report.ok})
    return results


async def main() -> int:
    events = int(os.environ.get("SOAK_EVENTS", "5000"))
    kills = int(os.environ.get("SOAK_KILLS", "5"))
    work = Path(tempfile.mkdtemp(prefix="proxy-soak-"))
    print(f"soak: {events} events, {kills} kills per run; logs in {work}", flush=True)
    results = {
        "kill": await kill_runs(events, kills, work),
        "postgres_outage": await outage_runs(events // 2, work),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    failed = [r for group in results.values() for r in group if not r["ok"]]
    print(f"soak: {'FAILED' if failed else 'ok'}; figures in {RESULTS}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
