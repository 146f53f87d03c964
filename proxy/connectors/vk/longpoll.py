"""The Bots Long Poll loop of one community: ``groups.getLongPollServer`` then ``a_check`` forever.

VK's answers (docs/architecture.md, "VK facts"): ``failed: 1`` means events were lost, so the loop takes
the new ``ts`` and asks for a catch-up sync; ``failed: 2`` means the key expired (get a new one, keep
``ts``); ``failed: 3`` means both were lost (new key and ``ts``, then catch up). Updates are handed to
a :class:`LongPollSink` batch by batch; the sink stores them and the ``ts`` after them, so a restart
resumes where the last stored batch ended. Network and VK errors back off (bounded) and retry;
an answer lost on the way (connection reset or closed, a body cut short, a timeout) leaves ``ts`` where
it was, so the same events are asked for again and dedupe absorbs any VK sends twice. Cancellation stops
the loop at once.

The connector knows nothing of the store: the sink does the storing and the catching up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import aiohttp

from proxy.connectors.base import LongPollSink
from proxy.events import DomainEvent

from .client import VkClient
from .normalize import MalformedEvent, normalize

__all__ = ["Backoff", "LongPollConsumer", "LongPollSink"]

log = logging.getLogger(__name__)

DEFAULT_WAIT = 25
DEFAULT_TIMEOUT_MARGIN = 15.0


class Backoff:
    """Exponential delays with jitter, from ``first`` up to ``cap`` seconds; reset after a success."""

    def __init__(self, first: float = 1.0, cap: float = 60.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self._next = self.first


class LongPollConsumer:
    """Runs the loop of one community until cancelled."""

    def __init__(
        self,
        client: VkClient,
        group_id: int,
        http: aiohttp.ClientSession,
        sink: LongPollSink,
        *,
        start_ts: str | None = None,
        wait: int = DEFAULT_WAIT,
        catch_up_at_start: bool = True,
        backoff: Backoff | None = None,
        timeout_margin: float = DEFAULT_TIMEOUT_MARGIN,
    ) -> None:
        self.client = client
        self.group_id = group_id
        self.http = http
        self.sink = sink
        self.ts = start_ts
        self.wait = wait
        self.backoff = backoff or Backoff()
        self.timeout_margin = timeout_margin
        self._key: str | None = None
        self._server: str | None = None
        self._take_new_ts = False
        self._catch_up: str | None = "start-up" if catch_up_at_start else None
        self.batches = 0

    async def run(self) -> None:
        """Poll until cancelled; errors are logged and retried after a bounded backoff."""
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = self.backoff.next()
                log.warning(
                    "long poll of group %s: %s: %s; retrying in %.1f s",
                    self.group_id,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def step(self) -> None:
        """One round: (re)connect if needed, catch up if asked, then one a_check."""
        if self._key is None:
            await self._connect()
        if self._catch_up is not None:
            await self.sink.catch_up(self._catch_up)
            self._catch_up = None
        await self._check()

    async def _connect(self) -> None:
        info = await self.client.call("groups.getLongPollServer", group_id=self.group_id)
        self._key = str(info["key"])
        self._server = str(info["server"])
        if self.ts is None or self._take_new_ts:
            self.ts = str(info["ts"])
            self._take_new_ts = False

    async def _check(self) -> None:
        assert self._server is not None and self._key is not None
        params = {"act": "a_check", "key": self._key, "ts": self.ts or "", "wait": str(self.wait)}
        # VK holds the request up to `wait` seconds; past that plus a margin the answer is not coming.
        timeout = aiohttp.ClientTimeout(total=self.wait + self.timeout_margin)
        async with self.http.get(self._server, params=params, timeout=timeout) as response:
            response.raise_for_status()
            data = await response.json(content_type=None)
        if not isinstance(data, dict):
            raise ValueError("the long-poll answer is not a JSON object")
        failed = data.get("failed")
        if failed is not None:
            self._on_failed(failed, data)
            return
        updates = data.get("updates")
        new_ts = data.get("ts")
        if not isinstance(updates, list) or new_ts is None:
            raise ValueError("the long-poll answer has no updates or ts")
        batch: list[tuple[dict[str, Any], DomainEvent]] = []
        for update in updates:
            try:
                batch.append((update, normalize(update)))
            except MalformedEvent as exc:
                log.warning(
                    "long poll of group %s: skipping an update that is not an event: %s",
                    self.group_id,
                    exc.reason,
                )
        await self.sink.handle(batch, str(new_ts))
        self.ts = str(new_ts)
        self.batches += 1
        self.backoff.reset()

    def _on_failed(self, failed: Any, data: dict[str, Any]) -> None:
        if failed == 1:
            log.info("long poll of group %s: events lost (failed 1), catching up", self.group_id)
            self.ts = str(data["ts"])
            self._catch_up = "history lost (failed 1)"
        elif failed == 2:
            log.info("long poll of group %s: key expired (failed 2)", self.group_id)
            self._key = None
        elif failed == 3:
            log.info("long poll of group %s: key and history lost (failed 3), catching up", self.group_id)
            self._key = None
            self._take_new_ts = True
            self._catch_up = "key and history lost (failed 3)"
        else:
            self._key = None
            raise ValueError(f"unknown long-poll failure {failed!r}")
