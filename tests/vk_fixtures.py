"""An emulated VK community wired to a proxy community: shared by the long-poll and sync tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from proxy.crypto import encrypt_token
from proxy.models import Community, CommunityMode
from proxy.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from vk_emulator import EmulatorState, RunningEmulator, World, start_emulator


@dataclass
class Wired:
    """The emulator, its world, the proxy's settings pointing at it and the proxy's community row."""

    emulator: RunningEmulator
    world: World
    settings: Settings
    community: Community

    @property
    def state(self) -> EmulatorState:
        return self.world.state


async def wire_community(emulator: RunningEmulator, db_url: str, world: World) -> Wired:
    settings = Settings.from_env(
        {}, database_url=db_url, secret_key=TEST_SECRET_KEY, workers=False, vk_api_base=emulator.base_url
    )
    group = world.group
    community = await Community.create(
        vk_group_id=group.id,
        name=group.name,
        mode=CommunityMode.LONGPOLL,
        community_token_enc=encrypt_token(TEST_SECRET_KEY, group.community_token),
        admin_token_enc=encrypt_token(TEST_SECRET_KEY, group.admin_token),
        admin_vk_user_id=group.admin_user_id,
    )
    return Wired(emulator, world, settings, community)


@pytest.fixture
async def wired(db: str) -> AsyncIterator[Wired]:
    """A test world in a running emulator, and its community in the proxy (long-poll mode)."""
    state = EmulatorState()
    state.enforce_rate_limits = False
    world = World.create(state)
    emulator = await start_emulator(state)
    try:
        yield await wire_community(emulator, db, world)
    finally:
        await emulator.close()


def inject(state: EmulatorState, group_id: int, event: dict[str, Any]) -> int:
    """Append a raw event (a VK sample, verbatim) to a community's event log; returns its ts."""
    group = state.groups[group_id]
    ts = group.next_ts
    group.events.append((ts, event))
    group.next_ts += 1
    return ts
