"""Callback API bodies for the load: the shapes of the real VK samples, each with its own event_id."""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vk"  # the tests' VK samples
API_VERSION = "5.199"
PEERS = 5_000  # distinct authors: new conversations and repeat writers both occur


@cache
def _sample(name: str) -> dict[str, Any]:
    """One event from a sample file (a Long Poll response holds it as updates[0])."""
    data = json.loads((SAMPLES_DIR / name).read_text())
    return data["updates"][0] if "updates" in data else data


def callback_body(index: int, group_id: int, secret: str, *, run: str = "", peer: int | None = None) -> bytes:
    """Event number `index`: four in five are message_new, the fifth a wall_reply_new comment.

    With `peer` given the event is always a message_new from that peer (a dialog of its own).
    """
    if peer is None:
        peer = 300_000_000 + index % PEERS
        is_comment = index % 5 == 4
    else:
        is_comment = False
    now = int(time.time())
    if is_comment:
        event = copy.deepcopy(_sample("wall_reply_new-1.json"))
        obj = event["object"]
        obj.update(id=1_000_000 + index, from_id=peer, post_id=1 + index % 50, owner_id=-group_id, date=now)
        obj["post_owner_id"] = -group_id
        obj["text"] = f"Комментарий {index}: когда будет доставка?"
    else:
        event = copy.deepcopy(_sample("message_new-1.json"))
        message = event["object"]["message"]
        message.update(
            date=now, from_id=peer, peer_id=peer, id=2_000_000 + index, conversation_message_id=index + 1
        )
        message["text"] = f"Сообщение {index}: здравствуйте, где мой заказ?"
    event.update(group_id=group_id, event_id=f"bench{run}{index:09d}", v=API_VERSION, secret=secret)
    return json.dumps(event, ensure_ascii=False).encode()


def reply_body(index: int, group_id: int, secret: str, *, run: str = "") -> bytes:
    """Event number `index`: a message_reply an admin wrote directly in VK (each one a `vk.reply` journal
    entry), to one of PEERS dialogs, never matching an outbox row (random_id 0)."""
    peer = 300_000_000 + index % PEERS
    event = copy.deepcopy(_sample("message_reply-1.json"))
    message = event["object"]
    message.update(
        date=int(time.time()),
        from_id=-group_id,
        peer_id=peer,
        id=5_000_000 + index,
        conversation_message_id=index + 1,
        admin_author_id=400_000_000 + index % 7,
    )
    message["text"] = f"Ответ {index}: заказ передан в доставку, трек пришлём сегодня"
    event.update(group_id=group_id, event_id=f"reply{run}{index:09d}", v=API_VERSION, secret=secret)
    return json.dumps(event, ensure_ascii=False).encode()
