"""Admin pages: communities, operators, API tokens and canned responses; every change journaled."""

from __future__ import annotations

from aiohttp import web


def setup_admin_routes(app: web.Application) -> None:
    pass
