"""What a comment conversation hangs on (a post, photo, video, product or board topic), for the
conversation page: its text, first image, date and address on the network.

A parent comes from the events that carry it whole (the connector's `parent_of_post`: VK's
wall_post_new), recorded by ingest in the event's transaction, or else is fetched once from the network
(`CommunityClient.parents`) by a background worker, never on a page's request: the page records that it
wants it (a "pending" row) and shows a placeholder with the link until then; pages open on it are pushed
the result (`conversation_updated`). A fetch that fails is tried
again after a wait that doubles (`RETRY_SECONDS` up to `MAX_RETRY_SECONDS`), so pages opened meanwhile
ask nothing of the network; a parent the network no longer has is "missing" for good.

Rows live in `thread_parent` (migration 0012), written here only, in SQL for both databases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from proxy.communities import MissingToken, admin_token, community_token
from proxy.connectors.base import CommunityClient, NetworkError, Parent, ParentRef
from proxy.connectors.registry import Connections, connector_for
from proxy.db.sql import SqlQuery
from proxy.live import LiveHub
from proxy.models import Channel, Community, Conversation
from proxy.networks import community_account, connections
from proxy.settings import Settings

log = logging.getLogger(__name__)

# Parents asked about per round, and how long the worker sleeps when nothing is due.
PER_ROUND = 100
INTERVAL_SECONDS = 5.0
RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
MAX_TEXT = 20_000
# Conversations under one parent pushed again when it is loaded, at most.
PUSHED_CONVERSATIONS = 20
State = Literal["pending", "loaded", "missing"]
_COMMENTED = frozenset({Channel.WALL, Channel.PHOTO, Channel.VIDEO, Channel.MARKET, Channel.BOARD})


@dataclass(frozen=True)
class ParentView:
    """A conversation's parent as the page shows it; `state` "pending" until it is loaded."""

    channel: str
    state: State
    url: str
    text: str = ""
    image_url: str = ""
    posted_at: datetime | None = None


def parent_key(ref: ParentRef) -> str:
    return f"{ref.channel}:{ref.owner_id}_{ref.object_id}"


def ref_of(conversation: Conversation) -> ParentRef | None:
    """What a comment conversation hangs on; None for a dialog (or a thread without its address)."""
    if conversation.channel not in _COMMENTED:
        return None
    if conversation.vk_owner_id is None or conversation.vk_object_id is None:
        return None
    return ParentRef(
        channel=Channel(conversation.channel).value,
        owner_id=conversation.vk_owner_id,
        object_id=conversation.vk_object_id,
    )


def _epoch(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


def _instant(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None


async def _upsert_loaded(community: Community, parent: Parent, conn: Any = None) -> None:
    q = SqlQuery(conn)
    now = time.time()
    values = {
        "community_id": community.id,
        "key": parent_key(parent.ref),
        "channel": parent.ref.channel,
        "owner_id": parent.ref.owner_id,
        "object_id": parent.ref.object_id,
        "state": "loaded",
        "text": parent.text[:MAX_TEXT],
        "image_url": parent.image_url[:1024],
        "posted_at": _epoch(parent.posted_at),
        "url": connector_for(community.network).parent_url(parent.ref)[:1024],
        "attempts": 0,
        "next_attempt_at": now,
        "updated_at": now,
    }
    placeholders = ", ".join(q.p(v) for v in values.values())
    changed = ("state", "text", "image_url", "posted_at", "url", "attempts", "next_attempt_at", "updated_at")
    await q.execute(
        f"INSERT INTO thread_parent ({', '.join(values)}) VALUES ({placeholders}) "
        "ON CONFLICT (community_id, key) DO UPDATE SET "
        + ", ".join(f"{name} = EXCLUDED.{name}" for name in changed)
    )


async def record_from_event(community: Community, event: Any, conn: Any) -> bool:
    """Store the parent an event carries whole (ingest, in the event's transaction); whether it did."""
    parent = connector_for(community.network).parent_of_post(event)
    if parent is None:
        return False
    await _upsert_loaded(community, parent, conn)
    return True


async def parent_for(conversation: Conversation) -> ParentView | None:
    """The parent of a comment conversation as stored, or a pending placeholder (recorded, so that the
    worker fetches it); None for a dialog. Reads and at most inserts one row: never calls the network."""
    ref = ref_of(conversation)
    if ref is None:
        return None
    community = conversation.community
    url = connector_for(community.network).parent_url(ref)
    q = SqlQuery()
    key = q.p(parent_key(ref))
    rows = await q.rows(
        "SELECT state, text, image_url, posted_at, url FROM thread_parent "
        f"WHERE community_id = {q.p(community.id)} AND key = {key}"
    )
    if rows:
        row = rows[0]
        return ParentView(
            channel=ref.channel,
            state=row["state"],
            url=row["url"] or url,
            text=row["text"],
            image_url=row["image_url"],
            posted_at=_instant(row["posted_at"]),
        )
    await want(community, ref)
    return ParentView(channel=ref.channel, state="pending", url=url)


async def want(community: Community, ref: ParentRef) -> None:
    """Ask for the parent to be fetched (a pending row, due now), unless it is already known."""
    q = SqlQuery()
    now = time.time()
    values = {
        "community_id": community.id,
        "key": parent_key(ref),
        "channel": ref.channel,
        "owner_id": ref.owner_id,
        "object_id": ref.object_id,
        "state": "pending",
        "url": connector_for(community.network).parent_url(ref)[:1024],
        "attempts": 0,
        "next_attempt_at": now,
        "updated_at": now,
    }
    placeholders = ", ".join(q.p(v) for v in values.values())
    await q.execute(
        f"INSERT INTO thread_parent ({', '.join(values)}) VALUES ({placeholders}) "
        "ON CONFLICT (community_id, key) DO NOTHING"
    )


def _reader(settings: Settings, opened: Connections, community: Community) -> CommunityClient:
    """The community's client with every token it has: the connector picks the one its network serves
    these reads to (MissingToken when it has none)."""
    tokens: dict[str, str] = {}
    for name, decrypt in (("community_token", community_token), ("admin_token", admin_token)):
        try:
            tokens[name] = decrypt(settings, community)
        except MissingToken:
            continue
    if not tokens:
        raise MissingToken(f"community {community.name} has no token to read what its comments are under")
    return opened.community(community.network, community_account(community, **tokens))


def retry_delay(attempts: int) -> float:
    """How long to wait after the `attempts`-th failed fetch."""
    return min(RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


async def _failed(ids: list[int], now: float) -> None:
    for row_id in ids:
        q = SqlQuery()
        rows = await q.rows(f"SELECT attempts FROM thread_parent WHERE id = {q.p(row_id)}")
        attempts = int(rows[0]["attempts"]) + 1 if rows else 1
        q = SqlQuery()
        await q.execute(
            f"UPDATE thread_parent SET attempts = {q.p(attempts)}, "
            f"next_attempt_at = {q.p(now + retry_delay(attempts))}, updated_at = {q.p(now)} "
            f"WHERE id = {q.p(row_id)} AND state = 'pending'"
        )


async def _push(live: LiveHub | None, community: Community, refs: list[ParentRef]) -> None:
    """The conversations under these parents (the most recently active ones) are published as changed, so
    pages open on them get their header, with the parent, again. Whether anyone has one open is not
    asked: a page read before the fetch ended and whose stream opens after it is replayed the change."""
    if live is None:
        return
    for ref in refs:
        ids = (
            await Conversation.filter(
                community_id=community.id,
                channel=ref.channel,
                vk_owner_id=ref.owner_id,
                vk_object_id=ref.object_id,
            )
            .order_by("-last_item_at", "-id")
            .limit(PUSHED_CONVERSATIONS)
            .values_list("id", flat=True)
        )
        for conversation_id in ids:
            await live.publish(
                "conversation_updated", {"community_id": community.id, "conversation_id": conversation_id}
            )


async def fetch_due(
    settings: Settings,
    *,
    opened: Connections | None = None,
    now: float | None = None,
    live: LiveHub | None = None,
) -> int:
    """Fetch the pending parents that are due, one community at a time; how many were asked about.
    With `live`, pages open on their conversations are pushed the result."""
    now = time.time() if now is None else now
    q = SqlQuery()
    due = await q.rows(
        "SELECT id, community_id, channel, owner_id, object_id FROM thread_parent "
        f"WHERE state = 'pending' AND next_attempt_at <= {q.p(now)} ORDER BY next_attempt_at, id LIMIT {PER_ROUND}"
    )
    if not due:
        return 0
    by_community: dict[int, list[dict[str, Any]]] = {}
    for row in due:
        by_community.setdefault(int(row["community_id"]), []).append(row)
    async with connections(settings, opened) as current:
        for community_id, rows in by_community.items():
            community = await Community.get(id=community_id)
            ids = [int(row["id"]) for row in rows]
            refs = {
                parent_key(ref): (int(row["id"]), ref)
                for row in rows
                for ref in [
                    ParentRef(channel=row["channel"], owner_id=row["owner_id"], object_id=row["object_id"])
                ]
            }
            try:
                found = await _reader(settings, current, community).parents([r for _, r in refs.values()])
            except (NetworkError, MissingToken) as exc:
                log.warning(
                    "thread parents: fetch for community %s failed, will retry: %s", community_id, exc
                )
                await _failed(ids, now)
                continue
            settled = [ref for _, ref in refs.values()]
            for parent in found:
                await _upsert_loaded(community, parent)
                refs.pop(parent_key(parent.ref), None)
            for row_id, _ in refs.values():
                q = SqlQuery()
                await q.execute(
                    f"UPDATE thread_parent SET state = 'missing', updated_at = {q.p(now)} "
                    f"WHERE id = {q.p(row_id)} AND state = 'pending'"
                )
            await _push(live, community, settled)
    return len(due)


async def keep_parents_fetched(
    settings: Settings, opened: Connections, wakeup: asyncio.Event, live: LiveHub | None = None
) -> None:
    """Fetch due parents round after round, forever (the runtime runs it while workers are on); a page
    that wants a parent sets `wakeup` so the fetch starts at once."""
    while True:
        try:
            asked = await fetch_due(settings, opened=opened, live=live)
        except Exception:
            log.exception("thread parents: round failed, will retry")
            asked = 0
        if asked < PER_ROUND:
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), INTERVAL_SECONDS)
            except TimeoutError:
                pass
