"""The operator and manager UI: aiohttp views, jinja2 templates, static files."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from proxy.appkeys import SETTINGS
from proxy.crypto import derive_key
from web.auth import auth_middleware
from web.routes import setup_routes

HERE = Path(__file__).parent


def setup_web(app: web.Application) -> None:
    """Templates, sessions, authentication and routes."""
    settings = app[SETTINGS]
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        context_processors=[aiohttp_jinja2.request_processor],
    )
    env.globals["static"] = lambda path: f"/static/{path}"
    setup_session(
        app,
        EncryptedCookieStorage(
            derive_key(settings.secret_key, "session-cookie"),
            cookie_name="proxy_session",
            httponly=True,
            samesite="Lax",
            secure=settings.public_url.startswith("https://"),
            max_age=12 * 3600,
        ),
    )
    app.middlewares.append(auth_middleware)
    setup_routes(app, HERE / "static")
