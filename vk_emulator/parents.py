"""What comments hang on, read by id as VK answers it (API 5.199): wall.getById, photos.getById,
market.getById here; video.get's `videos` and board.getTopics' `topic_ids` filters in methods.py.

The emulator's photos, videos and goods have no picture of their own, so each is given the address VK's
image servers would use, derived from its id; a post has the attachments it was created with.
"""

from __future__ import annotations

from typing import Any

from .community import Group, Target
from .methods import Call, _comment_count, method
from .targets_by_id import image_sizes, wanted


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
