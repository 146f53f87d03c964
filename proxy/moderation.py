"""Moderation state: tombstones, restorations and bans are written here and nowhere else.

Two writers learn of the same fact: the outbox when VK accepted an operator's action (proxy/outbox.py),
and ingest when VK's own event for it arrives (proxy/ingest/): the echo of that action, or the same act
taken directly in VK. Either may come first, and both may run at the same moment. Each calls the
function here for what it learned, and a call for a fact already recorded changes nothing
(`tests/test_moderation.py`; `tests/test_echo_idempotent.py` runs every order). `tests/test_import_rules.py` fails when any other
module writes these rows.

Tombstones. One per deletion of an item, with how it was deleted (`deleted_via`): `proxy` for an
operator's action, else `author` or `vk_admin` from VK's `deleter_id` against the item's author, and
`unknown` when VK names nobody (board topics) or the author is not known yet: a placeholder item,
classified when its text arrives (`placeholder_filled`). The item's `is_deleted` / `deleted_at` say it
has an open tombstone; a restoration fills `restored_at` / `restored_by`. Nothing deletes a tombstone.

Bans. At most one active ban per community and author. The database keeps one active row (lifted_at
NULL) per community and author (a partial unique index, migration 0007), and each writer
inserts-or-attributes that row in one statement: when both run at once, neither seeing the other's
uncommitted row, the second waits for the first to commit and then adds what it knows to that row
instead of inserting another.
- The operator's side names the operator; VK's side states the terms (end date, reason, comment) and
  the VK admin whose token made the call. Neither takes away what the other wrote.
- Ban rows are history: a lifted ban keeps its row, and a new ban is a new row. An active ban whose end
  date has passed (VK's user_unblock "by end date" never came) is ended at that date before a new ban
  is recorded.

Lock order (docs/architecture.md, "Lock order"; proxy/locks.py): callers hold the item and its
conversation before a tombstone is written, and the ban row is taken after the conversation, item and
outbox rows a transaction holds. Nothing here writes the journal, which comes last: the callers journal
what was done in VK (proxy/ingest/done_in_vk.py) or fill the outbox row's outcome afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import F

from proxy.db.sql import SqlQuery
from proxy.models import Ban, DeletedVia, Item, ItemTombstone, OutboxRow

__all__ = [
    "RecordedBan",
    "Restoration",
    "deleted_via",
    "lift",
    "operator_banned",
    "operator_deleted",
    "operator_restored",
    "placeholder_filled",
    "vk_deleted",
    "vk_reported_ban",
    "vk_restored",
]

# --- tombstones ---------------------------------------------------------------------------------------


def deleted_via(deleter_vk_id: int | None, author_vk_id: int | None) -> DeletedVia:
    """How VK's deletion was made, from the deleter VK names and the item's author."""
    if deleter_vk_id is None or author_vk_id is None:
        return DeletedVia.UNKNOWN
    return DeletedVia.AUTHOR if deleter_vk_id == author_vk_id else DeletedVia.VK_ADMIN


async def vk_deleted(
    item: Item, *, at: datetime, deleter_vk_id: int | None, proxy_row: OutboxRow | None, conn: Any
) -> ItemTombstone | None:
    """VK reports the (locked) item deleted; `proxy_row` is the operator's row when it is the echo of
    the proxy's own deletion. The tombstone written, or None when the item is deleted already with an
    open tombstone (the outbox recorded the proxy's deletion first, or VK repeated the event)."""
    if item.is_deleted and await _open_tombstones(item, conn).exists():
        return None
    # A placeholder's author is unknown until its text arrives: the deleter is classified then.
    via = DeletedVia.PROXY if proxy_row is not None else deleted_via(deleter_vk_id, item.from_vk_id)
    operator_id = proxy_row.operator_id if proxy_row is not None else None  # type: ignore[attr-defined]
    rule_id = proxy_row.rule_id if proxy_row is not None else None
    return await _tombstone(item, at, via, deleter_vk_id, operator_id, conn, rule_id=rule_id)


async def operator_deleted(
    item: Item, row: OutboxRow, *, at: datetime, deleter_vk_id: int | None, conn: Any
) -> None:
    """VK accepted the operator's deletion of the (locked) item, whether or not ingest saw VK's echo
    first: the deletion is the operator's either way."""
    if not item.is_deleted:
        operator_id = row.operator_id  # type: ignore[attr-defined]
        await _tombstone(item, at, DeletedVia.PROXY, deleter_vk_id, operator_id, conn, rule_id=row.rule_id)
        return
    # Ingest recorded the deletion from VK's echo already: make sure it names the operator (or the rule).
    await (
        _open_tombstones(item, conn)
        .filter(deleted_by_id__isnull=True, deleted_by_rule_id__isnull=True, deleted_at__gte=row.created_at)
        .update(
            deleted_via=DeletedVia.PROXY,
            deleted_by_id=row.operator_id,  # type: ignore[attr-defined]
            deleted_by_rule_id=row.rule_id,
        )
    )


async def placeholder_filled(item: Item, conn: Any) -> list[ItemTombstone]:
    """A placeholder's text and author arrived (now on `item`): its tombstones get the text, and a
    deleter VK named before the author was known is classified. Returns the tombstones found to be a
    VK admin's deletion now (the caller journals them)."""
    await ItemTombstone.filter(item_id=item.id, last_text="").using_db(conn).update(last_text=item.text)
    by_admin = []
    for tombstone in await ItemTombstone.filter(
        item_id=item.id, deleted_via=DeletedVia.UNKNOWN, deleter_vk_id__isnull=False
    ).using_db(conn):
        tombstone.deleted_via = deleted_via(tombstone.deleter_vk_id, item.from_vk_id)
        await tombstone.save(using_db=conn, update_fields=["deleted_via"])
        if tombstone.deleted_via == DeletedVia.VK_ADMIN:
            by_admin.append(tombstone)
    return by_admin


@dataclass(frozen=True)
class Restoration:
    """What a restore changed: the tombstone it closed, and whether the item was marked deleted."""

    tombstone: ItemTombstone | None
    undeleted: bool


async def vk_restored(item: Item, *, at: datetime, proxy_row: OutboxRow | None, conn: Any) -> Restoration:
    """VK reports the (locked) item restored; `proxy_row` is the operator's row when it is the echo of
    the proxy's own restoration. Closes the newest open tombstone."""
    tombstone = await _open_tombstones(item, conn).order_by("-id").first()
    if tombstone is not None:
        tombstone.restored_at = at
        tombstone.restored_by_id = proxy_row.operator_id if proxy_row else None  # type: ignore[attr-defined]
        await tombstone.save(using_db=conn, update_fields=["restored_at", "restored_by_id"])
    return Restoration(tombstone, await _undelete(item, conn))


async def operator_restored(item: Item, row: OutboxRow, *, at: datetime, conn: Any) -> None:
    """VK accepted the operator's restoration of the (locked) item, whether or not ingest saw VK's
    restore event first: the restoration is the operator's either way."""
    if await _undelete(item, conn):
        operator_id = row.operator_id  # type: ignore[attr-defined]
        await _open_tombstones(item, conn).update(restored_at=at, restored_by_id=operator_id)
        return
    # Ingest saw VK's restore event first.
    await (
        ItemTombstone.filter(item_id=item.id, restored_by_id__isnull=True, restored_at__gte=row.created_at)
        .using_db(conn)
        .update(restored_by_id=row.operator_id)  # type: ignore[attr-defined]
    )


def _open_tombstones(item: Item, conn: Any) -> Any:
    return ItemTombstone.filter(item_id=item.id, restored_at__isnull=True).using_db(conn)


async def _tombstone(
    item: Item,
    at: datetime,
    via: DeletedVia,
    deleter_vk_id: int | None,
    operator_id: int | None,
    conn: Any,
    *,
    rule_id: int | None = None,
) -> ItemTombstone:
    tombstone = await ItemTombstone.create(
        item_id=item.id,
        deleted_at=at,
        deleted_via=via,
        deleter_vk_id=deleter_vk_id,
        deleted_by_id=operator_id,
        deleted_by_rule_id=rule_id,
        last_text=item.text,
        using_db=conn,
    )
    item.is_deleted = True
    item.deleted_at = at
    await item.save(using_db=conn, update_fields=["is_deleted", "deleted_at"])
    return tombstone


async def _undelete(item: Item, conn: Any) -> bool:
    """The item is no longer deleted; False when it was not."""
    if not item.is_deleted:
        return False
    item.is_deleted = False
    item.deleted_at = None
    await item.save(using_db=conn, update_fields=["is_deleted", "deleted_at"])
    return True


# --- bans ---------------------------------------------------------------------------------------------

# The arbiter of the partial unique index of migration 0007 (ON CONFLICT names it by its columns).
_ACTIVE = "(community_id, author_id) WHERE lifted_at IS NULL"


@dataclass(frozen=True)
class RecordedBan:
    id: int
    banned_by_id: int | None
    banned_by_rule_id: int | None = None


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
    rule_id: int | None = None,
) -> RecordedBan:
    """VK accepted an operator's ban: the active ban is the operator's (if nobody's yet)."""
    values = _values(community_id, author_id, at, until, reason, comment, operator_id, admin_vk_id, rule_id)
    # VK's echo may have recorded it first: it keeps its terms and its admin, and gets the operator.
    changes = {
        "banned_by_id": "COALESCE(ban.banned_by_id, EXCLUDED.banned_by_id)",
        "banned_by_rule_id": "COALESCE(ban.banned_by_rule_id, EXCLUDED.banned_by_rule_id)",
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
    rule_id: int | None = None,
) -> RecordedBan:
    """VK reports a ban (user_block); `operator_id` when it is the echo of an operator's ban.

    VK's terms replace those of the active ban (a ban made again in VK changes them); the operator
    already credited with it stays credited.
    """
    values = _values(community_id, author_id, at, until, reason, comment, operator_id, admin_vk_id, rule_id)
    changes = {
        "banned_by_rule_id": "COALESCE(ban.banned_by_rule_id, EXCLUDED.banned_by_rule_id)",
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
    rule_id: int | None = None,
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
        "banned_by_rule_id": rule_id,
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
        + " RETURNING id, banned_by_id, banned_by_rule_id"
    )
    return RecordedBan(int(rows[0]["id"]), rows[0]["banned_by_id"], rows[0]["banned_by_rule_id"])
