"""`make soak`: the long fault runs, bounded in count and time, on loopback only.

1. SIGKILL of the proxy at random moments of a 5,000-event callback burst, on SQLite and on a private
   PostgreSQL cluster (bench/soak_kill.py);
2. PostgreSQL stopped and started twice under callback traffic (bench/soak_postgres.py);
3. operators' actions while the VK API answers errors, drops connections, loses answers, times out and is
   slow, on SQLite and on a private PostgreSQL cluster (bench/soak_vk_errors.py).

Prints one line per run and writes the figures to data/soak.json; exits 1 if anything was lost, doubled or
left unrecovered. Sizes can be changed with SOAK_EVENTS, SOAK_KILLS and SOAK_ACTIONS; name runs to do only
those (`python -m bench.soak vk_errors`; all by default: kill, postgres_outage, vk_errors).
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
from bench.soak_vk_errors import run_vk_errors
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


async def vk_error_runs(actions: int, work: Path) -> list[dict[str, Any]]:
    results = []
    sqlite_url = f"sqlite://{work}/vk-errors.sqlite3"
    await db.migrate(sqlite_url)
    report = await run_vk_errors(sqlite_url, actions=actions, seed=6, log_dir=work, label="sqlite")
    print(report.line(), flush=True)
    results.append({**report.__dict__, "ok": report.ok})
    cluster = PrivateCluster().init()
    cluster.start()
    try:
        await db.migrate(cluster.url)
        report = await run_vk_errors(cluster.url, actions=actions, seed=7, log_dir=work, label="postgres")
    finally:
        cluster.destroy()
    print(report.line(), flush=True)
    results.append({**report.__dict__, "ok": report.ok})
    return results


RUNS = ("kill", "postgres_outage", "vk_errors")


async def main(argv: list[str]) -> int:
    wanted = argv or list(RUNS)
    unknown = sorted(set(wanted) - set(RUNS))
    if unknown:
        print(f"soak: unknown run {', '.join(unknown)}; choose from {', '.join(RUNS)}", file=sys.stderr)
        return 2
    events = int(os.environ.get("SOAK_EVENTS", "5000"))
    kills = int(os.environ.get("SOAK_KILLS", "5"))
    actions = int(os.environ.get("SOAK_ACTIONS", "400"))
    work = Path(tempfile.mkdtemp(prefix="proxy-soak-"))
    print(
        f"soak: {', '.join(wanted)}; {events} events, {kills} kills per run, {actions} actions; logs in {work}",
        flush=True,
    )
    # Runs not asked for keep their figures from an earlier run.
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "kill" in wanted:
        results["kill"] = await kill_runs(events, kills, work)
    if "postgres_outage" in wanted:
        results["postgres_outage"] = await outage_runs(events // 2, work)
    if "vk_errors" in wanted:
        results["vk_errors"] = await vk_error_runs(actions, work)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    failed = [r for name in wanted for r in results[name] if not r["ok"]]
    print(f"soak: {'FAILED' if failed else 'ok'}; figures in {RESULTS}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
