"""Statistics pages: per-operator KPIs, rankings, communities, charts of reaction time against volume, drill-down."""

from __future__ import annotations

from aiohttp import web


def setup_stats_pages_routes(app: web.Application) -> None:
    pass
