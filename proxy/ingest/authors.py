"""The author of an item, created on first sight."""

from __future__ import annotations

from typing import Any

from proxy.clock import utcnow
from proxy.db.sql import SqlQuery
from proxy.ingest.outcome import _Known


async def _author(vk_id: int | None, conn: Any, known: _Known | None = None) -> int | None:
    """The Author row of a VK user or group, created on first sight (insert-if-absent)."""
    if vk_id is None:
        return None
    if known is not None and known.looked_up and known.author_vk_id == vk_id:
        if known.author_id is not None:
            return known.author_id
        rows = []
    else:
        # Read first: most events come from authors seen before, and a read takes no lock.
        q = SqlQuery(conn)
        rows = await q.rows(f"SELECT id FROM author WHERE vk_id = {q.p(vk_id)}")
    if not rows:
        q = SqlQuery(conn)
        rows = await q.rows(
            "INSERT INTO author (vk_id, name, screen_name, photo_url, first_seen_at) "
            f"VALUES ({q.p(vk_id)}, '', '', '', {q.p(utcnow())}) "
            "ON CONFLICT (vk_id) DO NOTHING RETURNING id"
        )
    if not rows:
        # Inserted by a concurrent transaction, which the INSERT waited for: committed now.
        q = SqlQuery(conn)
        rows = await q.rows(f"SELECT id FROM author WHERE vk_id = {q.p(vk_id)}")
    return int(rows[0]["id"])
