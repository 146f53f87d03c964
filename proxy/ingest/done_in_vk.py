"""What someone did directly in VK, and who is credited with a reply.

Each act taken in VK rather than through the proxy becomes a journal entry (`vk.reply`, `vk.delete`,
`vk.restore`, `vk.ban`, `vk.unban`, `vk.officers_edit`; `ban.expired` when VK ends a ban by its date),
named after the operator whose linked VK account did it, if any. VK's echo of the proxy's own action is
none of these: the outbox row it matches (proxy/echo.py) already carries its journal entry.

A reply is credited here (docs/architecture.md, "Reply credit"): the echo of an outbox row to that row's
operator; a reply written in VK to the operator VK names in admin_author_id, or the one whose own
account wrote the comment (`_in_person`); else to nobody ("outside the proxy").
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from proxy import conversations
from proxy.audit import journal
from proxy.echo import match_outbox_echo
from proxy.events import AuthorBlocked, AuthorUnblocked, ItemCreated, ItemEdited, ItemRestored, OfficersEdited
from proxy.events import Channel as EventChannel
from proxy.ingest.content import _Content, _preview
from proxy.models import (
    OPERATOR_ACCOUNT_COLUMN,
    ActorKind,
    Channel,
    Community,
    Conversation,
    Direction,
    Item,
    Operator,
)


async def _linked_operator_id(network: str, user_id: int | None, conn: Any) -> int | None:
    """The operator whose own account on `network` is `user_id`, or None."""
    if user_id is None:
        return None
    column = OPERATOR_ACCOUNT_COLUMN[network]
    operator = await Operator.filter(**{column: user_id}).using_db(conn).only("id").first()
    return operator.id if operator else None


async def _in_person(network: str, content: _Content, conn: Any) -> _Content:
    """A comment from the VK account linked to an operator is that operator answering directly in VK:
    outgoing, credited like a message_reply naming them in admin_author_id (docs/metrics.md,
    "Attribution"). Messages are not: in a dialog VK names the admin, and a message_new from an
    operator's own account is that person writing to the community."""
    if (
        content.ref.channel in (EventChannel.MESSAGE, EventChannel.BUSINESS)
        or content.direction != Direction.IN
        or content.author_id is None
        or content.author_id <= 0
        or await _linked_operator_id(network, content.author_id, conn) is None
    ):
        return content
    return dataclasses.replace(content, direction=Direction.OUT, admin_author_id=content.author_id)


async def _record_arrival(
    community: Community,
    event: ItemCreated | ItemRestored | ItemEdited,
    item: Item,
    conversation: Conversation,
    at: datetime,
    conn: Any,
) -> None:
    """What a newly seen item means for its conversation: an author waits, or the community answered."""
    preview = _preview(item)
    if item.direction == Direction.IN:
        await conversations.author_wrote(conversation, at=at, preview=preview, conn=conn)
        return
    # The proxy comments only as the community: a comment from a person's account is never its echo.
    in_person = item.channel != Channel.MESSAGE and (item.from_vk_id or 0) > 0
    row = None if in_person else await match_outbox_echo(community, event, conn)
    if row is not None:
        item.sent_by_id = row.operator_id  # type: ignore[attr-defined]
        item.sent_by_rule_id = row.rule_id
        item.outbox_row_id = row.id
        await item.save(using_db=conn, update_fields=["sent_by_id", "sent_by_rule_id", "outbox_row_id"])
        if row.rule_id is not None:
            # A rule's canned reply is not a person answering: the author still waits (docs/metrics.md).
            return
        await conversations.community_replied(
            conversation,
            at=at,
            operator_id=row.operator_id,  # type: ignore[attr-defined]
            outside_proxy=False,
            preview=preview,
            conn=conn,
        )
        return
    operator_id = await _linked_operator_id(community.network, item.admin_author_vk_id, conn)
    await conversations.community_replied(
        conversation, at=at, operator_id=operator_id, outside_proxy=True, preview=preview, conn=conn
    )
    await journal.record(
        "vk.reply",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=operator_id,
        vk_user_id=item.admin_author_vk_id,
        community_id=community.id,
        conversation_id=conversation.id,
        item_id=item.id,
        text=item.text,
        params={"key": item.key},
        at=at,
        connection=conn,
    )


async def _journal_vk_delete(
    community: Community,
    item: Item,
    conversation: Conversation,
    deleter_id: int | None,
    at: datetime,
    conn: Any,
) -> None:
    await journal.record(
        "vk.delete",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=await _linked_operator_id(community.network, deleter_id, conn),
        vk_user_id=deleter_id,
        community_id=community.id,
        conversation_id=conversation.id,
        item_id=item.id,
        text=item.text,
        params={"key": item.key},
        at=at,
        connection=conn,
    )


async def _journal_vk_restore(
    community: Community, item: Item, conversation: Conversation, at: datetime, conn: Any
) -> None:
    await journal.record(
        "vk.restore",
        actor_kind=ActorKind.OUTSIDE,
        community_id=community.id,
        conversation_id=conversation.id,
        item_id=item.id,
        text=item.text,
        params={"key": item.key},
        at=at,
        connection=conn,
    )


async def _journal_vk_ban(community: Community, event: AuthorBlocked, at: datetime, conn: Any) -> None:
    await journal.record(
        "vk.ban",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=await _linked_operator_id(community.network, event.admin_id, conn),
        vk_user_id=event.admin_id,
        community_id=community.id,
        text=event.comment,
        params={
            "user_id": event.user_id,
            "until": event.unblock_date.isoformat() if event.unblock_date else None,
            "reason": event.reason,
        },
        at=at,
        connection=conn,
    )


async def _journal_vk_unban(community: Community, event: AuthorUnblocked, at: datetime, conn: Any) -> None:
    await journal.record(
        "vk.unban",
        actor_kind=ActorKind.OUTSIDE,
        operator_id=await _linked_operator_id(community.network, event.admin_id, conn),
        vk_user_id=event.admin_id,
        community_id=community.id,
        params={"user_id": event.user_id},
        at=at,
        connection=conn,
    )


async def _journal_ban_expired(community: Community, event: AuthorUnblocked, at: datetime, conn: Any) -> None:
    await journal.record(
        "ban.expired",
        actor_kind=ActorKind.SYSTEM,
        community_id=community.id,
        params={"user_id": event.user_id},
        at=at,
        connection=conn,
    )


async def _journal_officers_edit(
    community: Community, event: OfficersEdited, at: datetime, conn: Any
) -> None:
    await journal.record(
        "vk.officers_edit",
        actor_kind=ActorKind.OUTSIDE,
        vk_user_id=event.admin_id,
        operator_id=await _linked_operator_id(community.network, event.admin_id, conn),
        community_id=community.id,
        params={"user_id": event.user_id, "level_old": event.level_old, "level_new": event.level_new},
        at=at,
        connection=conn,
    )
