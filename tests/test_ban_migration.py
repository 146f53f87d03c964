"""Migration 0007 on a database that already holds doubled bans: one active ban per author afterwards, no
ended ban touched, no operator or VK admin lost, and the database refusing a second active ban."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from proxy import db as proxy_db
from proxy.db.sql import SqlQuery
from proxy.models import Author, Ban, Community, Operator
from tests.conftest import BACKENDS
from tests.databases import _with_database, postgres_base_url

BEFORE = "models.0006_drop_indexes_nothing_reads"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all (the test migrates it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'steps.sqlite3'}"
        return
    factory = request.getfixturevalue("postgres_factory")
    name = f"proxy_steps_{uuid.uuid4().hex[:8]}"
    admin = await factory._admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(postgres_base_url(), name)
    yield url
    await factory.drop(url)


async def _migrate(url: str, target: str | None = None) -> None:
    await proxy_db.migrate(url, target)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def _bans(author: Author) -> list[tuple[Any, ...]]:
    # Only the columns this schema has (later migrations add more to the model: 0016 banned_by_rule_id).
    rows = await Ban.filter(author_id=author.id).order_by("banned_at", "id").values_list(
        "banned_at", "until", "banned_by_id", "admin_vk_id", "lifted_at"
    )
    return [tuple(row) for row in rows]


async def _insert_ban(**values: Any) -> None:
    """A ban row with only the columns this schema has (the model has later ones too)."""
    q = SqlQuery(connections.get("default"))
    placeholders = ", ".join(q.p(v) for v in values.values())
    await q.execute(f"INSERT INTO ban ({', '.join(values)}, reason, comment) VALUES ({placeholders}, 0, '')")


async def test_doubled_bans_become_one_and_history_stays(empty_url: str) -> None:
    await _migrate(empty_url, BEFORE)
    await proxy_db.open_database(empty_url)
    try:
        # The model has a column this schema has not yet (community.network, migration 0009).
        await connections.get("default").execute_query(
            "INSERT INTO community (vk_group_id, name, mode, callback_secret, confirmation_code, sla_seconds, "
            "is_active, created_at) VALUES (1, 'c', 'callback', '', '', 900, TRUE, CURRENT_TIMESTAMP)"
        )
        community = await Community.filter(vk_group_id=1).only("id").get()
        # Nor operator.telegram_user_id or author.network (0018).
        await connections.get("default").execute_query(
            "INSERT INTO operator (login, display_name, password_hash, role, vk_user_id, is_active, locale, "
            "created_at, session_version) VALUES ('olga', '', 'x', 'operator', NULL, TRUE, 'ru', CURRENT_TIMESTAMP, 0)"
        )
        olga = await Operator.filter(login="olga").only("id").get()
        for n in range(5):
            await connections.get("default").execute_query(
                "INSERT INTO author (vk_id, name, screen_name, photo_url, first_seen_at) "
                f"VALUES ({100 + n}, '', '', '', CURRENT_TIMESTAMP)"
            )
        echoed, unattributed, ran_out, lifted, alone = [
            await Author.filter(vk_id=100 + n).only("id").get() for n in range(5)
        ]

        async def ban(author: Author, at: float, **fields: Any) -> None:
            await _insert_ban(community_id=community.id, author_id=author.id, banned_at=_at(at), **fields)

        # The outbox's row and ingest's row of one ban through the proxy, 0.8 ms apart.
        await ban(echoed, 0, banned_by_id=olga.id, admin_vk_id=None)
        await ban(echoed, 0.0008, banned_by_id=olga.id, admin_vk_id=555)
        # The same, with ingest first and the echo not recognised: the operator comes from the second row.
        await ban(unattributed, 0, banned_by_id=None, admin_vk_id=555)
        await ban(unattributed, 0.001, banned_by_id=olga.id, admin_vk_id=555)
        # A ban that ran out by its end date (no unblock event came), then a new one.
        await ban(ran_out, 0, until=_at(3600), admin_vk_id=555)
        await ban(ran_out, 7200, banned_by_id=olga.id, admin_vk_id=555)
        # A lifted ban and the active one after it; a single active ban.
        await ban(lifted, 0, banned_by_id=olga.id, lifted_at=_at(60))
        await ban(lifted, 120, banned_by_id=olga.id)
        await ban(alone, 0, admin_vk_id=555)
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    try:
        assert await _bans(echoed) == [(_at(0), None, olga.id, 555, None)]
        assert await _bans(unattributed) == [(_at(0), None, olga.id, 555, None)]
        assert await _bans(ran_out) == [
            (_at(0), _at(3600), None, 555, _at(3600)),
            (_at(7200), None, olga.id, 555, None),
        ]
        assert await _bans(lifted) == [
            (_at(0), None, olga.id, None, _at(60)),
            (_at(120), None, olga.id, None, None),
        ]
        assert await _bans(alone) == [(_at(0), None, None, 555, None)]
        with pytest.raises(IntegrityError):
            await _insert_ban(community_id=community.id, author_id=alone.id, banned_at=_at(10))
        # An ended ban is no obstacle to a new one.
        await _insert_ban(community_id=community.id, author_id=lifted.id, banned_at=_at(30), lifted_at=_at(40))
    finally:
        await proxy_db.close_database()
