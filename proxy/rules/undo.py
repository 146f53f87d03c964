"""A person undoing what a rule did: the one place that says what counts as a rule's false positive.

Restoring a comment a rule deleted, or lifting a ban a rule made, marks the rule's hits on it undone
(`RuleHit.undone_at`, `undone_by`), in the transaction of the operator's restore or unban, so the count
moves only with an action that was queued. The operator's own entry (`comment.restore`, `author.unban`)
names the rules it undoes (`undoes_rules`). Called by proxy/actions.py after the conversation and item
locks and before the journal (docs/architecture.md, "Lock order").
"""

from __future__ import annotations

from typing import Any

from proxy.clock import utcnow
from proxy.models import RuleHit, RuleMode


def _acted(hit: RuleHit, kind: str) -> bool:
    return any(a.get("do") == kind and a.get("queued") for a in hit.actions)


async def restored(conn: Any, item_id: int, operator_id: int) -> list[int]:
    """The ids of the rules whose deletion of this item the operator's restore undoes."""
    hits = await RuleHit.filter(item_id=item_id, mode=RuleMode.ON, undone_at__isnull=True).using_db(conn)
    return await _undo([h for h in hits if _acted(h, "delete")], operator_id, conn)


async def unbanned(conn: Any, community_id: int, author_id: int | None, operator_id: int) -> list[int]:
    """The ids of the rules whose ban of this author the operator's unban undoes."""
    if author_id is None:
        return []
    hits = await RuleHit.filter(
        community_id=community_id, item__author_id=author_id, mode=RuleMode.ON, undone_at__isnull=True
    ).using_db(conn)
    return await _undo([h for h in hits if _acted(h, "ban")], operator_id, conn)


async def _undo(hits: list[RuleHit], operator_id: int, conn: Any) -> list[int]:
    if not hits:
        return []
    await RuleHit.filter(id__in=[h.id for h in hits]).using_db(conn).update(
        undone_at=utcnow(), undone_by_id=operator_id
    )
    return sorted({h.rule_id for h in hits})  # type: ignore[attr-defined]
