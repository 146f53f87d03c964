"""The URL map."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.views import auth, health, inbox
from web.views.admin import setup_admin_routes
from web.views.audit import setup_audit_routes
from web.views.audit_pages import setup_audit_pages_routes
from web.views.stats import setup_stats_routes
from web.views.stats_pages import setup_stats_pages_routes


def setup_routes(app: web.Application, static_dir: Path) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/login", auth.login_page, name="login")
    app.router.add_post("/login", auth.login_submit)
    app.router.add_post("/logout", auth.logout)
    inbox.setup_inbox_routes(app)
    setup_stats_routes(app)
    setup_audit_routes(app)
    setup_stats_pages_routes(app)
    setup_audit_pages_routes(app)
    setup_admin_routes(app)
    app.router.add_static("/static/", static_dir, name="static")
