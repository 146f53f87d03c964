"""Security headers on every response: a Content-Security-Policy that allows only our own scripts.

`script-src 'self'` means no inline script and no `hx-on` handler can run, so even a template mistake
that let user text through unescaped could not execute it. htmx is configured (base.html) not to
evaluate expressions or inject its own styles, so it works under this policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache

from aiohttp import web

from proxy.appkeys import SETTINGS
from proxy.settings import DEFAULT_IMAGE_HOSTS


def content_security_policy(image_hosts: tuple[str, ...]) -> str:
    """The policy, with attachment images allowed from `image_hosts` only (PROXY_IMAGE_HOSTS)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # Attachment thumbnails come from VK's image servers, and from nowhere else: an outside image
            # would tell its host who opened the conversation (web/attachments.py shows it as a link).
            "img-src 'self' data: " + " ".join(f"https://{host}" for host in image_hosts),
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy(DEFAULT_IMAGE_HOSTS)
OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, **OTHER_HEADERS}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@cache
def _headers(image_hosts: tuple[str, ...]) -> dict[str, str]:
    return {"Content-Security-Policy": content_security_policy(image_hosts), **OTHER_HEADERS}


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    headers = _headers(request.app[SETTINGS].image_hosts)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    if not response.prepared:  # a streamed response (SSE, CSV) already sent its headers
        response.headers.update(headers)
    return response
