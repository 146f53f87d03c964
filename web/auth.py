"""Who is asking: the session's operator, or nobody (then: log in first)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_session import get_session
from yarl import URL

from proxy.access import Scope, scope_of
from proxy.accounts import end_sessions, operator_for_api_token
from proxy.models import Operator

OPERATOR = web.RequestKey("operator", Operator)
# What the operator may see (proxy/access.py), computed once per request.
SCOPE = web.RequestKey("scope", Scope)
# True when the request was authenticated with a personal API token rather than a session.
VIA_API_TOKEN = web.RequestKey("via_api_token", bool)
PUBLIC_PREFIXES = ("/login", "/healthz", "/metrics", "/static/", "/callback/")
# What a personal API token may read: the CSV exports, nothing else.
EXPORT_PREFIXES = ("/stats/", "/audit/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def current_operator(request: web.Request) -> Operator | None:
    session = await get_session(request)
    operator_id = session.get("operator_id")
    if operator_id is None:
        return None
    operator = await Operator.get_or_none(id=operator_id)
    # A disabled account or a bumped session version ends every existing session at once.
    if operator is None or not operator.is_active or operator.session_version != session.get("version"):
        session.invalidate()
        return None
    return operator


async def session_ended(operator: Operator) -> bool:
    """Whether the sessions `operator` was read for have ended since (disabled, logged out, new password,
    new role): a long request such as the live stream asks this as it goes."""
    rows = await Operator.filter(id=operator.id).values("is_active", "session_version")
    return not rows or not rows[0]["is_active"] or rows[0]["session_version"] != operator.session_version


async def log_in(request: web.Request, operator: Operator) -> None:
    session = await get_session(request)
    session.clear()
    session["operator_id"] = operator.id
    session["version"] = operator.session_version


async def log_out(request: web.Request, operator: Operator) -> None:
    """End this session and every other of the account: a cookie copied before stops working too."""
    await end_sessions(operator)
    session = await get_session(request)
    session.invalidate()


async def end_other_sessions(request: web.Request, operator: Operator) -> None:
    """End every session of the account but this one, which carries the new version on."""
    session = await get_session(request)
    session["version"] = await end_sessions(operator)


def is_export_path(path: str) -> bool:
    return path.startswith(EXPORT_PREFIXES) and path.endswith(".csv")


def _asks_for_html(request: web.Request) -> bool:
    """Whether the client is a browser navigating (it asks for a page), rather than a script."""
    return "text/html" in request.headers.get("Accept", "")


def _bearer_needed(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=reason, headers={"WWW-Authenticate": "Bearer"})


async def bearer_operator(request: web.Request, token: str) -> Operator:
    """The owner of a read-only API token, for a GET of a CSV export; 403 or 401 otherwise."""
    if request.method != "GET" or not is_export_path(request.path):
        raise web.HTTPForbidden(text="API tokens are read-only: they work only for GET of CSV exports")
    operator = await operator_for_api_token(token)
    if operator is None:
        raise _bearer_needed("unknown or revoked API token")
    return operator


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    authorization = request.headers.get("Authorization")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        request[OPERATOR] = await bearer_operator(request, token.strip())
        request[SCOPE] = await scope_of(request[OPERATOR])
        request[VIA_API_TOKEN] = True
        return await handler(request)
    operator = await current_operator(request)
    if operator is None:
        # A script (credentials of another kind, or an export asked for without asking for a page) is told
        # which credentials work rather than sent to a form it cannot fill.
        if authorization is not None or (is_export_path(request.path) and not _asks_for_html(request)):
            raise _bearer_needed("log in first, or send a personal API token: Authorization: Bearer <token>")
        if request.headers.get("HX-Request"):
            # htmx follows a redirect inside the swap; HX-Redirect makes it load the login page whole.
            return web.Response(status=401, headers={"HX-Redirect": "/login"})
        raise web.HTTPFound(URL("/login").with_query(next=str(request.rel_url)))
    request[OPERATOR] = operator
    request[SCOPE] = await scope_of(operator)
    return await handler(request)
