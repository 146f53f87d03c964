"""Inbound wiring: what the connectors hand events to, and the long-poll consumers' lifecycle.

- the Callback API route: the connector's endpoint with a sink that looks communities up (cached for
  a few seconds), counts bad secrets (proxy/refusals.py), ingests, and publishes to live subscribers once the event is
  committed and its "ok" answered;
- long-poll consumers (a cleanup context, when workers run): one loop per community in long-poll
  mode, and exactly one across instances: on PostgreSQL the loop runs only while this process holds
  the community's advisory lock, on a connection of its own; SQLite means one process, so no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from tortoise.signals import post_delete, post_save

from proxy import db, metrics, refusals
from proxy.appkeys import BACKGROUND, CONNECTIONS, LIVE, SETTINGS
from proxy.connectors.base import CallbackTarget, InboundLimits
from proxy.connectors.registry import CONNECTORS, Connections, connector_for
from proxy.events import DomainEvent
from proxy.ingest import IngestResult, Source, ingest
from proxy.live import LiveHub, asyncpg_dsn
from proxy.models import Community, CommunityMode, Network
from proxy.networks import community_client
from proxy.settings import Settings
from proxy.sync import sync_community

__all__ = ["LONGPOLL_LOCK_NAMESPACE", "setup_inbound", "supervise_longpoll"]

log = logging.getLogger(__name__)

# VK's Callback API route (the admin pages show a community's callback address).
CALLBACK_ROUTE = connector_for(Network.VK).callback_route
# pg_try_advisory_lock(namespace, community id): the namespace keeps these locks apart from others.
LONGPOLL_LOCK_NAMESPACE = 7_240_118
# How often the supervisor looks for long-poll communities without a running consumer (new ones, or
# ones whose leader instance went away).
RESCAN_SECONDS = 30.0
# How often a leader checks that its lock connection (and with it the lock) is still alive.
LOCK_CHECK_SECONDS = 15.0
# Seconds VK holds an a_check request open when there is nothing new (VK allows up to 90).
LONGPOLL_WAIT = 25
# How long a callback may use a community read earlier (a change made on another instance shows
# within this; one made on this instance, at once).
COMMUNITY_CACHE_SECONDS = 5.0


async def publish(live: LiveHub, result: IngestResult) -> None:
    """Tell live subscribers about an ingested event that changed something (after commit)."""
    if result.to_publish:
        await live.publish(result.name, result.live_data())


async def ingest_and_publish(
    live: LiveHub, community: Community, raw: dict[str, Any], event: DomainEvent, source: Source
) -> IngestResult:
    result = await ingest(community, raw, event, source=source)
    await publish(live, result)
    return result


class CommunityCache:
    """Communities of one network by their id on it, for its webhook, each kept for `ttl` seconds.

    Every callback needs its community (secret, confirmation string); reading it each time was one
    database round trip per event. A change saved through the ORM on this instance (admin pages,
    CLI) empties the cache at once; one made on another instance is seen here within `ttl`.
    """

    generation = 0  # bumped by every save or delete of a Community in this process

    def __init__(self, network: Network = Network.VK, ttl: float = COMMUNITY_CACHE_SECONDS) -> None:
        self.network = network
        self.ttl = ttl
        self._entries: dict[int, tuple[float, int, Community]] = {}

    async def get(self, group_id: int) -> Community | None:
        """The active community with this group id, or None (an absence is not cached)."""
        now = time.monotonic()
        entry = self._entries.get(group_id)
        if entry is not None and entry[0] > now and entry[1] == CommunityCache.generation:
            return entry[2]
        generation = CommunityCache.generation
        community = await Community.get_or_none(network=self.network, vk_group_id=group_id, is_active=True)
        if community is None:
            self._entries.pop(group_id, None)
        elif generation == CommunityCache.generation:
            # Not cached when a save happened during the read: it may have read the old row.
            self._entries[group_id] = (now + self.ttl, generation, community)
        return community


@post_save(Community)
@post_delete(Community)
async def _community_changed(*_: Any) -> None:
    CommunityCache.generation += 1


class StoreCallbackSink:
    """The endpoint's sink: communities from the database, events into ingest.

    Live subscribers hear of an event after VK has its "ok" (docs/architecture.md, "Inbound": commit, answer, publish):
    the publication runs in a task of its own, so the answer never waits for the NOTIFY, and the task
    is kept until it is done (`drain` awaits the ones still running when the app stops).
    """

    def __init__(self, app: web.Application, network: Network = Network.VK) -> None:
        self.app = app
        self.communities = CommunityCache(network)
        self._publishing: set[asyncio.Task[None]] = set()

    async def target(self, group_id: int) -> CallbackTarget | None:
        community = await self.communities.get(group_id)
        if community is None:
            return None
        return CallbackTarget(group_id, community.callback_secret, community.confirmation_code, community)

    def bad_secret(self, target: CallbackTarget, remote: str | None) -> None:
        # Counted, and journaled once a minute with the count: a flood of wrong secrets writes nothing.
        refusals.callback_refused(target.context.id, "bad_secret", remote)

    async def accept(self, target: CallbackTarget, raw: dict[str, Any], event: DomainEvent) -> None:
        result = await ingest(target.context, raw, event, source="callback")
        if result.to_publish:
            # Runs once this handler has returned and its "ok" is on the way.
            task = asyncio.create_task(self._publish(result), name=f"publish-{result.name}")
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)

    async def _publish(self, result: IngestResult) -> None:
        try:
            await publish(self.app[LIVE], result)
        except Exception:
            # LiveHub.publish falls back to this instance's subscribers itself; this is a last resort.
            log.exception("publishing %s to live subscribers failed", result.name)

    async def drain(self, _app: web.Application | None = None) -> None:
        """Wait for the publications still running (the app is stopping)."""
        while self._publishing:
            await asyncio.gather(*list(self._publishing), return_exceptions=True)

    def rejected(self, reason: str) -> None:
        metrics.CALLBACK_REJECTED.labels(reason).inc()


def setup_inbound(app: web.Application) -> None:
    """Each network's webhook route (the long-poll consumers start with the other workers: proxy/runtime/workers.py)."""
    settings = app[SETTINGS]
    limits = InboundLimits(
        max_bytes=settings.callback_max_bytes,
        read_seconds=settings.callback_read_seconds,
        refusal_delay=settings.callback_refusal_delay,
    )
    for connector in CONNECTORS.values():
        sink = StoreCallbackSink(app, connector.network)
        app.router.add_post(connector.callback_route, connector.callback_handler(sink, limits))
        # First of the cleanup callbacks (aiohttp runs the cleanup contexts' teardowns as one of them):
        # the last publications go out while the live hub's LISTEN connection is still open.
        app.on_cleanup.insert(0, sink.drain)


# --- long poll --------------------------------------------------------------------------------


class StoreLongPollSink:
    """The long-poll loop's sink: ingest each event, then remember the ts; catch up through sync."""

    def __init__(
        self, settings: Settings, live: LiveHub, community: Community, opened: Connections | None = None
    ) -> None:
        self.settings = settings
        self.live = live
        self.community = community
        self.connections = opened

    async def handle(self, batch: list[tuple[dict[str, Any], DomainEvent]], ts: str) -> None:
        for raw, event in batch:
            if event.group_id != self.community.vk_group_id:
                log.warning(
                    "long poll of group %s: ignoring an event of group %s",
                    self.community.vk_group_id,
                    event.group_id,
                )
                continue
            await ingest_and_publish(self.live, self.community, raw, event, "longpoll")
        # Only after the batch is stored: a restart resumes from here and dedupe absorbs repeats.
        await Community.filter(id=self.community.id).update(longpoll_ts=ts)
        self.community.longpoll_ts = ts

    async def catch_up(self, reason: str) -> None:
        log.info("long poll of group %s: catch-up sync (%s)", self.community.vk_group_id, reason)
        await sync_community(self.settings, self.community, live=self.live, opened=self.connections)


@contextlib.asynccontextmanager
async def community_leadership(
    settings: Settings, community_id: int
) -> AsyncIterator[asyncpg.Connection | None]:
    """Yields the lock connection if this process leads the community's long poll (PostgreSQL),
    None on SQLite (one process, always the leader); raises LookupError if another instance leads."""
    if not db.is_postgres():
        yield None
        return
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        locked = await conn.fetchval(
            "SELECT pg_try_advisory_lock($1::int, $2::int)", LONGPOLL_LOCK_NAMESPACE, community_id
        )
        if not locked:
            raise LookupError(f"another instance consumes community {community_id}")
        yield conn
    finally:
        # Closing the session releases the lock.
        await conn.close()


async def _watch_lock(conn: asyncpg.Connection | None) -> None:
    """Return when the lock connection dies (the lock is gone with it); never on SQLite."""
    if conn is None:
        await asyncio.Event().wait()
        return
    while True:
        await asyncio.sleep(LOCK_CHECK_SECONDS)
        try:
            await conn.fetchval("SELECT 1")
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.warning("long-poll lock connection lost (%s); stepping down", exc)
            return


async def consume_community(app: web.Application, community_id: int) -> None:
    """Run one community's long poll for as long as this process leads it."""
    settings = app[SETTINGS]
    try:
        async with community_leadership(settings, community_id) as lock_conn:
            community = await Community.get(id=community_id)
            client = community_client(settings, app[CONNECTIONS], community)
            sink = StoreLongPollSink(settings, app[LIVE], community, app[CONNECTIONS])
            async with aiohttp.ClientSession() as http:
                consumer = client.long_poll(sink, http, start_ts=community.longpoll_ts, wait=LONGPOLL_WAIT)
                app[BACKGROUND][f"longpoll:{community_id}"] = consumer
                loop_task = asyncio.create_task(consumer.run(), name=f"longpoll-{community.vk_group_id}")
                watch_task = asyncio.create_task(_watch_lock(lock_conn))
                try:
                    await asyncio.wait({loop_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (loop_task, watch_task):
                        task.cancel()
                    await asyncio.gather(loop_task, watch_task, return_exceptions=True)
                    app[BACKGROUND].pop(f"longpoll:{community_id}", None)
    except LookupError as exc:
        log.debug("%s", exc)
    except Exception:
        # The supervisor starts it again at its next scan.
        log.exception("long poll of community %s stopped", community_id)


async def supervise_longpoll(app: web.Application) -> None:
    """Keep one consumer per long-poll community running, rescanning every RESCAN_SECONDS, forever."""
    running: dict[int, asyncio.Task[None]] = {}
    try:
        while True:
            try:
                wanted = set(
                    await Community.filter(
                        mode=CommunityMode.LONGPOLL, is_active=True, community_token_enc__isnull=False
                    ).values_list("id", flat=True)
                )
            except Exception as exc:
                log.warning("long-poll supervisor: cannot list communities: %s", exc)
                wanted = set(running)
            for community_id, task in list(running.items()):
                if community_id not in wanted or task.done():
                    task.cancel()
                    del running[community_id]
            for community_id in wanted - set(running):
                running[community_id] = asyncio.create_task(
                    consume_community(app, community_id), name=f"longpoll-community-{community_id}"
                )
            await asyncio.sleep(RESCAN_SECONDS)
    finally:
        for task in running.values():
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
