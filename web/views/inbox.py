"""The operator's inbox."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from web.auth import OPERATOR


@aiohttp_jinja2.template("inbox/index.html")
async def index(request: web.Request) -> dict[str, object]:
    return {"operator": request[OPERATOR]}
