"""The emulator's aiohttp application: `/bot{token}/{method}` as the Bot API serves it, and the controls."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from . import control, control_people
from .basics import TgError
from .delivery import WEBHOOK_RETRY_SCHEDULE, WebhookDelivery
from .keys import DELIVERY_KEY, SIGNALS_KEY, STATE_KEY
from .methods import METHODS, METHODS_BY_LOWER_NAME, Call, Described
from .params import Params
from .signals import UpdateSignals
from .state import TgState

_dumps = functools.partial(json.dumps, ensure_ascii=False)
MAX_POLL_TIMEOUT = 50.0
NGINX_PAGE = "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
STATUS_TEXTS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}


def _answer(result: Any) -> web.Response:
    body: dict[str, Any] = {"ok": True, "result": result}
    if isinstance(result, Described):
        body = {"ok": True, "result": result.result, "description": result.description}
    return web.json_response(body, dumps=_dumps)


def _refusal(error: TgError) -> web.Response:
    return web.json_response(error.as_api(), status=error.code, dumps=_dumps)


async def _drop_connection(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


async def _params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise TgError(400, "Bad Request: can't parse JSON object") from None  # wording not captured
            if isinstance(body, dict):
                raw.update(body)
        else:
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    return raw


async def _long_poll(request: web.Request, call: Call, result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    signals = request.app[SIGNALS_KEY]
    generation = signals.begin(call.bot)
    timeout = min(float(call.params.int("timeout", 0) or 0), MAX_POLL_TIMEOUT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not result and loop.time() < deadline:
        await signals.wait(call.bot, deadline - loop.time())
        if signals.superseded(call.bot, generation):
            raise TgError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            )
        result = METHODS["getUpdates"](call)
    return result


async def handle_bot_method(request: web.Request) -> web.StreamResponse:
    """Answer a Bot API call: `{"ok": true, "result": ...}` or Telegram's error with its HTTP status."""
    state = request.app[STATE_KEY]
    bot = state.tokens.get(request.match_info["token"])
    if bot is None:
        return _refusal(TgError(401, "Unauthorized"))
    name = METHODS_BY_LOWER_NAME.get(request.match_info["method"].lower())
    if name is None:
        return _refusal(TgError(404, "Not Found"))
    method = METHODS[name]
    try:
        call = Call(state, bot, Params(await _params(request)))
        fault = state.faults.take(name, bot.id)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return await _drop_connection(request)
            if fault.retry_after is not None:
                raise TgError(
                    429,
                    f"Too Many Requests: retry after {fault.retry_after}",
                    {"retry_after": fault.retry_after},
                )
            if fault.http_status == 500:
                raise TgError(500, "Internal Server Error")
            if fault.http_status is not None:
                status_line = f"{fault.http_status} {STATUS_TEXTS.get(fault.http_status, 'Server Error')}"
                return web.Response(
                    status=fault.http_status,
                    text=NGINX_PAGE.format(status=status_line),
                    content_type="text/html",
                )
        try:
            result = method(call)
            if name == "getUpdates":
                result = await _long_poll(request, call, result)
        except TgError:
            if fault is not None and fault.lose_answer:
                return await _drop_connection(request)
            raise
        if fault is not None and fault.lose_answer:  # performed; the answer never arrives
            return await _drop_connection(request)
        return _answer(result)
    except TgError as error:
        return _refusal(error)


def create_tg_emulator_app(
    state: TgState | None = None,
    *,
    retry_schedule: Sequence[float] = WEBHOOK_RETRY_SCHEDULE,
    webhook_timeout: float = 5.0,
) -> web.Application:
    """The emulator as an aiohttp app; webhook delivery runs while the app runs (cleanup_ctx)."""
    state = state or TgState()
    app = web.Application()
    app[STATE_KEY] = state
    app[SIGNALS_KEY] = UpdateSignals(state)
    app[DELIVERY_KEY] = WebhookDelivery(state, retry_schedule=retry_schedule, timeout=webhook_timeout)
    for http_method in ("GET", "POST"):
        app.router.add_route(http_method, "/bot{token}/{method}", handle_bot_method)
    app.router.add_routes(control.routes)
    app.router.add_routes(control_people.routes)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    signals = app[SIGNALS_KEY]
    delivery = app[DELIVERY_KEY]
    signals.open()
    await delivery.start()
    yield
    await delivery.stop()
    signals.close()
