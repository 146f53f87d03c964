"""The webhook endpoint: ``POST /callback/telegram/{bot_id}``.

`bot_id` is the number before the colon of the bot's token. Telegram sends the secret given to
``setWebhook`` in the ``X-Telegram-Bot-Api-Secret-Token`` header: it is checked before the body is read,
and a request without it, or with another, is answered 403 and writes nothing. The body (one Update) is
read whatever pieces it arrives in, within the size and time limits every webhook has, normalized, and
handed to the sink; "ok" is answered only once every event of the update is stored. Anything that stops
that is answered 503, and Telegram delivers the update again; its ``update_id`` (the raw event's key,
``tg:{update_id}``) makes the second delivery change nothing.

Refusals wait before their answer, as VK's endpoint says why (proxy/connectors/vk/endpoint.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from proxy.connectors.base import CallbackSink, Handler, InboundLimits
from proxy.connectors.webhook import TooLarge, closing, read_body, text_answer

from .normalize import MalformedEvent, normalize_all

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_REFUSED = frozenset({400, 403, 404})
_INT64_MAX = 2**63 - 1


def secret_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison; a bot registered without a secret accepts nothing."""
    if not expected or given is None:
        return False
    # aiohttp keeps a header's bytes that are not UTF-8 as lone surrogates; "surrogateescape" gives the
    # bytes back as received (a plain encode() would raise on them, and the request would answer 500).
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def parse_update(body: bytes) -> dict[str, Any]:
    """The Update a body holds; MalformedEvent when it is not one."""
    try:
        update = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise MalformedEvent("the body is not JSON") from None
    if not isinstance(update, dict):
        raise MalformedEvent("the body is not a Telegram update")
    update_id = update.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id <= _INT64_MAX:
        raise MalformedEvent("the update has no usable update_id")
    return update


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def make_webhook_handler(sink: CallbackSink, limits: InboundLimits) -> Handler:
    """The aiohttp handler of the bots' webhook."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await answer(request)
        if response.status in _REFUSED and limits.refusal_delay > 0:
            await asyncio.sleep(limits.refusal_delay)
        return response

    async def answer(request: web.Request) -> web.Response:
        raw_id = request.match_info["group_id"]
        if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18):
            sink.rejected("unknown_group")
            return text_answer(404, "unknown bot")
        bot_id = int(raw_id)
        try:
            target = await sink.target(bot_id)
        except Exception:
            log.exception("webhook of bot %s: cannot look the bot up", bot_id)
            return text_answer(503, "temporarily unavailable")
        if target is None:
            sink.rejected("unknown_group")
            return text_answer(404, "unknown bot")
        if not secret_matches(target.secret, request.headers.get(SECRET_HEADER)):
            sink.rejected("bad_secret")
            sink.bad_secret(target, request.remote)
            return closing(text_answer(403, "forbidden"))
        try:
            async with asyncio.timeout(limits.read_seconds):
                body = await read_body(request, limits.max_bytes)
        except TooLarge:
            sink.rejected("too_large")
            return closing(text_answer(413, f"body larger than {limits.max_bytes} bytes"))
        except TimeoutError:
            sink.rejected("read_timeout")
            return closing(text_answer(408, f"body not received within {limits.read_seconds:g} s"))
        try:
            update = parse_update(body)
            events = normalize_all(bot_id, update)
        except MalformedEvent as exc:
            sink.rejected("bad_body")
            return text_answer(400, exc.reason)
        try:
            for event in events:
                await sink.accept(target, update, event)
        except Exception:
            log.exception("webhook of bot %s: update %s not stored", bot_id, update["update_id"])
            return text_answer(503, "temporarily unavailable")
        return text_answer(200, "ok")

    return handle
