"""Liveness and metrics for operations."""

from __future__ import annotations

from aiohttp import web
from tortoise import connections

from proxy import metrics as prometheus


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any database failure means "not healthy", whatever its class
        return web.json_response({"status": "unavailable", "database": str(exc)[:200]}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=prometheus.render(), content_type="text/plain", charset="utf-8")
