"""How long each request took, by route: `proxy_http_request_seconds` at /metrics.

The label is the route's pattern (`/conversations/{id}`), never the address asked for, so the number of
series stays the number of routes whatever ids or junk a client sends; unmatched addresses share one.
A live stream (SSE) is observed when it ends, so its route's figures say how long pages stay open.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.metrics import REQUEST_SECONDS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNMATCHED = "unmatched"


@web.middleware
async def request_seconds_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else UNMATCHED
        REQUEST_SECONDS.labels(route=route).observe(time.perf_counter() - started)
