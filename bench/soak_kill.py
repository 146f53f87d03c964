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
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import ServerProcess, proxy_server
from proxy.connectors.vk.emulator import CallbackConfig, Scenario, World, start_emulator

# Short, but long enough to outlast a restart (about two seconds) many times over: 12 retries, ~55 s.
SOAK_RETRY_SCHEDULE = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0, 5.0, 10.0, 10.0)
SECRET = "soak-callback-secret"
CONFIRMATION = "soak0k"


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


def produce(world: World, count: int, rng: random.Random) -> int:
    """Members write `count` messages and comments; returns how many items they make (one per event)."""
    scenario = Scenario(world.state)
    targets = [world.post, world.photo, world.video, world.item, world.topic]
    for n in range(count):
        member = rng.choice(world.members)
        if rng.random() < 0.5:
            scenario.member_writes_message(world.group, member, f"сообщение {n}")
        else:
            target = rng.choice(targets)
            scenario.member_comments(world.group, member, target, f"комментарий {n}", kind=target.kind)
    return count


async def _setup_database(database_url: str, group_id: int) -> None:
    from proxy import db
    from proxy.models import Community

    async with db.database(database_url):
        await Community.create(
            vk_group_id=group_id, name="soak", callback_secret=SECRET, confirmation_code=CONFIRMATION
        )


async def _inspect(database_url: str, group_id: int) -> tuple[Counter[str], int]:
    from proxy import db
    from proxy.models import Item, RawEvent

    async with db.database(database_url):
        ids = await RawEvent.filter(vk_group_id=group_id).values_list("event_id", flat=True)
        items = await Item.all().count()
    return Counter(ids), items


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
    server: ServerProcess = proxy_server(database_url, log_dir)
    world = World.create()
    world.group.callback = CallbackConfig(
        url=f"{server.base_url}/callback/vk/{world.group.id}", secret=SECRET, confirmation_code=CONFIRMATION
    )
    await _setup_database(database_url, world.group.id)
    emitted: list[str] = []
    world.state.add_listener(lambda group, event: emitted.append(str(event["event_id"])))
    emulator = await start_emulator(world.state, retry_schedule=SOAK_RETRY_SCHEDULE)
    delivery = emulator.delivery
    # The emulator keeps the last 10,000 attempts; a soak makes more, and every one is counted here.
    delivery.attempts = deque()
    delivery.given_up = deque()
    await server.start()
    try:
        report.items_expected = produce(world, events, rng)
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
        await emulator.close()
        await server.stop()
    report.seconds = time.monotonic() - started
    report.deliveries = len(delivery.attempts)
    report.retried = sum(1 for a in delivery.attempts if a.retry > 0)
    acknowledged = {a.event_id for a in delivery.attempts if a.acknowledged}
    report.acknowledged = len(acknowledged)
    report.given_up = len(delivery.given_up)
    stored, report.items_stored = await _inspect(database_url, world.group.id)
    report.stored_events = sum(stored.values())
    report.doubled_events = sum(1 for count in stored.values() if count > 1)
    report.missing_events = [e for e in emitted if e not in stored]
    report.missing_acknowledged = sorted(acknowledged - set(stored))
    assert len(emitted) == events, f"the emulator emitted {len(emitted)} events for {events} actions"
    return report


def describe(report: KillReport) -> dict[str, Any]:
    """The report as JSON-able figures."""
    return {**report.__dict__, "lost": report.lost, "ok": report.ok}
