"""What VK comment threads hang on: posts, photos, videos, goods and board topics, read through the API
(wall.getById, photos.getById, video.get, market.getById, board.getTopics) or taken from a community's
wall_post_new, as network-neutral `Parent` records.

Each method takes a list of "owner_id" ids in one call; VK leaves out of its answer what was deleted or
is not visible, and that parent is then left out here too (the core marks it missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from proxy.connectors.base import Parent, ParentRef
from proxy.events import Channel, DomainEvent, WallPostCreated

from .client import VkClient

# Ids per call: wall.getById and the others take up to 100.
PER_CALL = 100
_URL_PREFIX = {
    Channel.WALL: "wall",
    Channel.PHOTO: "photo",
    Channel.VIDEO: "video",
    Channel.MARKET: "product",
    Channel.BOARD: "topic",
}


def parent_url(ref: ParentRef) -> str:
    """vk.com's address of the post, photo, video, product or topic."""
    prefix = _URL_PREFIX.get(Channel(ref.channel), "wall")
    return f"https://vk.com/{prefix}{ref.owner_id}_{ref.object_id}"


def _when(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _largest(images: Any) -> str:
    """The largest of VK's image lists (photo `sizes`, video `image`), by area."""
    found = [i for i in images or [] if isinstance(i, dict) and isinstance(i.get("url"), str)]
    if not found:
        return ""
    return max(found, key=lambda i: (i.get("width") or 0) * (i.get("height") or 0))["url"]


def first_image(attachments: Any) -> str:
    """The first picture among VK attachments: a photo's largest size, a video's or a link's preview."""
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict):
            continue
        body = attachment.get(attachment.get("type") or "")
        if not isinstance(body, dict):
            continue
        kind = attachment.get("type")
        image = ""
        if kind == "photo":
            image = _largest(body.get("sizes"))
        elif kind == "video":
            image = _largest(body.get("image")) or _largest(body.get("first_frame"))
        elif kind == "link" and isinstance(body.get("photo"), dict):
            image = _largest(body["photo"].get("sizes"))
        elif kind == "market" and isinstance(body.get("thumb_photo"), str):
            image = body["thumb_photo"]
        if image:
            return image
    return ""


def _joined(*parts: Any) -> str:
    return "\n\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def parent_of_post(event: DomainEvent) -> Parent | None:
    """A community's new wall post is a parent as it stands: no call needed."""
    if not isinstance(event, WallPostCreated):
        return None
    ref = ParentRef(channel=Channel.WALL.value, owner_id=event.owner_id, object_id=event.post_id)
    return Parent(
        ref=ref, text=event.text, image_url=first_image(event.attachments), posted_at=event.created_at
    )


def _items(answer: Any) -> list[dict[str, Any]]:
    # wall.getById and photos.getById answer a list in older versions, {"items": [...]} in 5.199.
    found = answer.get("items") if isinstance(answer, dict) else answer
    return [item for item in found or [] if isinstance(item, dict)]


def _post(owner: int, item: dict[str, Any]) -> Parent:
    ref = ParentRef(channel=Channel.WALL.value, owner_id=owner, object_id=int(item["id"]))
    text = item.get("text") or ""
    history = item.get("copy_history")
    attachments = item.get("attachments")
    if not text and isinstance(history, list) and history and isinstance(history[0], dict):
        # A repost: the reposted post is what people comment on.
        text, attachments = history[0].get("text") or "", history[0].get("attachments")
    return Parent(
        ref=ref, text=str(text), image_url=first_image(attachments), posted_at=_when(item.get("date"))
    )


def _photo(owner: int, item: dict[str, Any]) -> Parent:
    ref = ParentRef(channel=Channel.PHOTO.value, owner_id=owner, object_id=int(item["id"]))
    return Parent(
        ref=ref,
        text=str(item.get("text") or ""),
        image_url=_largest(item.get("sizes")),
        posted_at=_when(item.get("date")),
    )


def _video(owner: int, item: dict[str, Any]) -> Parent:
    ref = ParentRef(channel=Channel.VIDEO.value, owner_id=owner, object_id=int(item["id"]))
    image = _largest(item.get("image")) or _largest(item.get("first_frame"))
    text = _joined(item.get("title"), item.get("description"))
    return Parent(ref=ref, text=text, image_url=image, posted_at=_when(item.get("date")))


def _product(owner: int, item: dict[str, Any]) -> Parent:
    ref = ParentRef(channel=Channel.MARKET.value, owner_id=owner, object_id=int(item["id"]))
    thumb = item.get("thumb_photo") if isinstance(item.get("thumb_photo"), str) else ""
    text = _joined(item.get("title"), item.get("description"))
    return Parent(ref=ref, text=text, image_url=thumb, posted_at=_when(item.get("date")))


def _topic(owner: int, item: dict[str, Any]) -> Parent:
    ref = ParentRef(channel=Channel.BOARD.value, owner_id=owner, object_id=int(item["id"]))
    return Parent(ref=ref, text=str(item.get("title") or ""), posted_at=_when(item.get("created")))


async def _ask(client: VkClient, group_id: int, channel: Channel, owner: int, ids: list[int]) -> list[Parent]:
    full = ",".join(f"{owner}_{i}" for i in ids)
    if channel is Channel.WALL:
        return [_post(owner, i) for i in _items(await client.call("wall.getById", posts=full))]
    if channel is Channel.PHOTO:
        return [_photo(owner, i) for i in _items(await client.call("photos.getById", photos=full))]
    if channel is Channel.VIDEO:
        answer = await client.call("video.get", owner_id=owner, videos=full, count=len(ids))
        return [_video(owner, i) for i in _items(answer)]
    if channel is Channel.MARKET:
        return [_product(owner, i) for i in _items(await client.call("market.getById", item_ids=full))]
    if channel is Channel.BOARD:
        topics = ",".join(map(str, ids))
        answer = await client.call("board.getTopics", group_id=group_id, topic_ids=topics, count=len(ids))
        return [_topic(owner, i) for i in _items(answer)]
    return []


async def fetch_parents(client: VkClient, group_id: int, refs: Sequence[ParentRef]) -> list[Parent]:
    """The parents VK still shows, one call per channel and owner (and per PER_CALL ids)."""
    groups: dict[tuple[Channel, int], list[int]] = {}
    for ref in refs:
        groups.setdefault((Channel(ref.channel), ref.owner_id), []).append(ref.object_id)
    asked = {(r.channel, r.owner_id, r.object_id) for r in refs}
    found: list[Parent] = []
    for (channel, owner), ids in groups.items():
        for start in range(0, len(ids), PER_CALL):
            found += await _ask(client, group_id, channel, owner, ids[start : start + PER_CALL])
    # VK may answer more than asked (video.get ignores a malformed filter); keep only what was asked.
    return [p for p in found if (p.ref.channel, p.ref.owner_id, p.ref.object_id) in asked]
