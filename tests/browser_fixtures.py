"""Fixtures for the inbox tests: the app wired to the VK emulator, logged-in clients, hostile content.

View tests (tests/test_inbox_*.py) and browser tests (tests/test_browser_*.py) import these with
`from tests.browser_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy.accounts import hash_password
from proxy.app import create_app
from proxy.models import Operator
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import __all__ as _actions_fixtures

__all__ = [*_actions_fixtures, "PASSWORD", "csrf_token", "log_in", "inbox_client", "client_for"]

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def log_in(client: TestClient, operator: Operator) -> None:
    """Give the operator a known password and log the client in as them."""
    operator.password_hash = hash_password(PASSWORD)
    await operator.save(update_fields=["password_hash"])
    response = await client.post("/login", data={"login": operator.login, "password": PASSWORD})
    assert response.status == 200, await response.text()


async def csrf_token(client: TestClient) -> str:
    """The session's CSRF token, as a page's forms carry it."""
    response = await client.get("/")
    match = _TOKEN.search(await response.text())
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
async def client_for(aiohttp_client: Any, vk_settings: Settings, db: str):
    """A factory of clients of one app (VK routed to the emulator), each logged in as an operator."""
    app = create_app(vk_settings)
    server = None

    async def make(operator: Operator) -> TestClient:
        nonlocal server
        client = await aiohttp_client(app if server is None else server)
        server = client.server
        await log_in(client, operator)
        return client

    return make


@pytest.fixture
async def inbox_client(client_for: Any, operator: Operator) -> TestClient:
    """A client logged in as the community's operator."""
    return await client_for(operator)
