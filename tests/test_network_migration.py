"""Migration 0009 on a database that already holds a community: it is on VK afterwards, and a community
without a network is refused."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from proxy import db as proxy_db
from proxy.models import Community, Network
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)

BEFORE = "models.0008_forwarded_content"
INSERT = (
    "INSERT INTO community (vk_group_id, name, mode, callback_secret, confirmation_code, sla_seconds, "
    "is_active, created_at{network}) VALUES ({group}, 'c', 'callback', '', '', 900, TRUE, CURRENT_TIMESTAMP{value})"
)


async def test_communities_stored_before_are_on_vk(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, BEFORE)
    await proxy_db.open_database(empty_url)
    try:
        await connections.get("default").execute_query(INSERT.format(group=1, network="", value=""))
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    try:
        assert (await Community.get(vk_group_id=1)).network == Network.VK
        assert (await Community.create(vk_group_id=2, name="new")).network == Network.VK
        with pytest.raises(IntegrityError):
            await connections.get("default").execute_query(
                INSERT.format(group=3, network=", network", value=", NULL")
            )
    finally:
        await proxy_db.close_database()
