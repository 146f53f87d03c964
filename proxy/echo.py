"""Recognise VK's echo of an action an operator performed through the proxy.

When the outbox sends a message or a comment, VK answers with its own event (message_reply,
wall_reply_new, ...) a moment later. That event must be attributed to the operator who sent it, must
not count as a second reply, and must not be mistaken for an action outside the proxy. The same holds
for deletions, restorations and bans performed through the proxy.

Rules (docs/architecture.md, "Outbound"):
- a message matches the outbox row of its community whose idempotency key is the message's
  ``random_id`` (messages.send sends the key as random_id); one without (Telegram has none) matches the
  row that names it in ``result_item_key`` (the outbox ingests what Telegram never echoes);
- a comment matches the oldest outbox row of its community that is being sent, was sent, or waits for
  a retry after an attempt (whose answer may have been lost although VK did it), by a
  ``*.createComment`` method and either names the comment (``result_item_key``, set once VK returned
  the comment id) or, while VK has not answered yet, targets the same conversation with the same text.
  A row matched that way gets the comment's key, so a second identical comment does not match it again;
- a deletion, restoration, ban or unban matches the newest such row of the same method on the same
  comment or user that is being sent, was sent, or waits for a retry after an attempt.

Lock order (docs/architecture.md, "Lock order"; proxy/locks.py): ingest calls these while it holds the
echo's conversation and item, and claiming a row for a comment updates the outbox row after them. The
outbox records the row's outcome in the same order (conversation, item, then the row), so an echo
arriving while that is being committed waits for it instead of deadlocking with it.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from proxy.connectors.base import ActionKind
from proxy.connectors.registry import methods_of
from proxy.events import Channel, ItemCreated, ItemEdited, ItemRestored
from proxy.models import Community, OutboxRow, OutboxStatus

__all__ = ["match_action_echo", "match_outbox_echo"]

_IN_FLIGHT = (OutboxStatus.SENDING, OutboxStatus.SENT)


def _may_have_reached_vk() -> Q:
    """Rows being sent or sent, and rows waiting for a retry after an attempt: that attempt may have been
    carried out by VK with the answer lost on the way (or come after the client gave up), and VK's event
    for it arrives while the row waits. The retry reuses the idempotency key, so it changes nothing."""
    return Q(status__in=_IN_FLIGHT) | Q(status=OutboxStatus.PENDING, attempts__gt=0)


# Bans are matched in Python on their parameters; this bounds how many recent rows are read.
_RECENT_BAN_ROWS = 50


async def match_outbox_echo(
    community: Community, event: ItemCreated | ItemRestored | ItemEdited, conn: Any
) -> OutboxRow | None:
    """The outbox row whose action this community message or comment is the echo of, if any."""
    if event.ref.channel in (Channel.MESSAGE, Channel.BUSINESS):
        random_id = getattr(event, "random_id", None)
        if not random_id:
            # A message the network does not echo (Telegram): the outbox ingests it after naming it on
            # its row (ActionResult.events, result_item_key).
            return (
                await OutboxRow.filter(community_id=community.id, result_item_key=event.ref.key)
                .using_db(conn)
                .first()
            )
        return (
            await OutboxRow.filter(community_id=community.id, idempotency_key=str(random_id))
            .using_db(conn)
            .first()
        )
    key = event.ref.key
    row = (
        await OutboxRow.filter(
            _may_have_reached_vk(),
            community_id=community.id,
            method__in=methods_of(ActionKind.REPLY),
        )
        .filter(
            Q(result_item_key=key)
            | Q(result_item_key__isnull=True, conversation__key=event.thread.key, text=event.text)
        )
        .order_by("id")
        .using_db(conn)
        .first()
    )
    if row is not None and row.result_item_key is None:
        # Claim the row for this comment; the worker later writes the same key when VK answers.
        await (
            OutboxRow.filter(id=row.id, result_item_key__isnull=True)
            .using_db(conn)
            .update(result_item_key=key)
        )
        row.result_item_key = key
    return row


async def match_action_echo(
    community: Community,
    kind: ActionKind,
    *,
    item_id: int | None = None,
    user_id: int | None = None,
    conn: Any,
) -> OutboxRow | None:
    """The newest in-flight, sent or retrying row of a kind of action (a delete, a ban ...) on this item or
    user: the network's event for it is the proxy's own action, not one taken in the network."""
    rows = OutboxRow.filter(
        _may_have_reached_vk(), community_id=community.id, method__in=methods_of(kind)
    ).using_db(conn)
    if item_id is not None:
        return await rows.filter(item_id=item_id).order_by("-id").first()
    for row in await rows.order_by("-id").limit(_RECENT_BAN_ROWS):
        params = row.params if isinstance(row.params, dict) else {}
        if str(params.get("owner_id", params.get("user_id"))) == str(user_id):
            return row
    return None
