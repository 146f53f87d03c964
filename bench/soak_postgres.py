"""PostgreSQL stopped and started under callback traffic, on a private cluster (never the shared server).

A throw-away cluster is made with Debian's initdb and run with pg_ctl on a free loopback port (as the
postgres user when we are root). The proxy runs as a child process on it; the VK emulator delivers a
steady stream of callbacks. Mid-stream the cluster is stopped: /healthz must answer 503 and callbacks a
non-"ok" status (so VK delivers them again); then it is started again and the same proxy process must
recover by itself. At the end every event is stored exactly once and every acknowledged one is present.
"""

from __future__ import annotations

import asyncio
import glob
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.processes import free_port
from bench.soak_common import check_store, produce, start_callback_run


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs (the newest version installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivateCluster:
    """A PostgreSQL cluster of our own in a temporary directory, on a free loopback port."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("Debian's PostgreSQL server programs are not installed (/usr/lib/postgresql)")
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="proxy-pg-"))
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout[-500:]} {result.stderr[-500:]}")

    def init(self) -> PrivateCluster:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class OutageReport:
    events: int
    outage_seconds: float = 0.0
    health_while_down: list[int] = field(default_factory=list)
    health_after: int | None = None
    recovered_after_seconds: float | None = None
    callbacks_refused_while_down: int = 0
    acknowledged_while_down: int = 0
    acknowledged: int = 0
    stored_events: int = 0
    doubled_events: int = 0
    lost: int = 0
    missing_acknowledged: int = 0
    given_up: int = 0
    server_restarts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            503 in self.health_while_down
            and self.health_after == 200
            and self.callbacks_refused_while_down > 0
            and self.acknowledged_while_down == 0
            and self.lost == 0
            and self.missing_acknowledged == 0
            and self.doubled_events == 0
            and self.stored_events == self.events
            and self.given_up == 0
            and self.server_restarts == 0
        )

    def line(self) -> str:
        return (
            f"postgres outage of {self.outage_seconds:.1f} s under {self.events} events: /healthz while down "
            f"{sorted(set(self.health_while_down))}, after {self.health_after} "
            f"(healthy {self.recovered_after_seconds} s after the start, no proxy restart); "
            f"{self.callbacks_refused_while_down} callbacks refused while down, "
            f"{self.acknowledged_while_down} acknowledged while down; stored {self.stored_events} once each, "
            f"doubled {self.doubled_events}, lost {self.lost}, acknowledged but missing "
            f"{self.missing_acknowledged}, given up {self.given_up}, {self.seconds:.1f} s"
        )


async def _health(session: aiohttp.ClientSession, base_url: str) -> int:
    try:
        async with session.get(base_url + "/healthz", timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def run_postgres_outage(
    cluster: PrivateCluster,
    *,
    events: int,
    outage_seconds: float,
    seed: int,
    log_dir: Path,
    limit_seconds: float = 240.0,
) -> OutageReport:
    """Stream `events` callbacks; stop the cluster for `outage_seconds` in the middle; check the store."""
    from proxy import db

    rng = random.Random(seed)
    report = OutageReport(events=events)
    started = time.monotonic()
    await db.migrate(cluster.url)
    run = await start_callback_run(cluster.url, log_dir)
    server, world, delivery = run.server, run.world, run.delivery
    first_pid = server.pid
    try:
        async with aiohttp.ClientSession() as session:
            half = events // 2
            produce(world, half, rng)
            await asyncio.sleep(0.5)  # traffic is flowing
            cluster.stop()
            down_at = time.monotonic()
            # A commit that finished as the server shut down may still be acknowledged just after.
            await asyncio.sleep(0.3)
            first_down_attempt = len(delivery.attempts)
            produce(world, events - half, rng)  # members keep writing while the database is down
            while time.monotonic() - down_at < outage_seconds:
                report.health_while_down.append(await _health(session, server.base_url))
                await asyncio.sleep(0.25)
            last_down_attempt = len(delivery.attempts)
            cluster.start()
            up_at = time.monotonic()
            report.outage_seconds = up_at - down_at
            for _ in range(240):  # up to a minute, by quarter seconds
                if await _health(session, server.base_url) == 200:
                    break
                await asyncio.sleep(0.25)
            report.recovered_after_seconds = round(time.monotonic() - up_at, 1)
            report.health_after = await _health(session, server.base_url)
            async with asyncio.timeout(limit_seconds):
                await delivery.wait_idle()
            assert server.process is not None
            report.server_restarts = 0 if server.process.returncode is None and server.pid == first_pid else 1
    finally:
        await run.close()
    report.seconds = time.monotonic() - started
    during = list(delivery.attempts)[first_down_attempt:last_down_attempt]
    report.callbacks_refused_while_down = sum(1 for a in during if not a.acknowledged)
    report.acknowledged_while_down = sum(1 for a in during if a.acknowledged)
    acknowledged = run.acknowledged()
    report.acknowledged = len(acknowledged)
    report.given_up = len(delivery.given_up)
    store = await check_store(cluster.url, run)
    report.stored_events = store.stored_events
    report.doubled_events = store.doubled_events
    report.lost = len(store.missing_events)
    report.missing_acknowledged = len(store.missing_acknowledged)
    return report
