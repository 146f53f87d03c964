"""The composition root: the one place that assembles the aiohttp application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from proxy import db
from proxy.appkeys import BACKGROUND, LIVE, SETTINGS
from proxy.author_profiles import author_profiles_context
from proxy.demo import demo_context
from proxy.inbound import setup_inbound
from proxy.live import LiveHub
from proxy.outbox import outbox_worker_context
from proxy.rate_limit import shared_rate_limits_context
from proxy.refusals import refusals_context
from proxy.settings import Settings, startup_warnings
from proxy.sla_alerts import sla_alerts_context

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
    app.on_startup.append(warn_unless_production)
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(refusals_context)  # stops before the database closes: its last counts go in
    app.cleanup_ctx.append(shared_rate_limits_context)  # before anything that calls VK
    app.cleanup_ctx.append(outbox_worker_context)
    app.cleanup_ctx.append(demo_context)
    app.cleanup_ctx.append(sla_alerts_context)
    app.cleanup_ctx.append(author_profiles_context)
    setup_inbound(app)
    setup_web(app)
    return app
