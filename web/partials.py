"""Pages and partials (docs/conventions.md, "Pages include their partials"): the same URL serves the page, or the partial htmx asked for."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web


def wants_partial(request: web.Request) -> bool:
    """True for an htmx request, except a history restore, which needs the whole page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render a template; the answer depends on HX-Request, so caches must keep the two apart."""
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers["Vary"] = "HX-Request"
    return response
