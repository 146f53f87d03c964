"""Commentable objects named by id in a call ("-1_2,-1_3", or "2,3"), and the picture VK's image servers
would give the ones that have none in the emulator. Used by the methods reading objects by id
(vk_emulator/parents.py, and video.get and board.getTopics in methods.py).
"""

from __future__ import annotations

from typing import Any

from .community import Target
from .vk_basics import CommentKind

MAX_IDS = 100


def wanted(call: Any, param: str, kind: CommentKind, *, with_owner: bool = True) -> list[Target] | None:
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
