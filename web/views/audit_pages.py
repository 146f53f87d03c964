"""Manager pages: the team's and each operator's journal, deleted content (with restore), incident search and timelines."""

from __future__ import annotations

from aiohttp import web


def setup_audit_pages_routes(app: web.Application) -> None:
    pass
