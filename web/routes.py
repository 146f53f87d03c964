"""The URL map."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.views import auth, health, inbox


def setup_routes(app: web.Application, static_dir: Path) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/login", auth.login_page, name="login")
    app.router.add_post("/login", auth.login_submit)
    app.router.add_post("/logout", auth.logout)
    app.router.add_get("/", inbox.index, name="index")
    app.router.add_static("/static/", static_dir, name="static")
