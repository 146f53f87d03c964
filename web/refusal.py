"""The one mapping of a refused access (proxy/access.py) to an HTTP answer.

Something outside the operator's scope (NotFound) answers exactly like something that does not exist:
404 "Not found.", whatever the page, partial, export or action; a refusal by role (AccessDenied) answers
403 with its reason. Views that catch a refusal to answer in their own shape raise `refused(exc)`; one
that is not caught reaches the middleware below. A browser is then shown the error page in its reader's
language (web/error_pages.py); htmx and programs get the text.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.access import NOT_FOUND, AccessDenied, NotFound


def refused(exc: AccessDenied) -> web.HTTPException:
    if isinstance(exc, NotFound):
        return web.HTTPNotFound(text=NOT_FOUND)
    return web.HTTPForbidden(text=exc.message)


def not_found() -> web.HTTPException:
    """The answer for an id that does not exist: the same as for one that is not yours."""
    return refused(NotFound())


@web.middleware
async def refusal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AccessDenied as exc:
        raise refused(exc) from None
