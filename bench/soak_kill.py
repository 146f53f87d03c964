"""The proxy killed with SIGKILL while VK delivers a burst of callbacks, restarted, and nothing lost or doubled.

The VK emulator runs in this process and delivers every event of its community to `python -m proxy serve`
running as a child process, retrying what was not acknowledged the way VK does (with a shorter schedule, so
a run takes seconds, not hours). At random moments of the burst the child is killed with SIGKILL and started
again. When every event has been acknowledged, the database must hold each event exactly once, every
acknowledged event included, and one item per message or comment written.

Used by `make soak` (bench/soak.py, thousands of events) and by tests/test_reliability_faults.py (hundreds).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.soak_common import (
    CONFIRMATION,
    SECRET,
    SOAK_RETRY_SCHEDULE,
    check_store,
    produce,
    start_callback_run,
)

__all__ = ["CONFIRMATION", "SECRET", "SOAK_RETRY_SCHEDULE", "KillReport", "describe", "run_kill_burst"]


@dataclass
class KillReport:
    """What one run did and what it found."""

    database: str
    events: int
    kills: int
    restarts: int = 0
    deliveries: int = 0
    acknowledged: int = 0
    retried: int = 0
    given_up: int = 0
    seconds: float = 0.0
    stored_events: int = 0
    doubled_events: int = 0
    missing_events: list[str] = field(default_factory=list)
    missing_acknowledged: list[str] = field(default_factory=list)
    items_expected: int = 0
    items_stored: int = 0

    @property
    def lost(self) -> int:
        return len(self.missing_events)

    @property
    def ok(self) -> bool:
        return (
            self.given_up == 0
            and self.lost == 0
            and not self.missing_acknowledged
            and self.doubled_events == 0
            and self.stored_events == self.events
            and self.items_stored == self.items_expected
        )

    def line(self) -> str:
        return (
            f"{self.database}: {self.events} events, {self.kills} SIGKILLs ({self.restarts} restarts), "
            f"{self.deliveries} deliveries ({self.retried} retries), {self.acknowledged} acknowledged, "
            f"stored {self.stored_events} once each, doubled {self.doubled_events}, lost {self.lost}, "
            f"acknowledged but missing {len(self.missing_acknowledged)}, given up {self.given_up}, "
            f"items {self.items_stored}/{self.items_expected}, {self.seconds:.1f} s"
        )


async def run_kill_burst(
    database_url: str,
    *,
    events: int,
    kills: int,
    seed: int,
    log_dir: Path,
    label: str = "",
    limit_seconds: float = 300.0,
) -> KillReport:
    """Deliver `events` callbacks to a proxy process killed `kills` times at random moments; check the store.

    `database_url` must name an empty, migrated database that nothing else uses.
    """
    rng = random.Random(seed)
    report = KillReport(database=label or database_url.split("://", 1)[0], events=events, kills=kills)
    started = time.monotonic()
    run = await start_callback_run(database_url, log_dir)
    server, delivery = run.server, run.delivery
    try:
        report.items_expected = produce(run.world, events, rng)
        # Kill when this many events have been acknowledged: random points spread over the burst.
        kill_points = sorted(rng.sample(range(events // 20, events - events // 20), kills))
        deadline = time.monotonic() + limit_seconds
        for point in kill_points:
            while sum(1 for a in delivery.attempts if a.acknowledged) < point:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stuck before kill point {point}; server log:\n{server.log_tail()}")
                await asyncio.sleep(rng.uniform(0.0, 0.02))
            assert server.process is not None
            server.process.send_signal(signal.SIGKILL)
            await server.process.wait()
            await asyncio.sleep(rng.uniform(0.0, 0.5))  # VK keeps knocking on a closed port meanwhile
            await server.start()
            report.restarts += 1
        async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
            await delivery.wait_idle()
    finally:
        await run.close()
    report.seconds = time.monotonic() - started
    report.deliveries = len(delivery.attempts)
    report.retried = sum(1 for a in delivery.attempts if a.retry > 0)
    report.acknowledged = len(run.acknowledged())
    report.given_up = len(delivery.given_up)
    store = await check_store(database_url, run)
    report.stored_events = store.stored_events
    report.doubled_events = store.doubled_events
    report.missing_events = store.missing_events
    report.missing_acknowledged = store.missing_acknowledged
    report.items_stored = store.items
    emitted = run.emitted
    assert len(emitted) == events, f"the emulator emitted {len(emitted)} events for {events} actions"
    return report


def describe(report: KillReport) -> dict[str, Any]:
    """The report as JSON-able figures."""
    return {**report.__dict__, "lost": report.lost, "ok": report.ok}
