"""Deletions and restorations VK reports, and what they mean for the author's wait.

A delete of an item never seen leaves a placeholder (an item without text, `version_count` 0) that
`items._fill_placeholder` completes when the text arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from proxy import conversations, moderation
from proxy.connectors.base import ActionKind
from proxy.echo import match_action_echo
from proxy.events import ItemDeleted, ItemRestored, ThreadRef
from proxy.ingest.authors import _author
from proxy.ingest.content import _content
from proxy.ingest.done_in_vk import (
    _in_person,
    _journal_vk_delete,
    _journal_vk_restore,
    _linked_operator_id,
    _record_arrival,
)
from proxy.ingest.items import (
    _add_version,
    _create_item,
    _fill_placeholder,
    _locked_item,
    _open_conversation,
    _refresh_preview,
    _same,
)
from proxy.ingest.outcome import _Effect, _Known
from proxy.models import (
    Channel,
    Community,
    Conversation,
    ConversationStatus,
    DeletedVia,
    Direction,
    Item,
    ReactionSample,
)


def _placeholder_thread(event: ItemDeleted) -> ThreadRef:
    if event.thread is not None:
        return event.thread
    # Unknown: the comment is taken as the top of its own thread until its text (and parents) arrive.
    ref = event.ref
    return ThreadRef(channel=ref.channel, owner_id=ref.owner_id, object_id=ref.object_id, root_id=ref.item_id)


async def _item_deleted(
    community: Community, event: ItemDeleted, received: datetime, conn: Any, known: _Known
) -> _Effect:
    item, conversation = await _locked_item(community, event.ref.key, conn, known)
    if item is None:
        from_community = event.user_id == -community.vk_group_id or (
            (event.user_id or 0) > 0
            and await _linked_operator_id(community.network, event.user_id, conn) is not None
        )
        direction = Direction.OUT if from_community else Direction.IN
        author_id = (
            await _author(community.network, event.user_id, conn, known)
            if direction == Direction.IN
            else None
        )
        conversation = await _open_conversation(
            community, _placeholder_thread(event), author_id, received, conn
        )
        item = await Item.create(
            community_id=community.id,
            conversation_id=conversation.id,
            channel=Channel(event.ref.channel.value),
            key=event.ref.key,
            vk_id=event.ref.item_id,
            direction=direction,
            author_id=author_id,
            from_vk_id=event.user_id,
            text="",
            created_at=received,
            version_count=0,
            using_db=conn,
        )
    assert conversation is not None
    echo = await match_action_echo(community, ActionKind.DELETE_COMMENT, item_id=item.id, conn=conn)
    tombstone = await moderation.vk_deleted(
        item, at=received, deleter_vk_id=event.deleter_id, proxy_row=echo, conn=conn
    )
    if tombstone is None:
        # Already deleted: the proxy's own deletion, recorded when VK accepted it (its wait is settled
        # here), or a repeated delete.
        await _withdraw_if_unwaited(conversation, item, item.deleted_at or received, conn)
        return _Effect(detail="already deleted", conversation_id=conversation.id, item_id=item.id)
    if tombstone.deleted_via == DeletedVia.VK_ADMIN:
        await _journal_vk_delete(community, item, conversation, event.deleter_id, received, conn)
    await _withdraw_if_unwaited(conversation, item, received, conn)
    return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)


async def _resume_if_withdrawn(conversation: Conversation, item: Item, conn: Any) -> None:
    """A restored incoming item of the wait that was withdrawn last, with no answer, new wait or closing
    since: the author is waiting again, from when they started (docs/metrics.md, "Withdrawn wait")."""
    if item.direction != Direction.IN or conversation.waiting_since is not None:
        return
    if conversation.status != ConversationStatus.OPEN:
        return
    last = await ReactionSample.filter(conversation_id=conversation.id).order_by("-id").using_db(conn).first()
    if last is None or last.ended_by != conversations.WITHDRAWN or item.created_at < last.started_at:
        return
    if conversation.opened_at > last.started_at:
        return  # closed and reopened since: that wait belongs to an opening that is over
    answered = (
        await Item.filter(
            conversation_id=conversation.id, direction=Direction.OUT, created_at__gte=last.started_at
        )
        .using_db(conn)
        .exists()
    )
    if not answered:
        await conversations.withdrawal_undone(conversation, last, conn=conn)


async def _withdraw_if_unwaited(conversation: Conversation, item: Item, at: datetime, conn: Any) -> None:
    """A deleted item the author's wait counts (incoming, seen, not older than the wait): when no item
    that arrived since the wait started is left, nobody is waiting any more (docs/metrics.md)."""
    since = conversation.waiting_since
    if since is None or item.direction != Direction.IN or item.version_count == 0 or item.created_at < since:
        return
    still_waited_on = (
        await Item.filter(
            conversation_id=conversation.id, direction=Direction.IN, is_deleted=False, created_at__gte=since
        )
        .using_db(conn)
        .exists()
    )
    if not still_waited_on:
        await conversations.waiting_withdrawn(conversation, at=at, conn=conn)


async def _item_restored(
    community: Community, event: ItemRestored, received: datetime, conn: Any, known: _Known
) -> _Effect:
    content = await _in_person(community.network, _content(event), conn)
    item, conversation = await _locked_item(community, content.ref.key, conn, known)
    if item is None:
        at = content.created_at or received
        item, conversation = await _create_item(community, content, at, conn, known=known)
        await _record_arrival(community, event, item, conversation, at, conn)
        return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)
    assert conversation is not None
    changed = False
    if item.version_count == 0:
        at = content.created_at or received
        conversation = await _fill_placeholder(community, item, conversation, content, at, conn)
        await _record_arrival(community, event, item, conversation, at, conn)
        changed = True
    elif not _same(item, content):
        await _add_version(item, content, received, conn)
        await _refresh_preview(item, conversation, conn)
        changed = True
    echo = await match_action_echo(community, ActionKind.RESTORE_COMMENT, item_id=item.id, conn=conn)
    restoration = await moderation.vk_restored(item, at=received, proxy_row=echo, conn=conn)
    if restoration.tombstone is not None:
        if echo is None and restoration.tombstone.deleted_via != DeletedVia.AUTHOR:
            # An author may undo their own deletion; anything else was undone by an admin in VK.
            await _journal_vk_restore(community, item, conversation, received, conn)
        changed = True
    if restoration.undeleted:
        await _resume_if_withdrawn(conversation, item, conn)
        changed = True
    detail = "" if changed else "not deleted, no change"
    return _Effect(detail=detail, conversation_id=conversation.id, item_id=item.id, changed=changed)
