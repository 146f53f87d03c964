"""Bots Long Poll server of the emulator: `GET {server}?act=a_check&key=K&ts=T&wait=W`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from aiohttp import web

from .keys import STATE_KEY
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


HUB_KEY: web.AppKey[LongPollHub] = web.AppKey("vk_emulator_longpoll_hub")


async def handle_a_check(request: web.Request) -> web.StreamResponse:
    """Answer like VK's long-poll server: updates, or `failed` 1 (ts lost), 2 (key expired), 3 (both);
    or misbehave as the fault plan says (faults.LongPollFault)."""
    state = request.app[STATE_KEY]
    try:
        group = state.groups[int(request.match_info["group_id"])]
    except (KeyError, ValueError):
        raise web.HTTPNotFound() from None
    query = request.query
    if query.get("act") != "a_check" or query.get("key") != group.longpoll_key:
        return web.json_response({"failed": 2})
    fault = state.faults.take_longpoll(group.id)
    if fault is not None and fault.failed == 1:
        # History "lost": the client continues from now on and must catch up on the gap itself.
        return web.json_response({"failed": 1, "ts": group.next_ts})
    if fault is not None and fault.failed in (2, 3):
        state.expire_longpoll_key(group.id)
        return web.json_response({"failed": fault.failed})
    answer = await _answer(request, group)
    if fault is None:
        return answer
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.http_status is not None:
        return web.Response(
            status=fault.http_status, text="<html><body>Bad Gateway</body></html>", content_type="text/html"
        )
    if fault.drop is not None:
        return await _lose(request, answer, fault.drop)
    return answer


async def _answer(request: web.Request, group: Group) -> web.Response:
    query = request.query
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


async def _lose(request: web.Request, answer: web.Response, how: str) -> web.StreamResponse:
    """Send `answer` the way a failing network would: not at all, reset, or cut in the middle."""
    transport = request.transport
    if how == "truncate":
        body = answer.body if isinstance(answer.body, bytes) else b""
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        if transport is not None:
            transport.close()
        return response
    if transport is not None:
        if how == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: closing sends RST instead of FIN, as a crashed middlebox would.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    # Nothing more reaches the client; aiohttp gives up writing to the closed transport.
    return web.Response()
