"""proxy/moderation.py records each fact once: a second call for the same fact changes nothing.

Ingest and the outbox both report deletions, restorations and bans, in either order and sometimes more
than once (VK repeats events; a worker whose lease ran out records again). Each fact below is reported
twice; the first report changes the rows and the second leaves them as they were.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from proxy import accounts, moderation
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.connectors.vk.normalize import normalize
from proxy.ingest import ingest
from proxy.models import ActorKind, Ban, Community, DeletedVia, Item, ItemTombstone, OutboxRow, OutboxStatus

GID = 778
LATER = timedelta(minutes=5)


def _comment(event_id: str, comment_id: int, **fields: Any) -> dict[str, Any]:
    obj = {"post_id": 5, "owner_id": -GID, "id": comment_id, **fields}
    return {"type": "wall_reply_new", "event_id": event_id, "group_id": GID, "v": "5.199", "object": obj}


async def _rows(item_ids: list[int]) -> list[tuple[Any, ...]]:
    items = [(i.id, i.is_deleted, i.deleted_at, i.text) for i in await Item.filter(id__in=item_ids).order_by("id")]
    tombstones = [
        (t.id, t.item_id, t.deleted_at, t.deleted_via, t.deleter_vk_id, t.deleted_by_id, t.last_text,  # type: ignore[attr-defined]
         t.restored_at, t.restored_by_id)  # type: ignore[attr-defined]
        for t in await ItemTombstone.all().order_by("id")
    ]  # fmt: skip
    bans = [
        (b.id, b.author_id, b.banned_at, b.until, b.reason, b.comment, b.banned_by_id, b.admin_vk_id,  # type: ignore[attr-defined]
         b.lifted_at)
        for b in await Ban.all().order_by("id")
    ]  # fmt: skip
    return [items, tombstones, bans]


async def test_each_fact_reported_twice_is_recorded_once(db: str) -> None:
    community = await Community.create(vk_group_id=GID, name="c", callback_secret="s", confirmation_code="x")
    operator = await accounts.create_operator("anna", "correct horse battery")
    raw = _comment("e1", 10, from_id=42, date=1_700_000_000, text="rude")
    await ingest(community, raw, normalize(raw), source="callback")
    comment = await Item.get(key=f"wall:-{GID}_5:10")
    placeholder = await Item.create(
        community_id=community.id, conversation_id=comment.conversation_id,  # type: ignore[attr-defined]
        channel=comment.channel, key=f"wall:-{GID}_5:11", vk_id=11, direction=comment.direction,
        text="", created_at=utcnow(), version_count=0,
    )  # fmt: skip
    entry = await journal.record("comment.delete", actor_kind=ActorKind.OPERATOR, operator_id=operator.id)
    row = await OutboxRow.create(
        community=community, journal_entry=entry, operator=operator, item=comment, method="wall.deleteComment",
        token_kind="admin", idempotency_key="k1", status=OutboxStatus.SENT, next_attempt_at=utcnow(),
    )  # fmt: skip
    first, second = utcnow() + LATER, utcnow() + 2 * LATER
    author_id = comment.author_id  # type: ignore[attr-defined]
    ban_terms: dict[str, Any] = {
        "community_id": community.id, "author_id": author_id, "at": first, "until": None, "reason": 1,
        "comment": "spam", "admin_vk_id": 555,
    }  # fmt: skip

    async def fill_placeholder(item: Item, conn: Any) -> Any:
        # What ingest does to the placeholder when its text arrives, before moderation classifies it.
        item.text, item.from_vk_id = "late text", 42
        await item.save(using_db=conn, update_fields=["text", "from_vk_id"])
        return await moderation.placeholder_filled(item, conn)

    facts: list[tuple[str, int, Callable[[Item, Any], Awaitable[Any]]]] = [
        ("VK deletes the comment", comment.id,
         lambda i, c: moderation.vk_deleted(i, at=first, deleter_vk_id=9, proxy_row=None, conn=c)),
        ("the outbox records the operator's delete", comment.id,
         lambda i, c: moderation.operator_deleted(i, row, at=first, deleter_vk_id=555, conn=c)),
        ("VK restores it", comment.id,
         lambda i, c: moderation.vk_restored(i, at=second, proxy_row=None, conn=c)),
        ("the outbox records the operator's restore", comment.id,
         lambda i, c: moderation.operator_restored(i, row, at=second, conn=c)),
        ("the outbox records a delete VK has not echoed", comment.id,
         lambda i, c: moderation.operator_deleted(i, row, at=second, deleter_vk_id=555, conn=c)),
        ("the outbox records a restore VK has not echoed", comment.id,
         lambda i, c: moderation.operator_restored(i, row, at=second, conn=c)),
        ("VK deletes an item never seen", placeholder.id,
         lambda i, c: moderation.vk_deleted(i, at=first, deleter_vk_id=9, proxy_row=None, conn=c)),
        ("the placeholder's text arrives", placeholder.id, fill_placeholder),
        ("VK reports a ban", comment.id,
         lambda i, c: moderation.vk_reported_ban(**ban_terms, operator_id=None, conn=c)),
        ("the outbox records the operator's ban", comment.id,
         lambda i, c: moderation.operator_banned(**ban_terms, operator_id=operator.id, conn=c)),
        ("the ban is lifted", comment.id, lambda i, c: moderation.lift(community.id, author_id, second, c)),
    ]  # fmt: skip
    ids = [comment.id, placeholder.id]
    for fact, item_id, report in facts:
        before = await _rows(ids)
        for report_number in (1, 2):
            async with in_transaction() as conn:
                await report(await Item.get(id=item_id).using_db(conn), conn)
            if report_number == 1:
                recorded = await _rows(ids)
                assert recorded != before, f"{fact}: nothing recorded"
        assert await _rows(ids) == recorded, f"{fact}: the second report changed the rows"

    items, tombstones, bans = await _rows(ids)
    assert [(t[3], t[5], t[6], t[8]) for t in tombstones] == [
        (DeletedVia.PROXY, operator.id, "rude", operator.id),
        (DeletedVia.PROXY, operator.id, "rude", operator.id),
        (DeletedVia.VK_ADMIN, None, "late text", None),
    ]
    assert [(b[6], b[7], b[8]) for b in bans] == [(operator.id, 555, second)]
