"""Items: a new item with its first version, a new text as a new version, a placeholder filled in.

An ItemCreated for an item already stored with the same text changes nothing; with another text it is
an edit (sync reads the current text) or the original text arriving late after an edit (kept, not made
current). An edit of an item never seen keeps its text as version 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from proxy import conversations, moderation
from proxy.db.sql import SqlQuery
from proxy.events import ItemCreated, ItemEdited, ThreadRef
from proxy.ingest.authors import _author
from proxy.ingest.content import (
    _address,
    _Content,
    _content,
    _first_version_sql,
    _forwarded_text,
    _item_values,
    _preview,
    _tops_its_thread,
    _vk_id,
)
from proxy.ingest.done_in_vk import _in_person, _journal_vk_delete, _record_arrival
from proxy.ingest.outcome import _Effect, _Known
from proxy.models import Community, Conversation, Direction, Item, ItemVersion


async def _locked_item(
    community: Community, key: str, conn: Any, known: _Known
) -> tuple[Item | None, Conversation | None]:
    """The stored item with this key and its conversation, both locked (conversation first, the
    order every writer uses), or (None, None)."""
    if known.looked_up and known.item_key == key:
        found = known.item
    else:
        row = (
            await Item.filter(community_id=community.id, key=key)
            .using_db(conn)
            .only("id", "conversation_id")
            .first()
        )
        found = (row.id, row.conversation_id) if row is not None else None  # type: ignore[attr-defined]
    if found is None:
        return None, None
    conversation = await conversations.lock(found[1], conn)
    item = await Item.filter(id=found[0]).select_for_update().using_db(conn).get()
    return item, conversation


async def _open_conversation(
    community: Community,
    thread: ThreadRef,
    content_author: int | None,
    at: datetime,
    conn: Any,
    *,
    thread_author: bool = False,
) -> Conversation:
    return await conversations.get_or_open(
        community, _address(thread), at=at, author_id=content_author, conn=conn, thread_author=thread_author
    )


async def _followed_thread(community: Community, content: _Content, conn: Any) -> ThreadRef:
    """The item's thread; for one that follows its reply (ThreadRef.follows_reply: the network does not
    say the thread), the conversation of the stored item it answers, else the thread as given."""
    thread = content.thread
    if not thread.follows_reply or content.reply_to is None:
        return thread
    answered = (
        await Item.filter(community_id=community.id, key=content.reply_to.key)
        .using_db(conn)
        .only("conversation_id")
        .first()
    )
    if answered is None:
        return thread
    conversation = await Conversation.get(id=answered.conversation_id).using_db(conn)  # type: ignore[attr-defined]
    return dataclasses.replace(
        thread,
        owner_id=conversation.vk_owner_id or thread.owner_id,
        object_id=conversation.vk_object_id if conversation.vk_object_id is not None else thread.object_id,
        root_id=conversation.vk_root_id,
        follows_reply=False,
    )


async def _create_item(
    community: Community,
    content: _Content,
    at: datetime,
    conn: Any,
    *,
    edited_at: datetime | None = None,
    conversation_fields: Callable[[Conversation], list[str]] | None = None,
    known: _Known | None = None,
) -> tuple[Item, Conversation]:
    """A new item with its first version, in its (locked) conversation.

    `conversation_fields`, when given, changes the conversation (it returns the fields it changed),
    and they are saved with the item: on PostgreSQL item, version and conversation are written by
    one statement.
    """
    author_id = (
        await _author(community.network, content.author_id, conn, known, name=content.author_name)
        if content.direction == Direction.IN
        else None
    )
    thread = await _followed_thread(community, content, conn)
    conversation = await _open_conversation(
        community, thread, author_id, at, conn, thread_author=_tops_its_thread(content)
    )
    changed = conversation_fields(conversation) if conversation_fields else []
    values = _item_values(community, content, at, conversation.id, author_id, edited_at=edited_at)
    q = SqlQuery(conn)
    insert_item = (
        f"INSERT INTO item ({', '.join(values)}) VALUES ({', '.join(q.p(v) for v in values.values())}) "
        "RETURNING *"
    )
    if q.postgres:
        # One round trip instead of three (the data-modifying WITH is PostgreSQL's).
        parts = [f"new_item AS ({insert_item})", f"first_version AS ({_first_version_sql(content, q)})"]
        if changed:
            parts.append(f"waiting AS ({conversations.update_sql(conversation, changed, q)})")
        rows = await q.rows(f"WITH {', '.join(parts)} SELECT * FROM new_item")
        item = Item._init_from_db(**rows[0])
    else:
        rows = await q.rows(insert_item)
        item = Item._init_from_db(**rows[0])
        await ItemVersion.create(
            item_id=item.id,
            number=1,
            text=item.text,
            attachments=item.attachments,
            forwarded=item.forwarded,
            forwarded_text=_forwarded_text(item.forwarded),
            valid_from=item.created_at,
            recorded_at=item.recorded_at,
            using_db=conn,
        )
        if changed:
            await conversation.save(using_db=conn, update_fields=changed)
    return item, conversation


async def _fill_placeholder(
    community: Community, item: Item, conversation: Conversation, content: _Content, at: datetime, conn: Any
) -> Conversation:
    """A placeholder (an item known only from its deletion) gets its content and real thread."""
    author_id = (
        await _author(community.network, content.author_id, conn, name=content.author_name)
        if content.direction == Direction.IN
        else None
    )
    tops = _tops_its_thread(content)
    if conversation.key != content.thread.key:
        conversation = await _open_conversation(
            community, content.thread, author_id, at, conn, thread_author=tops
        )
        item.conversation_id = conversation.id  # type: ignore[attr-defined]
    elif tops and author_id is not None and conversation.author_id != author_id:  # type: ignore[attr-defined]
        # The placeholder held the thread's place without an author; a reply may have named its own.
        conversation.author_id = author_id  # type: ignore[attr-defined]
        await conversation.save(using_db=conn, update_fields=["author_id"])
    item.direction = content.direction
    item.author_id = author_id  # type: ignore[attr-defined]
    item.from_vk_id = content.author_id
    item.admin_author_vk_id = content.admin_author_id
    item.reply_to_key = content.reply_to.key if content.reply_to else None
    item.vk_id = _vk_id(content)
    item.text = content.text
    item.attachments = content.attachments
    item.forwarded = content.forwarded
    item.created_at = at
    item.version_count = 1
    await item.save(using_db=conn)
    await ItemVersion.create(
        item_id=item.id,
        number=1,
        text=content.text,
        attachments=content.attachments,
        forwarded=content.forwarded,
        forwarded_text=_forwarded_text(content.forwarded),
        valid_from=at,
        using_db=conn,
    )
    # A deleter named before the author was known can be classified now.
    for tombstone in await moderation.placeholder_filled(item, conn):
        await _journal_vk_delete(
            community, item, conversation, tombstone.deleter_vk_id, tombstone.deleted_at, conn
        )
    return conversation


async def _add_version(
    item: Item, content: _Content, valid_from: datetime, conn: Any, *, current: bool = True
) -> None:
    """Version n+1; ``current`` False records an older text that arrived late without making it current."""
    item.version_count += 1
    await ItemVersion.create(
        item_id=item.id,
        number=item.version_count,
        text=content.text,
        attachments=content.attachments,
        forwarded=content.forwarded,
        forwarded_text=_forwarded_text(content.forwarded),
        valid_from=valid_from,
        using_db=conn,
    )
    fields = ["version_count"]
    if current:
        item.text = content.text
        item.attachments = content.attachments
        item.forwarded = content.forwarded
        item.edited_at = valid_from
        fields += ["text", "attachments", "forwarded", "edited_at"]
    await item.save(using_db=conn, update_fields=fields)


async def _refresh_preview(item: Item, conversation: Conversation, conn: Any) -> None:
    """An edit shows in the inbox when the edited item is the one the preview shows: the conversation's
    latest item (by VK's date; of two with the same date, the one stored last), as the preview was set."""
    if conversation.last_item_at is None or item.created_at != conversation.last_item_at:
        return
    stored_later = (
        await Item.filter(conversation_id=conversation.id, created_at=item.created_at, id__gt=item.id)
        .using_db(conn)
        .exists()
    )
    if not stored_later:
        conversation.preview = _preview(item)[: conversations.PREVIEW_LENGTH]
        await conversation.save(using_db=conn, update_fields=["preview"])


def _same(item: Item, content: _Content) -> bool:
    # An item stored before forwarded messages were kept has none: seeing them now is not an edit.
    forwarded_same = not item.forwarded or item.forwarded == content.forwarded
    return item.text == content.text and (item.attachments or []) == content.attachments and forwarded_same


async def _item_created(
    community: Community, event: ItemCreated, received: datetime, source: str, conn: Any, known: _Known
) -> _Effect:
    content = await _in_person(community.network, _content(event), conn)
    at = content.created_at or received
    item, conversation = await _locked_item(community, content.ref.key, conn, known)
    if item is None and content.direction == Direction.IN:
        # The common case (an author wrote something new): what _record_arrival does for an incoming
        # item, written together with the item.
        preview = _preview(content)
        item, conversation = await _create_item(
            community,
            content,
            at,
            conn,
            conversation_fields=lambda c: conversations.author_wrote_changes(c, at=at, preview=preview),
            known=known,
        )
    elif item is None:
        item, conversation = await _create_item(community, content, at, conn, known=known)
        await _record_arrival(community, event, item, conversation, at, conn)
    else:
        assert conversation is not None
        if item.version_count == 0:
            conversation = await _fill_placeholder(community, item, conversation, content, at, conn)
            await _record_arrival(community, event, item, conversation, at, conn)
        elif _same(item, content):
            return _Effect(detail="item already stored", conversation_id=conversation.id, item_id=item.id)
        elif source == "sync":
            # Sync reads the current text: a different one is an edit no event told us about.
            await _add_version(item, content, received, conn)
            await _refresh_preview(item, conversation, conn)
        elif await ItemVersion.filter(item_id=item.id, text=content.text).using_db(conn).exists():
            return _Effect(detail="item already stored", conversation_id=conversation.id, item_id=item.id)
        else:
            # The original text arriving after an edit (VK retried it): kept, not made current.
            await _add_version(item, content, at, conn, current=False)
    return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)


async def _item_edited(
    community: Community, event: ItemEdited, received: datetime, conn: Any, known: _Known
) -> _Effect:
    content = await _in_person(community.network, _content(event), conn)
    edited_at = event.edited_at or received
    item, conversation = await _locked_item(community, content.ref.key, conn, known)
    if item is None:
        # The edit of an item we never saw: its current text is all there is, kept as version 1.
        at = content.created_at or edited_at
        item, conversation = await _create_item(
            community, content, at, conn, edited_at=edited_at, known=known
        )
        await _record_arrival(community, event, item, conversation, at, conn)
        return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)
    assert conversation is not None
    if item.version_count == 0:
        at = content.created_at or edited_at
        conversation = await _fill_placeholder(community, item, conversation, content, at, conn)
        await _record_arrival(community, event, item, conversation, at, conn)
    elif _same(item, content):
        return _Effect(detail="no change", conversation_id=conversation.id, item_id=item.id)
    else:
        await _add_version(item, content, edited_at, conn)
        await _refresh_preview(item, conversation, conn)
    return _Effect(conversation_id=conversation.id, item_id=item.id, changed=True)
