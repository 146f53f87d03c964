"""Live updates: domain events fanned out to every open inbox and conversation page, on every instance.

On SQLite (one process serves) `publish` delivers in-process. On PostgreSQL, once `listening()` runs,
`publish` sends `NOTIFY proxy_live, '<json>'` and every instance (this one included) LISTENs on a
dedicated asyncpg connection and delivers what it hears to its own subscribers, so an update made on
one instance reaches the pages served by all of them.

Presence ("Anna is also here") rides on the same channel as `presence_changed` messages; every instance
keeps the resulting registry in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 256
CHANNEL = "proxy_live"
PRESENCE_CHANGED = "presence_changed"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_NOTIFY_BYTES = 7900


@dataclass(frozen=True)
class LiveMessage:
    """One update: `name` is the domain event name (also the SSE event name), `data` is JSON-able."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Viewer:
    """One open conversation page: who has it open."""

    key: str
    operator_id: int
    name: str


def asyncpg_dsn(database_url: str) -> str:
    """The database URL as asyncpg takes it (tortoise's own query options removed)."""
    parts = urlsplit(database_url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


class LiveHub:
    """Publish updates after their transaction commits; subscribers receive them in order."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[LiveMessage]] = set()
        self._connection: Any = None  # the LISTEN connection, on PostgreSQL
        self._notify_lock = asyncio.Lock()
        self._viewers: dict[int, dict[str, Viewer]] = {}

    async def publish(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Send an update to every subscriber of every instance. Call after the change has committed."""
        message = LiveMessage(name, data or {})
        if self._connection is None:
            self.deliver_locally(message)
            return
        payload = _encode(message)
        try:
            async with self._notify_lock:  # one asyncpg connection runs one statement at a time
                await self._connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except Exception:  # a lost listener connection must not fail the action that published
            log.exception("NOTIFY failed; delivering %s on this instance only", name)
            self.deliver_locally(message)

    def deliver_locally(self, message: LiveMessage) -> None:
        if message.name == PRESENCE_CHANGED:
            self._apply_presence(message.data)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # A stalled client must not hold the others back; it reloads to catch up.
                log.warning("dropping a live update for a subscriber that is not reading")

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[LiveMessage]]:
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- PostgreSQL fan-out ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def listening(self, database_url: str) -> AsyncIterator[None]:
        """LISTEN for updates from every instance while the block runs (a no-op on SQLite)."""
        if database_url.startswith("sqlite"):
            yield
            return
        import asyncpg  # only PostgreSQL deployments need it here

        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        await connection.add_listener(CHANNEL, self._on_notify)
        self._connection = connection
        try:
            yield
        finally:
            self._connection = None
            with contextlib.suppress(Exception):  # closing a broken connection may raise; nothing to do
                await connection.remove_listener(CHANNEL, self._on_notify)
            await connection.close()

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            raw = json.loads(payload)
            message = LiveMessage(str(raw["name"]), dict(raw.get("data") or {}))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed live update: %.200s", payload)
            return
        self.deliver_locally(message)

    # --- presence ----------------------------------------------------------------------------

    async def enter(self, conversation_id: int, viewer: Viewer) -> None:
        """Announce that `viewer` has the conversation open."""
        await self.publish(PRESENCE_CHANGED, _presence_data(conversation_id, viewer, here=True))

    async def leave(self, conversation_id: int, viewer: Viewer) -> None:
        """Announce that `viewer` closed the conversation page."""
        await self.publish(PRESENCE_CHANGED, _presence_data(conversation_id, viewer, here=False))

    def viewers(self, conversation_id: int) -> list[Viewer]:
        """Everyone who has the conversation open, on any instance, in arrival order."""
        return list(self._viewers.get(conversation_id, {}).values())

    def _apply_presence(self, data: dict[str, Any]) -> None:
        try:
            conversation_id = int(data["conversation_id"])
            viewer = Viewer(str(data["viewer"]), int(data["operator_id"]), str(data.get("name", "")))
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring a malformed presence update: %r", data)
            return
        here = self._viewers.setdefault(conversation_id, {})
        if data.get("here"):
            here[viewer.key] = viewer
        else:
            here.pop(viewer.key, None)
            if not here:
                del self._viewers[conversation_id]


def _presence_data(conversation_id: int, viewer: Viewer, *, here: bool) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "viewer": viewer.key,
        "operator_id": viewer.operator_id,
        "name": viewer.name,
        "here": here,
    }


def _encode(message: LiveMessage) -> str:
    payload = json.dumps({"name": message.name, "data": message.data}, ensure_ascii=False, default=str)
    if len(payload.encode()) <= MAX_NOTIFY_BYTES:
        return payload
    # Too big for NOTIFY: keep the ids, which is all a page needs to know what to refresh.
    ids = {k: v for k, v in message.data.items() if k.endswith("_id") and isinstance(v, int | str)}
    log.warning("live update %s too large for NOTIFY; sending its ids only", message.name)
    return json.dumps({"name": message.name, "data": ids}, default=str)
