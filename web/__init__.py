"""The operator and manager UI: aiohttp views, jinja2 templates, static files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from proxy.appkeys import SETTINGS
from proxy.crypto import derive_key
from web import attachments, i18n, network_words, rule_words, vk_links
from web.auth import OPERATOR, SCOPE, auth_middleware
from web.csrf import CSRF_TOKEN, csrf_middleware
from web.error_pages import error_pages_middleware
from web.params import plain_parameters_middleware
from web.refusal import refusal_middleware
from web.request_metrics import request_seconds_middleware
from web.routes import setup_routes
from web.security_headers import security_headers_middleware
from web.throttle import LOGIN_THROTTLE, LoginThrottle

HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def page_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What every template may use: who is logged in, what they may see (proxy/access.py) and the CSRF
    token for its forms.

    A middleware rather than a jinja2 context processor: processors run before the authentication
    and CSRF middlewares have set these.
    """
    context = request.setdefault(aiohttp_jinja2.REQUEST_CONTEXT_KEY, {})
    context.update(
        operator=request.get(OPERATOR), access=request.get(SCOPE), csrf_token=request.get(CSRF_TOKEN, "")
    )
    return await handler(request)


def setup_web(app: web.Application) -> None:
    """Templates, sessions, authentication, CSRF, translations and routes (the LISTEN connection live
    updates arrive on is the runtime's: proxy/runtime/workers.py)."""
    settings = app[SETTINGS]
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        context_processors=[aiohttp_jinja2.request_processor],
    )
    env.globals["static"] = lambda path: f"/static/{path}"
    i18n.install(env)
    attachments.install(env, settings.image_hosts)
    vk_links.install(env, settings)
    network_words.install(env)
    rule_words.install(env)
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
    # Order matters: the request timer wraps everything, then the headers; the locale needs the operator; CSRF and then the check
    # of every parameter's text (web/params.py) run last, just before the handler, so a refused
    # request has changed nothing.
    app.middlewares.append(request_seconds_middleware)
    app.middlewares.append(security_headers_middleware)
    app.middlewares.append(auth_middleware)
    app.middlewares.append(i18n.locale_middleware)
    app.middlewares.append(error_pages_middleware)  # the error page, in the reader's language
    app.middlewares.append(csrf_middleware)
    app.middlewares.append(plain_parameters_middleware)
    app.middlewares.append(refusal_middleware)
    app.middlewares.append(page_context_middleware)
    app[LOGIN_THROTTLE] = LoginThrottle()
    setup_routes(app, HERE / "static")
