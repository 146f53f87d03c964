"""What the fault runs share: a proxy child process fed callbacks by an in-process VK emulator, and the
check of the store at the end (each event stored once, nothing acknowledged missing).

bench/soak_kill.py, bench/soak_postgres.py and bench/soak_vk_errors.py build on it.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import ServerProcess, proxy_server
from vk_emulator import CallbackConfig, RunningEmulator, Scenario, World, start_emulator
from vk_emulator.delivery import CallbackDelivery

# Short, but long enough to outlast a restart (about two seconds) many times over: 12 retries, ~55 s.
SOAK_RETRY_SCHEDULE = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0, 5.0, 10.0, 10.0)
SECRET = "soak-callback-secret"
CONFIRMATION = "soak0k"


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


Prepare = Callable[[Any], Awaitable[None]]


async def setup_community(
    database_url: str, group_id: int, *, prepare: Prepare | None = None, **fields: Any
) -> int:
    """The proxy's row for the emulated community (callback mode, the soak's secret); returns its id.
    `prepare(community)` runs with the database open (accounts, say)."""
    from proxy import db
    from proxy.models import Community

    async with db.database(database_url):
        community = await Community.create(
            vk_group_id=group_id,
            name="soak",
            callback_secret=SECRET,
            confirmation_code=CONFIRMATION,
            **fields,
        )
        if prepare is not None:
            await prepare(community)
    return community.id


@dataclass
class CallbackRun:
    """A proxy process, the emulator delivering its community's events to it, and every event emitted."""

    server: ServerProcess
    world: World
    emulator: RunningEmulator
    emitted: list[str] = field(default_factory=list)

    @property
    def delivery(self) -> CallbackDelivery:
        return self.emulator.delivery

    def acknowledged(self) -> set[str]:
        return {a.event_id for a in self.delivery.attempts if a.acknowledged}

    async def close(self) -> None:
        await self.emulator.close()
        await self.server.stop()


async def start_callback_run(
    database_url: str,
    log_dir: Path,
    *,
    world: World | None = None,
    community_fields: dict[str, Any] | None = None,
    prepare: Prepare | None = None,
    route_vk_api: bool = False,
    **server_env: str,
) -> CallbackRun:
    """Start the proxy on `database_url` (empty and migrated) and an emulator that delivers every event of
    its community to it, retrying unacknowledged ones on the soak's schedule. Close it with close().

    `community_fields` and `prepare` go to setup_community; `server_env` to the proxy's environment;
    `route_vk_api` sends the proxy's VK API calls to the emulator too."""
    world = world or World.create()
    emulator = await start_emulator(world.state, retry_schedule=SOAK_RETRY_SCHEDULE)
    try:
        if route_vk_api:
            server_env = {**server_env, "PROXY_VK_API_BASE": emulator.base_url}
        server = proxy_server(database_url, log_dir, **server_env)
        world.group.callback = CallbackConfig(
            url=f"{server.base_url}/callback/vk/{world.group.id}",
            secret=SECRET,
            confirmation_code=CONFIRMATION,
        )
        await setup_community(database_url, world.group.id, prepare=prepare, **(community_fields or {}))
        run = CallbackRun(server, world, emulator)
        world.state.add_listener(lambda group, event: run.emitted.append(str(event["event_id"])))
        # The emulator keeps the last 10,000 attempts; a soak makes more, and every one is counted here.
        run.delivery.attempts = deque()
        run.delivery.given_up = deque()
        await server.start()
    except BaseException:
        await emulator.close()
        raise
    return run


@dataclass
class StoreCheck:
    """What the store holds of the events emitted."""

    stored_events: int
    doubled_events: int
    missing_events: list[str]
    missing_acknowledged: list[str]
    items: int


async def stored_event_ids(database_url: str, group_id: int) -> tuple[Counter[str], int]:
    """How many times each event id of the community is stored, and how many items there are."""
    from proxy import db
    from proxy.models import Item, RawEvent

    async with db.database(database_url):
        ids = await RawEvent.filter(vk_group_id=group_id).values_list("event_id", flat=True)
        items = await Item.all().count()
    return Counter(ids), items


async def check_store(database_url: str, run: CallbackRun) -> StoreCheck:
    """Each event emitted stored once? Every acknowledged one present?"""
    stored, items = await stored_event_ids(database_url, run.world.group.id)
    return StoreCheck(
        stored_events=sum(stored.values()),
        doubled_events=sum(1 for count in stored.values() if count > 1),
        missing_events=[e for e in run.emitted if e not in stored],
        missing_acknowledged=sorted(run.acknowledged() - set(stored)),
        items=items,
    )
