"""What an event says about an item, whichever event it is, and how the item's row spells it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proxy.clock import utcnow
from proxy.conversations import ThreadAddress
from proxy.db.sql import SqlQuery
from proxy.events import Direction as EventDirection
from proxy.events import ItemCreated, ItemEdited, ItemRef, ItemRestored, ThreadRef
from proxy.models import Channel, Community, Direction, Item
from proxy.search_terms import search_terms

# Encode JSON columns as the ORM stores them (written here by hand-made INSERTs).
_ATTACHMENTS = Item._meta.fields_map["attachments"]
_FORWARDED = Item._meta.fields_map["forwarded"]


@dataclass(frozen=True)
class _Content:
    """What an event says about an item, whichever event it is."""

    ref: ItemRef
    thread: ThreadRef
    author_id: int | None
    text: str
    attachments: list[Any]
    created_at: datetime | None
    direction: Direction
    reply_to: ItemRef | None = None
    admin_author_id: int | None = None
    message_id: int | None = None
    forwarded: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    author_name: str = ""


def _content(event: ItemCreated | ItemRestored | ItemEdited) -> _Content:
    if isinstance(event, ItemEdited):
        direction = Direction.OUT if event.from_community else Direction.IN
        return _Content(
            ref=event.ref,
            thread=event.thread,
            author_id=event.author_id,
            text=event.text,
            attachments=list(event.attachments),
            created_at=event.created_at,
            direction=direction,
            admin_author_id=event.admin_author_id,
            forwarded=list(event.forwarded),
        )
    return _Content(
        ref=event.ref,
        thread=event.thread,
        author_id=event.author_id,
        text=event.text,
        attachments=list(event.attachments),
        created_at=event.created_at,
        direction=Direction.OUT if event.direction is EventDirection.OUT else Direction.IN,
        reply_to=event.reply_to,
        admin_author_id=event.admin_author_id,
        message_id=event.message_id,
        forwarded=list(event.forwarded),
        author_name=event.author_name,
    )


def _address(thread: ThreadRef) -> ThreadAddress:
    return ThreadAddress(
        channel=Channel(thread.channel.value),
        key=thread.key,
        owner_id=thread.owner_id,
        object_id=thread.object_id,
        root_id=thread.root_id,
        connection=thread.connection or None,
    )


def _tops_its_thread(content: _Content) -> bool:
    """Whether the item is its thread's top-level comment (its writer is the conversation's author)."""
    return content.thread.root_id is not None and content.thread.root_id == content.ref.item_id


def _preview(content: _Content | Item) -> str:
    """What the inbox shows of an item: its text; else its attachments' kinds and what it forwards."""
    if content.text:
        return content.text
    attachments = content.attachments or []
    kinds = [a.get("type") for a in attachments if isinstance(a, dict) and isinstance(a.get("type"), str)]
    parts = [f"[{kind}]" for kind in kinds]
    quoted = _forwarded_text(content.forwarded or [])
    if quoted:
        parts.append("» " + quoted.replace("\n", " "))
    return " ".join(parts)


def _forwarded_text(forwarded: list[Any]) -> str:
    """The texts of quoted and forwarded messages at every depth, in reading order, one per line."""
    texts: list[str] = []
    pending = list(reversed(forwarded))
    while pending:
        message = pending.pop()
        if not isinstance(message, dict):
            continue
        if isinstance(message.get("text"), str) and message["text"]:
            texts.append(message["text"])
        pending.extend(reversed(message.get("forwarded") or []))
    return "\n".join(texts)


def _vk_id(content: _Content) -> int:
    if content.ref.channel.value == Channel.MESSAGE.value:
        return content.message_id or content.ref.item_id
    return content.ref.item_id


def _item_values(
    community: Community,
    content: _Content,
    at: datetime,
    conversation_id: int | None,
    author_id: int | None,
    *,
    edited_at: datetime | None = None,
) -> dict[str, Any]:
    """The columns of a new item (version 1)."""
    return {
        "community_id": community.id,
        "conversation_id": conversation_id,
        "channel": content.ref.channel.value,
        "key": content.ref.key,
        "vk_id": _vk_id(content),
        "direction": content.direction.value,
        "author_id": author_id,
        "from_vk_id": content.author_id,
        "admin_author_vk_id": content.admin_author_id,
        "reply_to_key": content.reply_to.key if content.reply_to else None,
        "text": content.text,
        "attachments": _ATTACHMENTS.to_db_value(content.attachments, Item),
        "forwarded": _FORWARDED.to_db_value(content.forwarded, Item),
        "created_at": at,
        "edited_at": edited_at,
        "version_count": 1,
        "is_deleted": False,
        "recorded_at": utcnow(),
    }


def _first_version_sql(content: _Content, q: SqlQuery) -> str:
    """The first version of the item a WITH named new_item inserted."""
    forwarded_text = _forwarded_text(content.forwarded)
    return (
        "INSERT INTO item_version (item_id, number, text, attachments, forwarded, forwarded_text, valid_from, "
        f"recorded_at, search_terms) SELECT id, 1, text, attachments, forwarded, {q.p(forwarded_text)}, "
        f"created_at, recorded_at, {q.p(search_terms(content.text, forwarded_text))} FROM new_item"
    )
