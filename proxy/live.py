"""Live updates: domain events fanned out to every open inbox and conversation page.

This is the in-process hub (enough for SQLite, where one process serves). Across several instances on
PostgreSQL the same interface is backed by LISTEN/NOTIFY (see `LiveHub.start`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 256


@dataclass(frozen=True)
class LiveMessage:
    """One update: `name` is the domain event name (also the SSE event name), `data` is JSON-able."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


class LiveHub:
    """Publish updates after their transaction commits; subscribers receive them in order."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[LiveMessage]] = set()

    async def publish(self, name: str, data: dict[str, Any] | None = None) -> None:
        self.deliver_locally(LiveMessage(name, data or {}))

    def deliver_locally(self, message: LiveMessage) -> None:
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
