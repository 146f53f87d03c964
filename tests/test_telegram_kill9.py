"""Exactly once through kill -9: the service is killed mid-stream while Telegram delivers (webhook) or
while it polls (getUpdates), started again, and every update the emulator produced is stored once.

The service runs as its own process (`python -m proxy serve`) against the test's database and the
Telegram emulator on a real port; SIGKILL leaves it no chance to finish anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy import communities
from proxy.models import CommunityMode, Item, RawEvent
from proxy.networks import community_account, connections
from proxy.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tg_emulator import People, TgState, start_tg_emulator

SECRET = "kill9-secret"
UPDATES = 120
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(db_url: str, api_base: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PROXY_SECRET_KEY": TEST_SECRET_KEY,
        "PROXY_TELEGRAM_API_BASE": api_base,
        "PROXY_PORT": str(port),
        "PROXY_DEMO": "false",
    }
    with (tmp / f"serve-{port}.log").open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve"], cwd=tmp, env=env, stdout=log, stderr=log
        )


async def _stored(community_id: int) -> int:
    return await RawEvent.filter(community_id=community_id).count()


async def _until(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - another process writes what is waited for
            await asyncio.sleep(0.1)


@pytest.fixture
async def emulated() -> AsyncIterator[tuple[TgState, People, object]]:
    state = TgState()
    emulator = await start_tg_emulator(state, retry_schedule=(0.2, 0.5, 1.0))
    yield state, People(state), emulator
    await emulator.close()


@pytest.mark.parametrize("mode", [CommunityMode.CALLBACK, CommunityMode.LONGPOLL], ids=["webhook", "polling"])
async def test_every_update_is_stored_once_through_a_kill_9(
    db: str, settings: Settings, emulated, tmp_path: Path, mode: CommunityMode
) -> None:
    state, people, emulator = emulated
    bot = state.add_bot("kill9_bot", "Kill nine")
    users = [state.add_user(f"User {n}") for n in range(12)]
    port = _free_port()
    community = await communities.add_bot(
        settings, name="Kill nine", bot_token=bot.token, secret=SECRET, mode=mode
    )
    # The admin's connect step: the webhook, or none for polling.
    url = f"http://127.0.0.1:{port}/callback/telegram/{bot.id}" if mode == CommunityMode.CALLBACK else None
    async with connections(dataclasses.replace(settings, telegram_api_base=emulator.base_url)) as opened:
        account = community_account(community, community_token=bot.token)
        checks = await opened.community(community.network, account).connect(url, SECRET)
    assert [check.status for check in checks] == ["ok"]

    async def produce() -> None:
        for n in range(UPDATES):
            people.writes_to_bot(users[n % len(users)], bot, f"message {n}")
            await asyncio.sleep(0.01)

    service = _serve(db, emulator.base_url, port, tmp_path)
    try:
        producer = asyncio.create_task(produce())
        await _until(lambda: _at_least(community.id, 30))
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
        await producer
        service = _serve(db, emulator.base_url, port, tmp_path)
        await _until(lambda: _at_least(community.id, UPDATES))
        await asyncio.sleep(2.0)  # anything delivered twice would be stored by now
    finally:
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
    assert await _stored(community.id) == UPDATES
    texts = await Item.filter(community_id=community.id).values_list("text", flat=True)
    assert sorted(texts) == sorted(f"message {n}" for n in range(UPDATES))


async def _at_least(community_id: int, count: int) -> bool:
    return await _stored(community_id) >= count
