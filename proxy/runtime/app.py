"""The composition root: the one place that assembles the aiohttp application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from proxy import db
from proxy.appkeys import BACKGROUND, CONNECTIONS, LIVE, OUTBOX_WAKEUPS, SETTINGS
from proxy.inbound import setup_inbound
from proxy.live import LiveHub
from proxy.networks import open_connections
from proxy.outbox import Wakeups
from proxy.runtime.workers import CONTEXTS
from proxy.settings import Settings, startup_warnings

log = logging.getLogger(__name__)


async def database_context(app: web.Application) -> AsyncIterator[None]:
    """The database, first of all cleanup contexts so every worker after it finds it open."""
    await db.open_database(app[SETTINGS].database_url)
    yield
    await db.close_database()


async def warn_unless_production(app: web.Application) -> None:
    for warning in startup_warnings(app[SETTINGS]):
        log.warning("\n%s\n%s\n%s", "!" * 78, warning, "!" * 78)


def create_app(settings: Settings) -> web.Application:
    """Build the whole service for these settings."""
    from web import setup_web  # the composition root is the one place proxy/ may import web/

    app = web.Application(client_max_size=2 * 1024**2)
    app[SETTINGS] = settings
    app[BACKGROUND] = {}
    app[LIVE] = LiveHub()
    app[OUTBOX_WAKEUPS] = Wakeups()
    app[CONNECTIONS] = open_connections(settings)
    app.on_startup.append(warn_unless_production)
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.extend(CONTEXTS)  # every background worker (proxy/runtime/workers.py)
    setup_inbound(app)
    setup_web(app)
    # After every cleanup context has stopped (aiohttp runs their teardowns as the first callback).
    app.on_cleanup.append(_close_connections)
    return app


async def _close_connections(app: web.Application) -> None:
    app[CONNECTIONS].close()
