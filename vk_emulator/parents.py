"""What comments hang on, read by id as VK answers it (API 5.199): wall.getById, photos.getById,
market.getById here; video.get's `videos` and board.getTopics' `topic_ids` filters in methods.py.

The emulator's photos, videos and goods have no picture of their own, so each is given the address VK's
image servers would use, derived from its id; a post has the attachments it was created with.
"""

from __future__ import annotations

from typing import Any

from .community import Group, Target
from .methods import Call, _comment_count, method
from .state import CommentKind

MAX_IDS = 100


def wanted(call: Call, param: str, kind: CommentKind, *, with_owner: bool = True) -> list[Target] | None:
    """The targets named by a comma-separated id list ("-1_2,-1_3", or "2,3" without owners), in the
    order asked, leaving out what does not exist or belongs to another community; None without the list."""
    value = call.params.text(param)
    if value is None:
        return None
    group = call.group() if with_owner is False else None
    found = []
    for part in [p.strip() for p in value.split(",") if p.strip()][:MAX_IDS]:
        try:
            owner, _, object_id = part.rpartition("_") if with_owner else ("", "", part)
            target_id = int(object_id)
            owner_id = int(owner) if with_owner else None
        except ValueError:
            continue
        if group is None:
            candidate = call.state.groups.get(-owner_id) if owner_id is not None and owner_id < 0 else None
        else:
            candidate = group
        target = candidate.targets.get((kind, target_id)) if candidate is not None else None
        if target is not None:
            found.append(target)
    return found


def image_sizes(target: Target) -> list[dict[str, Any]]:
    base = (
        f"https://sun9-{target.id % 90 + 1}.userapi.com/emulator/{target.kind}{target.owner_id}_{target.id}"
    )
    return [
        {"type": "m", "width": 130, "height": 98, "url": f"{base}_m.jpg"},
        {"type": "x", "width": 604, "height": 453, "url": f"{base}_x.jpg"},
    ]


def _group(call: Call, target: Target) -> Group:
    return call.state.groups[-target.owner_id]


@method("wall.getById")
def wall_get_by_id(call: Call) -> Any:
    items = []
    for t in wanted(call, "posts", "wall") or []:
        item: dict[str, Any] = {
            "id": t.id,
            "from_id": t.from_id,
            "owner_id": t.owner_id,
            "date": t.date,
            "post_type": "post",
            "text": t.text,
            "comments": {"count": _comment_count(_group(call, t), "wall", t.id), "can_post": 1},
        }
        if t.attachments:
            item["attachments"] = list(t.attachments)
        items.append(item)
    return {"items": items}


@method("photos.getById")
def photos_get_by_id(call: Call) -> Any:
    return [
        {
            "id": t.id,
            "owner_id": t.owner_id,
            "album_id": -7,
            "date": t.date,
            "text": t.text,
            "sizes": image_sizes(t),
        }
        for t in wanted(call, "photos", "photo") or []
    ]


@method("market.getById")
def market_get_by_id(call: Call) -> Any:
    items = [
        {
            "id": t.id,
            "owner_id": t.owner_id,
            "title": t.text,
            "description": "",
            "date": t.date,
            "thumb_photo": image_sizes(t)[-1]["url"],
            "availability": 0,
        }
        for t in wanted(call, "item_ids", "market") or []
    ]
    return {"count": len(items), "items": items}
