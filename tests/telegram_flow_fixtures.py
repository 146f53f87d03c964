"""A Telegram bot served end to end: the Telegram emulator on a real port, the proxy's app on another,
the bot registered and connected (setWebhook through the proxy's own connect step), and the outbox
delivering to the emulator.

Import into a test module with `from tests.telegram_flow_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from proxy import communities, outbox
from proxy import db as proxy_db
from proxy.appkeys import CONNECTIONS
from proxy.communities import community_token
from proxy.models import Community, CommunityMode, Operator, Role
from proxy.networks import community_account
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tg_emulator import Bot, Chat, People, TgState, TgUser, start_tg_emulator
from tg_emulator.runner import RunningTgEmulator

__all__ = ["Served", "served", "tg_world", "wait_for"]

SECRET = "webhook-secret_1"


@dataclass
class TgWorld:
    state: TgState
    people: People
    bot: Bot
    owner: TgUser
    member: TgUser
    other: TgUser
    group: Chat


@dataclass
class Served:
    """The proxy serving the emulator's bot."""

    world: TgWorld
    emulator: RunningTgEmulator
    client: TestClient
    settings: Settings
    community: Community
    operator: Operator

    async def delivered(self) -> None:
        """Wait until the emulator has delivered every pending update to the proxy."""
        async with asyncio.timeout(10):
            await self.emulator.delivery.wait_idle(self.world.bot.id)

    async def send_outbox(self) -> int:
        return await outbox.deliver_due(self.settings, opened=self.client.app[CONNECTIONS])


@pytest.fixture
def tg_world() -> TgWorld:
    state = TgState()
    people = People(state)
    bot = state.add_bot("shop_help_bot", "Shop help")
    owner = state.add_user("Olga", "Owner")
    member = state.add_user("Ivan", "Petrov", username="ivan_p")
    other = state.add_user("Boris")
    group = state.add_chat("supergroup", "Shop chat", creator=owner)
    people.adds_bot(group, bot, admin=True, by=owner)
    for user in (member, other):
        people.joins(user, group)
    bot.pending.clear()
    return TgWorld(state, people, bot, owner, member, other, group)


async def wait_for(condition: Any, seconds: float = 10.0) -> None:
    """Poll an async condition until it holds."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - the outbox and ingest write what is waited for
            await asyncio.sleep(0.02)


@pytest.fixture
async def served(aiohttp_client: Any, settings: Settings, tg_world: TgWorld) -> AsyncIterator[Served]:
    emulator = await start_tg_emulator(tg_world.state, retry_schedule=(0.05,))
    settings = dataclasses.replace(settings, telegram_api_base=emulator.base_url)
    app: web.Application = create_app(settings)
    client = await aiohttp_client(app)
    settings = dataclasses.replace(settings, public_url=str(client.make_url("")).rstrip("/"))
    community = await communities.add_bot(
        settings, name="Shop help", bot_token=tg_world.bot.token, secret=SECRET, mode=CommunityMode.CALLBACK
    )
    operator = await Operator.create(login="anna", display_name="Anna", password_hash="-", role=Role.OPERATOR)
    await operator.communities.add(community)
    # The admin's "connect" step: Telegram is told to deliver to this proxy's webhook, with the secret.
    account = community_account(community, community_token=community_token(settings, community))
    checks = (
        await app[CONNECTIONS]
        .community(community.network, account)
        .connect(f"{settings.public_url}/callback/telegram/{community.vk_group_id}", SECRET)
    )
    assert [c.status for c in checks] == ["ok"], checks
    yield Served(tg_world, emulator, client, settings, community, operator)
    await emulator.close()
    await client.close()
    # The test body's own ORM queries opened connections outside the app's context (tests/conftest.py says why).
    await proxy_db.close_database()
