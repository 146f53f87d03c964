"""The Callback API endpoint: ``POST /callback/vk/{group_id}``.

The handler checks what VK sent before anything is stored: size, envelope, community, confirmation,
secret. It hands the normalized event to a :class:`CallbackSink` (the core's ingest) and answers
``ok`` only once the sink returns, that is once the event is committed. Anything that stops the sink
from storing the event is answered 503, so VK delivers it again later; ``ok`` is never sent for an
event that was not stored.

The body is read in full whatever pieces it arrives in (VK's requests cross the internet), chunked
transfer encoding included: up to a size limit (413 past it, without reading further) and within a
time limit (408 for a sender that stalls).

A refused request (400, 403, 404) writes nothing and is answered only after a delay: a sender of
wrong secrets that waits for each answer, as HTTP clients do, then sends at most one a second per
connection. Without the delay 48 such senders kept one core busy with refusals (some 2,800 a second)
and valid callbacks waited behind them. The wait costs the server almost nothing (no body is kept)
and changes nothing for VK's valid deliveries, which are never refused.

The connector knows nothing of the store: the sink looks communities up and stores events.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

# The sink's side and the limits are the connector interface's; named here too for the callers.
from proxy.connectors.base import (
    CALLBACK_READ_SECONDS,
    CALLBACK_REFUSAL_DELAY,
    MAX_CALLBACK_BYTES,
    CallbackSink,
    CallbackTarget,
    Handler,
)
from proxy.connectors.webhook import TooLarge, closing, read_body, text_answer

from .callback import BadCallback, is_confirmation, parse_callback_body, secret_matches
from .normalize import MalformedEvent, normalize

__all__ = [
    "CALLBACK_READ_SECONDS",
    "CALLBACK_REFUSAL_DELAY",
    "CallbackSink",
    "CallbackTarget",
    "make_callback_handler",
]

log = logging.getLogger(__name__)

# The answers that are refusals of what was sent (413 and 408 close the connection instead).
_REFUSED = frozenset({400, 403, 404})


def make_callback_handler(
    sink: CallbackSink,
    *,
    max_bytes: int = MAX_CALLBACK_BYTES,
    read_seconds: float = CALLBACK_READ_SECONDS,
    refusal_delay: float = CALLBACK_REFUSAL_DELAY,
) -> Handler:
    """The aiohttp handler for ``POST /callback/vk/{group_id}``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await answer(request)
        if response.status in _REFUSED and refusal_delay > 0:
            # The body and everything parsed from it went with answer()'s frame: waiting holds nothing.
            await asyncio.sleep(refusal_delay)
        return response

    async def answer(request: web.Request) -> web.Response:
        try:
            path_group = int(request.match_info["group_id"])
        except ValueError:
            sink.rejected("unknown_group")
            return text_answer(404, "unknown community")
        try:
            async with asyncio.timeout(read_seconds):
                body = await read_body(request, max_bytes)
        except TooLarge:
            sink.rejected("too_large")
            return closing(text_answer(413, f"body larger than {max_bytes} bytes"))
        except TimeoutError:
            sink.rejected("read_timeout")
            return closing(text_answer(408, f"body not received within {read_seconds:g} s"))
        try:
            payload = parse_callback_body(body, max_bytes)
        except BadCallback as exc:
            sink.rejected("bad_body")
            return text_answer(400, exc.reason)
        if payload["group_id"] != path_group:
            sink.rejected("bad_body")
            return text_answer(400, "group_id does not match the URL")
        try:
            target = await sink.target(path_group)
        except Exception:
            log.exception("callback for group %s: cannot look the community up", path_group)
            return text_answer(503, "temporarily unavailable")
        if target is None:
            sink.rejected("unknown_group")
            return text_answer(404, "unknown community")
        if is_confirmation(payload):
            return text_answer(200, target.confirmation)
        if not secret_matches(target.secret, payload.get("secret")):
            sink.rejected("bad_secret")
            sink.bad_secret(target, request.remote)
            return text_answer(403, "forbidden")
        try:
            event = normalize(payload)
        except MalformedEvent as exc:
            sink.rejected("bad_body")
            return text_answer(400, exc.reason)
        try:
            await sink.accept(target, payload, event)
        except Exception:
            # Not stored: VK must deliver it again.
            log.exception("callback for group %s: event %s not stored", path_group, event.event_id)
            return text_answer(503, "temporarily unavailable")
        return text_answer(200, "ok")

    return handle
