"""The service as `make run` starts it (PROXY_DEMO), on ports of its own: tests/test_demo_truth.py and
tests/test_browser_demo.py."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from proxy.models import Operator, Role
from proxy.runtime.app import create_app
from proxy.settings import Settings

__all__ = ["demo_admin", "demo_server", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def demo_server(aiohttp_server: Any, settings: Settings, db: str) -> AsyncIterator[TestServer]:
    """The service with PROXY_DEMO: the demo community is registered and its emulator posts the
    callbacks to this server (the traffic's steady pace an hour, so only the warm-up acts)."""
    port, emulator_port = free_port(), free_port()
    demo_settings = dataclasses.replace(
        settings,
        demo=True,
        demo_emulator_port=emulator_port,
        vk_api_base=f"http://127.0.0.1:{emulator_port}",
        public_url=f"http://127.0.0.1:{port}",
        demo_step_seconds=3600.0,
    )
    server = await aiohttp_server(create_app(demo_settings), port=port)
    yield server
    await server.close()


@pytest.fixture
async def demo_admin(db: str) -> Operator:
    return await Operator.create(
        login="adam", display_name="Адам Админов", password_hash="x", role=Role.ADMIN, locale="en"
    )
