"""The Telegram emulator's test world: a bot administering a supergroup with its owner and two members."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.fixtures import TELEGRAM_SAMPLES
from tg_emulator import Bot, Chat, People, TgState, TgUser, create_tg_emulator_app

__all__ = ["tg", "world"]

FAST_RETRIES = (0.05,)
TWO_DAYS = 48 * 3600


@dataclass
class World:
    state: TgState
    bot: Bot
    owner: TgUser
    anna: TgUser
    boris: TgUser
    group: Chat
    people: People


@pytest.fixture
def world() -> World:
    state = TgState()
    people = People(state)
    bot = state.add_bot("moder_bot", "Модератор")
    owner = state.add_user("Ольга", "Админова")
    anna = state.add_user("Анна", username="anna_s")
    boris = state.add_user("Борис")
    group = state.add_chat("supergroup", "Чат района", creator=owner)
    people.adds_bot(group, bot, admin=True, by=owner)
    for user in (anna, boris):
        people.joins(user, group)
    bot.pending.clear()
    return World(state, bot, owner, anna, boris, group, people)


@pytest.fixture
async def tg(aiohttp_client: Any, world: World) -> TestClient:
    return await aiohttp_client(create_tg_emulator_app(world.state, retry_schedule=FAST_RETRIES))


async def call(client: TestClient, token: str, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """POST a method with a JSON body, as most Bot API clients do; the HTTP status and the decoded body."""
    response = await client.post(f"/bot{token}/{method}", json=params)
    return response.status, await response.json()


async def ok(client: TestClient, token: str, method: str, **params: Any) -> Any:
    status, body = await call(client, token, method, **params)
    assert (status, body["ok"]) == (200, True), body
    return body["result"]


async def refused(client: TestClient, token: str, method: str, **params: Any) -> tuple[int, str]:
    status, body = await call(client, token, method, **params)
    assert body["ok"] is False and body["error_code"] == status, body
    return status, body["description"]


def sample(name: str) -> dict[str, Any]:
    return json.loads((TELEGRAM_SAMPLES / f"{name}.json").read_text())


def kinds(bot: Bot) -> list[str]:
    return [next(k for k in update if k != "update_id") for update in bot.pending]
