"""Read a community's recent messages and comments through the VK API, as synthetic events.

Catch-up sync (proxy/sync.py) feeds these to ingest like any other event. Each item becomes the event
VK would have sent when it was written (message_new / message_reply, wall_reply_new,
photo_comment_new, ...), normalized, with an ``event_id`` of ``sync:<item key>:<digest of its text>``:
reading the same item twice is then a duplicate raw event, an item whose text changed since is a new
one (ingest turns it into an edit), and an item a real event already brought is found by its key and
left alone.

Every source is read within limits (recent dialogs and their last messages, recent posts, photos,
videos, goods and topics). A source VK refuses (a method the token may not call) is logged and
skipped; the rest are still read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.events import ItemCreated

from .client import VkApiError, VkClient
from .normalize import normalize

__all__ = ["SyncLimits", "recent_items"]

log = logging.getLogger(__name__)

_MAX_EVENT_ID = 64


@dataclass(frozen=True)
class SyncLimits:
    """How far back catch-up sync reads."""

    conversations: int = 50
    messages_per_peer: int = 50
    posts: int = 20
    targets: int = 20
    comments_per_target: int = 100


def _event(group_id: int, event_type: str, obj: dict[str, Any]) -> tuple[dict[str, Any], ItemCreated] | None:
    raw: dict[str, Any] = {"type": event_type, "object": obj, "group_id": group_id, "event_id": "sync"}
    event = normalize(raw)
    if not isinstance(event, ItemCreated):
        return None
    digest = hashlib.sha1(
        json.dumps([event.text, event.attachments], ensure_ascii=True, sort_keys=True).encode()
    ).hexdigest()[:12]
    event_id = f"sync:{event.ref.key}:{digest}"
    if len(event_id) > _MAX_EVENT_ID:
        event_id = "sync:" + hashlib.sha1(event_id.encode()).hexdigest()
    raw["event_id"] = event_id
    return raw, dataclasses.replace(event, event_id=event_id, raw=raw)


async def _call(client: VkClient, method: str, **params: Any) -> Any:
    try:
        return await client.call(method, **params)
    except VkApiError as exc:
        if exc.transient:
            raise
        log.warning("catch-up sync: %s refused (%s); skipping it", method, exc)
        return None


def _items(response: Any) -> list[dict[str, Any]]:
    if isinstance(response, dict) and isinstance(response.get("items"), list):
        return [item for item in response["items"] if isinstance(item, dict)]
    return []


async def _messages(
    client: VkClient, group_id: int, limits: SyncLimits
) -> list[tuple[dict[str, Any], ItemCreated]]:
    found = []
    conversations = await _call(
        client, "messages.getConversations", group_id=group_id, count=min(limits.conversations, 200)
    )
    for entry in _items(conversations):
        peer = entry.get("conversation", {}).get("peer", {}).get("id")
        if not isinstance(peer, int):
            continue
        history = await _call(
            client,
            "messages.getHistory",
            group_id=group_id,
            peer_id=peer,
            count=min(limits.messages_per_peer, 200),
        )
        for message in _items(history):
            if message.get("out") in (1, True):
                made = _event(group_id, "message_reply", message)
            else:
                made = _event(group_id, "message_new", {"message": message})
            if made:
                found.append(made)
    return found


async def _comment_tree(
    client: VkClient,
    group_id: int,
    method: str,
    target_param: str,
    target_id: int,
    event_type: str,
    extra: dict[str, Any],
    limits: SyncLimits,
) -> list[tuple[dict[str, Any], ItemCreated]]:
    """Top-level comments of one target and the replies in their threads."""
    owner = -group_id
    params: dict[str, Any] = {
        "owner_id": owner,
        target_param: target_id,
        "count": min(limits.comments_per_target, 100),
    }
    if method == "board.getComments":
        params = {"group_id": group_id, "topic_id": target_id, "count": min(limits.comments_per_target, 100)}
    page = await _call(client, method, **params)
    found = []
    for comment in _items(page):
        if comment.get("deleted"):
            continue
        made = _event(group_id, event_type, {**comment, **extra})
        if made:
            found.append(made)
        thread = comment.get("thread")
        if isinstance(thread, dict) and thread.get("count"):
            replies = await _call(client, method, **params, comment_id=comment.get("id"))
            for reply in _items(replies):
                made = _event(group_id, event_type, {**reply, **extra})
                if made:
                    found.append(made)
    return found


def _ids(response: Any) -> list[int]:
    return [item["id"] for item in _items(response) if isinstance(item.get("id"), int)]


async def _comments(
    client: VkClient, group_id: int, limits: SyncLimits
) -> list[tuple[dict[str, Any], ItemCreated]]:
    owner = -group_id
    found = []
    posts = await _call(client, "wall.get", owner_id=owner, count=min(limits.posts, 100))
    for post in _items(posts):
        comments = post.get("comments")
        if isinstance(comments, dict) and not comments.get("count"):
            continue
        found += await _comment_tree(
            client,
            group_id,
            "wall.getComments",
            "post_id",
            post["id"],
            "wall_reply_new",
            {"post_id": post["id"], "owner_id": owner},
            limits,
        )
    photo_comments = await _call(
        client, "photos.getAllComments", owner_id=owner, count=min(limits.comments_per_target, 100)
    )
    for comment in _items(photo_comments):
        made = _event(
            group_id,
            "photo_comment_new",
            {**comment, "photo_id": comment.get("pid"), "photo_owner_id": owner},
        )
        if made:
            found.append(made)
    for video_id in _ids(await _call(client, "video.get", owner_id=owner, count=min(limits.targets, 200))):
        found += await _comment_tree(
            client,
            group_id,
            "video.getComments",
            "video_id",
            video_id,
            "video_comment_new",
            {"video_id": video_id, "video_owner_id": owner},
            limits,
        )
    for item_id in _ids(await _call(client, "market.get", owner_id=owner, count=min(limits.targets, 200))):
        found += await _comment_tree(
            client,
            group_id,
            "market.getComments",
            "item_id",
            item_id,
            "market_comment_new",
            {"item_id": item_id, "market_owner_id": owner},
            limits,
        )
    for topic_id in _ids(
        await _call(client, "board.getTopics", group_id=group_id, count=min(limits.targets, 100))
    ):
        found += await _comment_tree(
            client,
            group_id,
            "board.getComments",
            "topic_id",
            topic_id,
            "board_post_new",
            {"topic_id": topic_id, "topic_owner_id": owner},
            limits,
        )
    return found


def _when(pair: tuple[dict[str, Any], ItemCreated]) -> datetime:
    return pair[1].created_at or datetime.min.replace(tzinfo=UTC)


async def recent_items(
    client: VkClient, group_id: int, limits: SyncLimits | None = None
) -> list[tuple[dict[str, Any], ItemCreated]]:
    """Recent messages and comments of a community as (raw event, ItemCreated), oldest first."""
    limits = limits or SyncLimits()
    found = await _messages(client, group_id, limits) + await _comments(client, group_id, limits)
    # Oldest first, so conversations see questions before the answers to them.
    found.sort(key=_when)
    return found
