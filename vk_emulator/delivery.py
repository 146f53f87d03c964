"""Callback API delivery: POST every event of a community to its callback URL, the way VK does.

Only an HTTP 200 whose body is exactly `ok` acknowledges an event. Unacknowledged events are sent again
on a schedule with the `X-Retry-Counter` header, then given up. Duplicates of acknowledged events can
be sent on purpose, since real VK occasionally does.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .state import EmulatorState, Group

MAX_HISTORY = 10_000
# VK's documented retry delays, in seconds.
VK_RETRY_SCHEDULE: tuple[float, ...] = (10.0, 180.0, 600.0, 1800.0, 3600.0)


@dataclass
class DeliveryAttempt:
    """One POST of one event."""

    group_id: int
    event_id: str
    event_type: str
    retry: int
    duplicate: bool
    status: int | None
    body: str | None
    acknowledged: bool
    error: str | None = None
    at: float = field(default_factory=time.time)


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    group_id: int = field(compare=False)
    event: dict[str, Any] = field(compare=False)
    retry: int = field(compare=False, default=0)
    duplicate: bool = field(compare=False, default=False)


class CallbackDelivery:
    """Delivers events of communities that have a callback URL; start() it inside a running loop."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        retry_schedule: Sequence[float] = VK_RETRY_SCHEDULE,
        duplicate_rate: float = 0.0,
        rng: random.Random | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.state = state
        self.retry_schedule = tuple(retry_schedule)
        self.duplicate_rate = duplicate_rate
        self.rng = rng or random.Random()
        self.timeout = timeout
        # Bounded so a long-running demo emulator does not grow without limit.
        self.attempts: deque[DeliveryAttempt] = deque(maxlen=MAX_HISTORY)
        self.given_up: deque[dict[str, Any]] = deque(maxlen=MAX_HISTORY)
        self._heap: list[_Pending] = []
        self._seq = itertools.count()
        self._in_flight = 0
        # Events handed over from listeners but not yet queued on the loop.
        self._handed_over = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._idle: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Begin delivering events produced from now on."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Condition()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self.state.add_listener(self._on_event)
        self._task = asyncio.create_task(self._run(), name="vk-emulator-callback-delivery")

    async def stop(self) -> None:
        """Stop delivering; pending retries are dropped."""
        self.state.remove_listener(self._on_event)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def pending(self) -> int:
        """Events waiting to be (re)sent or being sent now."""
        return len(self._heap) + self._in_flight + self._handed_over

    async def wait_idle(self) -> None:
        """Wait until nothing is due or in flight; retries scheduled later count as pending.

        Wrap it in `asyncio.timeout(...)`: with a slow retry schedule this can take long.
        """
        assert self._idle is not None, "start() first"
        async with self._idle:
            await self._idle.wait_for(lambda: self.pending == 0)

    async def confirm(self, group_id: int) -> bool:
        """Send `{"type": "confirmation", "group_id": N}` and check the answer is the confirmation code."""
        group = self.state.group(group_id)
        if group.callback is None or self._session is None:
            return False
        payload: dict[str, Any] = {"type": "confirmation", "group_id": group.id}
        if group.callback.secret:
            payload["secret"] = group.callback.secret
        try:
            status, body = await self._post(group.callback.url, payload, {})
        except (aiohttp.ClientError, TimeoutError):
            return False
        return status == 200 and body == group.callback.confirmation_code

    # --- internals -------------------------------------------------------------------------

    def _on_event(self, group: Group, event: dict[str, Any]) -> None:
        if group.callback is None or self._loop is None:
            return
        item = _Pending(time.monotonic(), next(self._seq), group.id, event)
        self._handed_over += 1
        self._loop.call_soon_threadsafe(self._accept, item)

    def _accept(self, item: _Pending) -> None:
        self._handed_over -= 1
        self._push(item)

    def _push(self, item: _Pending) -> None:
        heapq.heappush(self._heap, item)
        assert self._wakeup is not None
        self._wakeup.set()

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._heap:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            delay = self._heap[0].due - time.monotonic()
            if delay > 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                continue
            item = heapq.heappop(self._heap)
            self._in_flight += 1
            try:
                await self._deliver(item)
            finally:
                self._in_flight -= 1
                await self._notify_idle()

    async def _notify_idle(self) -> None:
        assert self._idle is not None
        async with self._idle:
            self._idle.notify_all()

    async def _post(self, url: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
        assert self._session is not None
        data = json.dumps(payload, ensure_ascii=False).encode()
        async with self._session.post(
            url, data=data, headers={"Content-Type": "application/json", **headers}
        ) as response:
            return response.status, await response.text()

    async def _deliver(self, item: _Pending) -> None:
        group = self.state.groups.get(item.group_id)
        if group is None or group.callback is None:
            return
        payload = dict(item.event)
        if group.callback.secret:
            payload["secret"] = group.callback.secret
        headers = {"X-Retry-Counter": str(item.retry)} if item.retry else {}
        status: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            status, body = await self._post(group.callback.url, payload, headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        acknowledged = status == 200 and body == "ok"
        self.attempts.append(
            DeliveryAttempt(
                group.id,
                item.event["event_id"],
                item.event["type"],
                item.retry,
                item.duplicate,
                status,
                body,
                acknowledged,
                error,
            )
        )
        if acknowledged:
            if not item.duplicate and self.duplicate_rate and self.rng.random() < self.duplicate_rate:
                self._push(_Pending(time.monotonic(), next(self._seq), group.id, item.event, 0, True))
        elif item.retry < len(self.retry_schedule):
            due = time.monotonic() + self.retry_schedule[item.retry]
            self._push(_Pending(due, next(self._seq), group.id, item.event, item.retry + 1, item.duplicate))
        else:
            self.given_up.append(item.event)

    def acknowledged_event_ids(self, group_id: int | None = None) -> list[str]:
        """Event ids acknowledged so far (with repeats when duplicates were acknowledged)."""
        return [
            a.event_id
            for a in self.attempts
            if a.acknowledged and (group_id is None or a.group_id == group_id)
        ]
