"""The connector registry: every network has its connector, and each application owns its clients' state
(limiters, worker threads), closed with it."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.appkeys import CONNECTIONS
from proxy.connectors.base import CommunityAccount, TokenNeed
from proxy.connectors.registry import CONNECTORS, Connections, UnknownNetwork, connector_for, slowest_rate
from proxy.models import Network
from proxy.runtime.app import create_app
from proxy.settings import Settings


def test_every_network_has_its_connector() -> None:
    assert set(CONNECTORS) == set(Network)
    assert all(connector_for(network).network == network for network in Network)
    assert connector_for("vk") is connector_for(Network.VK)
    with pytest.raises(UnknownNetwork):
        connector_for("carrier-pigeon")
    assert (slowest_rate(TokenNeed.COMMUNITY), slowest_rate(TokenNeed.ADMIN)) == (20, 3)


def test_connections_of_two_owners_share_nothing() -> None:
    first, second = Connections(), Connections()
    try:
        one = first.network(Network.VK).runtime  # type: ignore[attr-defined]
        other = second.network(Network.VK).runtime  # type: ignore[attr-defined]
        assert one.limiter_for("token", "community") is one.limiter_for("token", "community")
        assert one.limiter_for("token", "community") is not other.limiter_for("token", "community")
        assert one.executor is not other.executor
    finally:
        first.close()
        second.close()


async def test_the_app_owns_its_connections_and_closes_them(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(settings)
    runtime = app[CONNECTIONS].network(Network.VK).runtime  # type: ignore[attr-defined]
    client = await aiohttp_client(app)
    executor = runtime.executor  # the vk-api threads, started by the first call
    await client.close()
    with pytest.raises(RuntimeError):  # stopped with the app: nothing runs on them any more
        executor.submit(print)
    assert create_app(settings)[CONNECTIONS] is not app[CONNECTIONS]


def test_an_account_never_shows_its_tokens() -> None:
    account = CommunityAccount(group_id=1, community_token="community-secret", admin_token="admin-secret")
    assert "secret" not in repr(account) and "secret" not in str(account)
