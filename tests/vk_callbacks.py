"""VK's Callback API delivery in tests: what people do in the emulator reaches the proxy's real
endpoint (POST /callback/vk/{group}) as VK would post it, at times the test sets.

Use with the fixtures of tests/actions_fixtures.py (`world`, `community`, whose secret this is).
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from vk_emulator import World

CALLBACK_SECRET = "callback-secret"  # the `community` fixture's


class Clock:
    """The emulator's clock: VK's `date` of what happens next."""

    def __init__(self, world: World, start: datetime) -> None:
        self.now = start.timestamp()
        world.state.clock = lambda: self.now

    def at(self, moment: datetime) -> None:
        self.now = moment.timestamp()


async def post_event(client: TestClient, event: dict[str, Any]) -> None:
    """One event to the callback endpoint, which must take it ("ok")."""
    body = json.dumps({**event, "secret": CALLBACK_SECRET}).encode()
    response = await client.post(f"/callback/vk/{event['group_id']}", data=io.BytesIO(body))
    assert (response.status, await response.text()) == (200, "ok"), event


class Delivery:
    """Posts the community's events the emulator has emitted since the last call."""

    def __init__(self, world: World, client: TestClient) -> None:
        self.world = world
        self.client = client
        self.seen = len(world.state.events(world.group.id))

    async def __call__(self) -> list[dict[str, Any]]:
        events = self.world.state.events(self.world.group.id)[self.seen :]
        self.seen += len(events)
        for event in events:
            await post_event(self.client, event)
        return events
