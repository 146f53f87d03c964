"""CSRF protection: one random token per session, required on every state-changing request.

Forms carry it in a hidden `csrf_token` field; htmx sends it in the `X-CSRF-Token` header (set once with
`hx-headers` on <body>). A request without the right token is refused with 403 before its handler runs,
so nothing changes. VK's callback endpoint is exempt (VK authenticates with its shared secret, and sends
no cookies). The log in form has no session to bind a token to yet; it is protected by refusing a POST
whose Origin names another site.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session

CSRF_TOKEN = web.RequestKey("csrf_token", str)
FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
SESSION_KEY = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_PREFIXES = ("/callback/", "/static/", "/healthz", "/metrics")
LOGIN_PATH = "/login"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def session_token(request: web.Request) -> str:
    """This session's token, created on first use."""
    session = await get_session(request)
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


async def _sent_token(request: web.Request) -> str:
    header = request.headers.get(HEADER_NAME)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # aiohttp caches it: the handler reads the same form again
        return str(form.get(FIELD_NAME, ""))
    return ""


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


def refusal(message: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=message)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(EXEMPT_PREFIXES):
        return await handler(request)
    expected = await session_token(request)
    request[CSRF_TOKEN] = expected
    if request.method in SAFE_METHODS:
        return await handler(request)
    if request.path == LOGIN_PATH:
        if not _same_origin(request):
            raise refusal("Cross-site log in refused.")
        return await handler(request)
    sent = await _sent_token(request)
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise refusal("The form has expired or did not come from this site (CSRF check failed). Reload the page.")
    return await handler(request)
