"""Ban state: at most one active ban per community and author, whoever records it first.

A ban made through the proxy is recorded by two writers: the outbox once VK accepted groups.ban
(proxy/outbox.py), and ingest when VK's user_block for it arrives (proxy/ingest.py). Either may come
first, and both may run at the same moment, neither seeing the other's uncommitted row. The database
keeps one active row (lifted_at NULL) per community and author (a partial unique index, migration
0007), and each writer inserts-or-attributes that row in one statement: the second one waits for the
first to commit and then adds what it knows to the first one's row instead of inserting another.

- The operator's side names the operator; VK's side states the terms (end date, reason, comment) and
  the VK admin whose token made the call. Neither takes away what the other wrote.
- Ban rows are history: a lifted ban keeps its row, and a new ban is a new row. An active ban whose end
  date has passed (VK's user_unblock "by end date" never came) is ended at that date before a new ban
  is recorded.

Lock order (docs/architecture.md, "Lock order"): the ban row after the conversation, item and outbox
rows a transaction holds, before the journal (proxy/locks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import F

from proxy.db.sql import SqlQuery
from proxy.models import Ban

__all__ = ["RecordedBan", "lift", "operator_banned", "vk_reported_ban"]

# The arbiter of the partial unique index of migration 0007 (ON CONFLICT names it by its columns).
_ACTIVE = "(community_id, author_id) WHERE lifted_at IS NULL"


@dataclass(frozen=True)
class RecordedBan:
    id: int
    banned_by_id: int | None


async def operator_banned(
    *,
    community_id: int,
    author_id: int,
    at: datetime,
    until: datetime | None,
    reason: int,
    comment: str,
    operator_id: int | None,
    admin_vk_id: int | None,
    conn: Any,
) -> RecordedBan:
    """VK accepted an operator's ban: the active ban is the operator's (if nobody's yet)."""
    values = _values(community_id, author_id, at, until, reason, comment, operator_id, admin_vk_id)
    # VK's echo may have recorded it first: it keeps its terms and its admin, and gets the operator.
    changes = {
        "banned_by_id": "COALESCE(ban.banned_by_id, EXCLUDED.banned_by_id)",
        "admin_vk_id": "COALESCE(ban.admin_vk_id, EXCLUDED.admin_vk_id)",
    }
    return await _insert_or_attribute(values, changes, conn)


async def vk_reported_ban(
    *,
    community_id: int,
    author_id: int,
    at: datetime,
    until: datetime | None,
    reason: int,
    comment: str,
    operator_id: int | None,
    admin_vk_id: int | None,
    conn: Any,
) -> RecordedBan:
    """VK reports a ban (user_block); `operator_id` when it is the echo of an operator's ban.

    VK's terms replace those of the active ban (a ban made again in VK changes them); the operator
    already credited with it stays credited.
    """
    values = _values(community_id, author_id, at, until, reason, comment, operator_id, admin_vk_id)
    changes = {
        "until": "EXCLUDED.until",
        "reason": "EXCLUDED.reason",
        "comment": "EXCLUDED.comment",
        "admin_vk_id": "COALESCE(EXCLUDED.admin_vk_id, ban.admin_vk_id)",
        "banned_by_id": "COALESCE(ban.banned_by_id, EXCLUDED.banned_by_id)",
    }
    return await _insert_or_attribute(values, changes, conn)


async def lift(community_id: int, author_id: int, at: datetime, conn: Any) -> int:
    """The author's active ban ends at `at` (a no-op when there is none); how many rows it ended."""
    return await (
        Ban.filter(community_id=community_id, author_id=author_id, lifted_at__isnull=True)
        .using_db(conn)
        .update(lifted_at=at)
    )


def _values(
    community_id: int,
    author_id: int,
    at: datetime,
    until: datetime | None,
    reason: int,
    comment: str,
    operator_id: int | None,
    admin_vk_id: int | None,
) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "author_id": author_id,
        "banned_at": at,
        "until": until,
        "reason": reason,
        "comment": comment,
        "banned_by_id": operator_id,
        "admin_vk_id": admin_vk_id,
        "lifted_at": None,
    }


async def _insert_or_attribute(values: dict[str, Any], changes: dict[str, str], conn: Any) -> RecordedBan:
    # A ban that ran out by its end date is history, not the ban being recorded now.
    await (
        Ban.filter(
            community_id=values["community_id"],
            author_id=values["author_id"],
            lifted_at__isnull=True,
            until__lte=values["banned_at"],
        )
        .using_db(conn)
        .update(lifted_at=F("until"))
    )
    q = SqlQuery(conn)
    placeholders = ", ".join(q.p(value) for value in values.values())
    rows = await q.rows(
        f"INSERT INTO ban ({', '.join(values)}) VALUES ({placeholders}) "
        f"ON CONFLICT {_ACTIVE} DO UPDATE SET "
        + ", ".join(f"{name} = {expression}" for name, expression in changes.items())
        + " RETURNING id, banned_by_id"
    )
    return RecordedBan(int(rows[0]["id"]), rows[0]["banned_by_id"])
