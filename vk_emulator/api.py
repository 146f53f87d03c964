"""The emulator's aiohttp application: VK's `/method/{name}` API, the long-poll server and controls."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from . import control
from . import parents as _parents  # noqa: F401 (registers the methods reading objects by id)
from .delivery import VK_RETRY_SCHEDULE, CallbackDelivery
from .keys import DELIVERY_KEY, STATE_KEY
from .longpoll import HUB_KEY, LongPollHub, handle_a_check
from .methods import Call, dispatch
from .params import Params
from .state import CallRecord, EmulatorState, VkFault

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _error_envelope(fault: VkFault, method: str, raw: dict[str, str]) -> dict[str, Any]:
    # VK echoes the request parameters, minus the token, plus the method name and "oauth".
    echoed = [{"key": k, "value": v} for k, v in raw.items() if k != "access_token"]
    echoed += [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    return {"error": {"error_code": fault.code, "error_msg": fault.message, "request_params": echoed}}


async def _drop_connection(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.abort()
    # Nothing reaches the client; aiohttp gives up writing to the closed transport.
    return web.Response()


async def handle_method(request: web.Request) -> web.StreamResponse:
    """Answer a VK API call: `{"response": ...}` or VK's error envelope."""
    state = request.app[STATE_KEY]
    name = request.match_info["name"]
    raw: dict[str, str] = dict(request.query)
    if request.method == "POST":
        form = await request.post()
        raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    arrived = time.monotonic()
    record: CallRecord | None = None
    try:
        if not raw.get("v"):
            raise VkFault(8)
        token_value = raw.get("access_token", "")
        if not token_value:
            raise VkFault(5, "User authorization failed: no access_token passed.")
        token = state.tokens.get(token_value)
        if token is None:
            raise VkFault(5)
        over_limit = state.over_rate_limit(token, arrived)
        record = state.record_call(token.value, name, None, at=arrived, version=raw.get("v"))
        if over_limit:
            raise VkFault(6)
        fault = state.faults.take(name, token.value, raw)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return await _drop_connection(request)
            if fault.http_status is not None:
                return web.Response(
                    status=fault.http_status,
                    text="<html><body>Bad Gateway</body></html>",
                    content_type="text/html",
                )
            if fault.error_code is not None:
                raise VkFault(fault.error_code, fault.error_msg)
        base_url = str(request.url.origin())
        lose_answer = fault is not None and fault.lose_answer
        try:
            result = dispatch(Call(state, token, Params(raw), base_url), name)
        except VkFault:
            if lose_answer:  # refused by VK, and the refusal never arrives either
                return await _drop_connection(request)
            raise
        if lose_answer:  # performed by VK; the answer never arrives
            return await _drop_connection(request)
        return web.json_response({"response": result}, dumps=_dumps)
    except VkFault as fault:
        if record is not None:
            record.error_code = fault.code
        return web.json_response(_error_envelope(fault, name, raw), dumps=_dumps)


def create_emulator_app(
    state: EmulatorState | None = None,
    *,
    retry_schedule: Sequence[float] = VK_RETRY_SCHEDULE,
    duplicate_rate: float = 0.0,
    rng: random.Random | None = None,
    callback_timeout: float = 5.0,
) -> web.Application:
    """The emulator as an aiohttp app; callback delivery runs while the app runs (cleanup_ctx)."""
    state = state or EmulatorState()
    app = web.Application()
    app[STATE_KEY] = state
    app[HUB_KEY] = LongPollHub(state)
    app[DELIVERY_KEY] = CallbackDelivery(
        state, retry_schedule=retry_schedule, duplicate_rate=duplicate_rate, rng=rng, timeout=callback_timeout
    )
    app.router.add_route("GET", "/method/{name}", handle_method)
    app.router.add_route("POST", "/method/{name}", handle_method)
    app.router.add_get("/longpoll/{group_id}", handle_a_check)
    app.router.add_routes(control.routes)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB_KEY]
    delivery = app[DELIVERY_KEY]
    hub.open()
    await delivery.start()
    yield
    await delivery.stop()
    hub.close()
