"""The author of an item, created on first sight."""

from __future__ import annotations

from typing import Any

from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.ingest.outcome import _Known


async def _author(
    network: str, vk_id: int | None, conn: Any, known: _Known | None = None, *, name: str = ""
) -> int | None:
    """The Author row of a person or group on `network` (the community's), created on first sight
    (insert-if-absent). Ids are the network's own: the same number on two networks is two authors."""
    if vk_id is None:
        return None
    if known is not None and known.looked_up and known.author_vk_id == vk_id:
        if known.author_id is not None:
            return known.author_id
        rows = []
    else:
        # Read first: most events come from authors seen before, and a read takes no lock.
        q = SqlQuery(conn)
        rows = await q.rows(f"SELECT id FROM author WHERE network = {q.p(network)} AND vk_id = {q.p(vk_id)}")
    if not rows:
        q = SqlQuery(conn)
        rows = await q.rows(
            "INSERT INTO author (network, vk_id, name, screen_name, photo_url, first_seen_at) "
            f"VALUES ({q.p(network)}, {q.p(vk_id)}, {q.p(name)}, '', '', {q.p(utcnow())}) "
            "ON CONFLICT (network, vk_id) DO NOTHING RETURNING id"
        )
    if not rows:
        # Inserted by a concurrent transaction, which the INSERT waited for: committed now.
        q = SqlQuery(conn)
        rows = await q.rows(f"SELECT id FROM author WHERE network = {q.p(network)} AND vk_id = {q.p(vk_id)}")
    return int(rows[0]["id"])
