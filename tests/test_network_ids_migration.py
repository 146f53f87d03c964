"""Migration 0018 on a database that already holds a community, its authors and what refers to them.

On SQLite the migration rebuilds the community and author tables (a column's UNIQUE cannot be dropped in
place) while every other table refers to them. Before the migration ran with foreign keys unenforced, an
existing database with a single conversation could not be migrated ("FOREIGN KEY constraint failed").
"""

from __future__ import annotations

import sqlite3

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from proxy import db as proxy_db
from proxy.models import Author, Ban, Community, Conversation, Network
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)

BEFORE = "models.0017_raw_event_content_guard"
ROWS = [
    "INSERT INTO community (id, vk_group_id, name, mode, callback_secret, confirmation_code, sla_seconds, "
    "is_active, created_at, network) VALUES (7, 1, 'c', 'callback', '', '', 900, TRUE, CURRENT_TIMESTAMP, 'vk')",
    "INSERT INTO author (id, vk_id, name, screen_name, photo_url, first_seen_at) "
    "VALUES (9, 5, 'Anna', '', '', CURRENT_TIMESTAMP)",
    "INSERT INTO conversation (id, community_id, author_id, channel, key, status, opened_at, created_at, "
    "awaiting_first_reaction, preview) "
    "VALUES (3, 7, 9, 'message', 'message:5', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, TRUE, 'hi')",
    "INSERT INTO ban (community_id, author_id, banned_at, reason, comment) VALUES (7, 9, CURRENT_TIMESTAMP, 0, '')",
]


async def _insert(statements: list[str]) -> None:
    for statement in statements:
        await connections.get("default").execute_query(statement)


async def test_rows_and_their_references_survive_the_rebuild(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, BEFORE)
    await proxy_db.open_database(empty_url)
    try:
        await _insert(ROWS)
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    try:
        community = await Community.get(id=7)
        author = await Author.get(id=9)
        assert (community.vk_group_id, community.network) == (1, Network.VK)
        assert (author.vk_id, author.network, author.name) == (5, Network.VK, "Anna")
        conversation = await Conversation.get(id=3)
        assert (conversation.community_id, conversation.author_id) == (7, 9)
        assert await Ban.filter(community_id=7, author_id=9).count() == 1
        # Ids are unique per network now, not alone.
        await Community.create(vk_group_id=1, name="bot", network=Network.TELEGRAM)
        await Author.create(vk_id=5, network=Network.TELEGRAM)
        with pytest.raises(IntegrityError):
            await Community.create(vk_group_id=1, name="again", network=Network.VK)
        with pytest.raises(IntegrityError):
            await Author.create(vk_id=5, network=Network.VK)
        # References are enforced again once the migration is over.
        with pytest.raises(IntegrityError):
            await Conversation.create(community_id=999, channel="message", key="message:6")
    finally:
        await proxy_db.close_database()


async def test_a_reference_to_nothing_rolls_the_migration_back(empty_url: str) -> None:  # noqa: F811
    if not empty_url.startswith("sqlite://"):
        pytest.skip("PostgreSQL never held a reference to nothing: it enforces them at every write")
    await _migrate(empty_url, BEFORE)
    # A row written with enforcement off (by hand, or by an old tool): it refers to community 404.
    path = empty_url[len("sqlite://") :]
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute(ROWS[0])
        raw.execute(ROWS[2].replace("VALUES (3, 7, 9", "VALUES (3, 404, NULL"))
    raw.close()

    with pytest.raises(RuntimeError, match="referring to nothing: conversation"):
        await _migrate(empty_url)

    # Nothing of 0018 was committed: the community table is the one before, and 0018 is not recorded.
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(conversation)")]
        applied = [row[0] for row in raw.execute("SELECT name FROM tortoise_migrations")]
    raw.close()
    assert "connection" not in columns
    assert "0018_network_scoped_ids" not in applied and "0017_raw_event_content_guard" in applied
