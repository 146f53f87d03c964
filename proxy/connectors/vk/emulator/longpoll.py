"""Bots Long Poll server of the emulator: `GET {server}?act=a_check&key=K&ts=T&wait=W`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from .keys import HUB_KEY, STATE_KEY
from .state import EmulatorState, Group

MAX_WAIT = 90


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class LongPollHub:
    """Wakes held a_check requests of a community as soon as it gets an event."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}

    def open(self) -> None:
        """Start listening to the state's events."""
        self.state.add_listener(self._on_event)

    def close(self) -> None:
        """Stop listening to the state and release every held request."""
        self.state.remove_listener(self._on_event)
        for waiters in self._waiters.values():
            for future in waiters:
                future.get_loop().call_soon_threadsafe(_wake, future)

    def _on_event(self, group: Group, event: dict[str, Any]) -> None:
        # Events may be produced from another thread (a scenario driven by a test); hand over safely.
        for future in list(self._waiters.get(group.id, ())):
            future.get_loop().call_soon_threadsafe(_wake, future)

    async def wait(self, group_id: int, seconds: float) -> None:
        """Return when the community gets an event or after `seconds`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(group_id, set())
        waiters.add(future)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, seconds)
        finally:
            waiters.discard(future)


async def handle_a_check(request: web.Request) -> web.Response:
    """Answer like VK's long-poll server: updates, or `failed` 1 (ts lost), 2 (key expired), 3 (both)."""
    state = request.app[STATE_KEY]
    try:
        group = state.groups[int(request.match_info["group_id"])]
    except (KeyError, ValueError):
        raise web.HTTPNotFound() from None
    query = request.query
    if query.get("act") != "a_check" or query.get("key") != group.longpoll_key:
        return web.json_response({"failed": 2})
    injected = state.faults.take_longpoll(group.id)
    if injected == 1:
        # History "lost": the client continues from now on and must catch up on the gap itself.
        return web.json_response({"failed": 1, "ts": group.next_ts})
    if injected in (2, 3):
        state.expire_longpoll_key(group.id)
        return web.json_response({"failed": injected})
    try:
        ts = int(query.get("ts", ""))
    except ValueError:
        return web.json_response({"failed": 1, "ts": group.next_ts})
    if ts < group.first_ts() or ts > group.next_ts:
        # VK answers a ts it no longer (or never) had with failed 1 and a ts to continue from; as in
        # VK's sample, that ts is a number while a normal answer's ts is a string.
        return web.json_response({"failed": 1, "ts": group.next_ts})
    try:
        wait = min(max(int(query.get("wait", "25")), 0), MAX_WAIT)
    except ValueError:
        wait = 25
    updates = group.events_since(ts)
    if not updates and wait > 0:
        await request.app[HUB_KEY].wait(group.id, wait)
        if query.get("key") != group.longpoll_key:
            return web.json_response({"failed": 2})
        updates = group.events_since(ts)
    return web.json_response({"ts": str(ts + len(updates)), "updates": updates})
