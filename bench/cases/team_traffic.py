"""The live team case's customer traffic: the seeded conversations, and each level's events built ahead.

Two communities, `SEED_CONVERSATIONS` open conversations between them: dialogs, and wall comment
threads that get replies. A few of them are hot (most of the traffic into existing conversations goes
there, Zipf-like): the conversation pages of the pages level are open on them.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import aiohttp

from bench.dataset import BENCH_GROUP_ID, BENCH_SECRET, SECOND_GROUP_ID
from bench.events import API_VERSION, SAMPLES_DIR, callback_body

GROUPS = (BENCH_GROUP_ID, SECOND_GROUP_ID)
SEED_CONVERSATIONS = 2_000  # open conversations, half in each community
SEED_THREADS = 20  # of them wall comment threads, per community; the rest are dialogs
HOT_DIALOGS = 15  # per community: the dialogs most messages go to
HOT_THREADS = 5  # per community: the threads most replies go to
HOT_SHARE = 0.75  # of the messages into existing dialogs, the share that goes to the hot ones
SEED_SENDERS = 32
SEED_PEER = 700_000_000
NEW_PEER = 710_000_000
THREAD_ROOT = 900_000
POST_ID = 77
AGE = 20  # an edit or deletion refers to an event sent at least this many events before it


def dialogs_per_community() -> int:
    return SEED_CONVERSATIONS // len(GROUPS) - SEED_THREADS


def thread_key(group_id: int, root: int) -> str:
    return f"wall:{-group_id}_{POST_ID}:{root}"


def hot_keys() -> list[tuple[int, str]]:
    """(group id, conversation key) of the hot conversations, the hottest first."""
    keys: list[tuple[int, str]] = []
    for rank in range(max(HOT_DIALOGS, HOT_THREADS)):
        for group in GROUPS:
            if rank < HOT_DIALOGS:
                keys.append((group, f"message:{SEED_PEER + rank}"))
            if rank < HOT_THREADS:
                keys.append((group, thread_key(group, THREAD_ROOT + rank)))
    return keys


@cache
def _sample(name: str) -> dict[str, Any]:
    data = json.loads((SAMPLES_DIR / name).read_text())
    return data["updates"][0] if "updates" in data else data


@dataclass
class Change:
    """One customer event: the conversation it changes and the text that shows the change."""

    index: int
    kind: str  # message, reply, comment, edit, delete
    group_id: int
    conversation_key: str
    marker: str | None  # the text the event adds (a message, comment or edit); None for a deletion
    body: bytes
    deleted_text: str | None = None  # a deletion: the text of the item it deletes
    whole_thread: bool = False  # a deletion of a thread's only comment: its wait ends
    sent: float = 0.0
    ok_at: float | None = None


def _envelope(event: dict[str, Any], group: int, tag: str) -> bytes:
    event.update(group_id=group, event_id=tag, v=API_VERSION, secret=BENCH_SECRET)
    return json.dumps(event, ensure_ascii=False).encode()


def message_event(group: int, peer: int, uid: int, text: str, tag: str) -> bytes:
    event = copy.deepcopy(_sample("message_new-1.json"))
    event["object"]["message"].update(date=int(time.time()), from_id=peer, peer_id=peer, id=3_000_000 + uid,
                                      conversation_message_id=uid, text=text)  # fmt: skip
    return _envelope(event, group, tag)


def comment_event(
    group: int, comment_id: int, author: int, text: str, tag: str, root: int | None = None
) -> bytes:
    event = copy.deepcopy(_sample("wall_reply_new-1.json"))
    obj = event["object"]
    obj.update(id=comment_id, from_id=author, post_id=POST_ID, owner_id=-group, post_owner_id=-group,
               date=int(time.time()), text=text, parents_stack=[] if root is None else [root])  # fmt: skip
    if root is not None:
        obj["reply_to_comment"] = root
    return _envelope(event, group, tag)


class Traffic:
    """The events of one level, built ahead so sending costs only the POST."""

    def __init__(self, level: int, count: int) -> None:
        self.changes: list[Change] = []
        self._rng = random.Random(level * 7919)
        self._zipf_dialogs = [1 / (k + 1) for k in range(HOT_DIALOGS)]
        self._zipf_threads = [1 / (k + 1) for k in range(HOT_THREADS)]
        # Per community, what this level sent that a later edit or deletion can refer to: (index, ...).
        messages: dict[int, list[tuple[int, int, int, str]]] = {g: [] for g in GROUPS}  # peer, cmid, text
        comments: dict[int, list[tuple[int, int, int, str]]] = {g: [] for g in GROUPS}  # id, author, text
        replies: dict[int, list[tuple[int, int, int, int, str]]] = {g: [] for g in GROUPS}  # id, author, root
        for i in range(count):
            group = GROUPS[(i + i // 20) % len(GROUPS)]  # both communities in every slot of the mix
            uid = level * 100_000 + i
            tag = f"team{level}x{i:07d}"
            marker = f"L{level}E{i} где заказ"
            slot = i % 20
            # An edit or deletion refers to an event sent at least AGE events earlier (stored by then).
            old = [m for m in messages[group] if m[0] <= i - AGE]
            if slot == 16 and old:  # the author edits their last message
                _, peer, cmid, _ = old[-1]
                self.changes.append(self._edit(i, group, peer, cmid, marker, tag))
            elif slot in (17, 18) and comments[group] and comments[group][0][0] <= i - AGE:  # a whole thread
                _, comment_id, author, text = comments[group].pop(0)
                self.changes.append(
                    self._delete(i, group, comment_id, author, thread_key(group, comment_id), text, tag)
                )
                self.changes[-1].whole_thread = True
            elif (
                slot == 19 and replies[group] and replies[group][0][0] <= i - AGE
            ):  # a reply in a busy thread
                _, reply_id, author, root, text = replies[group].pop(0)
                self.changes.append(
                    self._delete(i, group, reply_id, author, thread_key(group, root), text, tag)
                )
            elif slot < 10 or slot in (16, 17, 18, 19):  # into an existing dialog
                hot = self._rng.random() < HOT_SHARE
                rank = self._rng.choices(range(HOT_DIALOGS), self._zipf_dialogs)[0] if hot else None
                peer = SEED_PEER + (
                    rank if rank is not None else self._rng.randrange(dialogs_per_community())
                )
                body = message_event(group, peer, uid, marker, tag)
                self.changes.append(Change(i, "message", group, f"message:{peer}", marker, body))
                messages[group].append((i, peer, uid, marker))
            elif slot < 12:  # a reply in an existing (hot) wall thread
                root = THREAD_ROOT + self._rng.choices(range(HOT_THREADS), self._zipf_threads)[0]
                author = NEW_PEER + 60_000_000 + uid
                body = comment_event(group, uid, author, marker, tag, root)
                self.changes.append(Change(i, "reply", group, thread_key(group, root), marker, body))
                replies[group].append((i, uid, author, root, marker))
            elif slot < 14:  # a new dialog
                peer = NEW_PEER + uid
                body = message_event(group, peer, uid, marker, tag)
                self.changes.append(Change(i, "message", group, f"message:{peer}", marker, body))
                messages[group].append((i, peer, uid, marker))
            else:  # a new wall comment: a conversation of its own
                author = NEW_PEER + 50_000_000 + uid
                body = comment_event(group, uid, author, marker, tag)
                self.changes.append(Change(i, "comment", group, thread_key(group, uid), marker, body))
                comments[group].append((i, uid, author, marker))

    @staticmethod
    def _edit(i: int, group: int, peer: int, cmid: int, marker: str, tag: str) -> Change:
        event = copy.deepcopy(_sample("message_edit-1.json"))
        obj = event["object"]
        obj.pop("admin_author_id", None)
        now = int(time.time())
        obj.update(date=now, update_time=now, from_id=peer, peer_id=peer, out=0, id=3_000_000 + cmid,
                   conversation_message_id=cmid, text=marker)  # fmt: skip
        return Change(i, "edit", group, f"message:{peer}", marker, _envelope(event, group, tag))

    @staticmethod
    def _delete(i: int, group: int, comment_id: int, author: int, key: str, text: str, tag: str) -> Change:
        event = copy.deepcopy(_sample("wall_reply_delete-1.json"))
        event["object"].update(owner_id=-group, id=comment_id, deleter_id=author, post_id=POST_ID)
        return Change(i, "delete", group, key, None, _envelope(event, group, tag), deleted_text=text)


async def seed(base_urls: list[str]) -> float:
    """The open conversations, through the callback endpoint (as VK would have sent them); seconds taken."""
    started = time.perf_counter()
    bodies: list[tuple[int, bytes]] = []
    for group in GROUPS:
        for k in range(dialogs_per_community()):
            bodies.append(
                (group, callback_body(k, group, BENCH_SECRET, run=f"teamseed{group}", peer=SEED_PEER + k))
            )
        for k in range(SEED_THREADS):
            text = f"Комментарий {k}: когда будет доставка?"
            body = comment_event(group, THREAD_ROOT + k, NEW_PEER + 70_000_000 + k, text, f"teamseedwall{k}")
            bodies.append((group, body))
    semaphore = asyncio.Semaphore(SEED_SENDERS)

    async def one(n: int, group: int, body: bytes) -> None:
        async with (
            semaphore,
            session.post(f"{base_urls[n % len(base_urls)]}/callback/vk/{group}", data=body) as r,
        ):
            if await r.text() != "ok":
                raise RuntimeError(f"seeding: callback answered {r.status}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(one(n, group, body) for n, (group, body) in enumerate(bodies)))
    return time.perf_counter() - started
