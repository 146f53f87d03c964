"""The ingest ceiling: the least an HTTP endpoint that stores events can do.

`python -m bench.ceiling_app --port P --dsn DSN`: an aiohttp server whose one handler stores the raw body
with one asyncpg INSERT and answers "ok". It has the proxy's pool size (Tortoise's default, 5) so the
comparison is about the work per event, not about connections.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

POOL_SIZE = 5
POOL = web.AppKey("pool", asyncpg.Pool)


async def store(request: web.Request) -> web.Response:
    body = await request.text()
    await request.app[POOL].execute("INSERT INTO bench_ceiling_event (body) VALUES ($1)", body)
    return web.Response(text="ok")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(dsn: str) -> web.Application:
    app = web.Application()

    async def pool_context(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
        await app[POOL].execute(
            "CREATE TABLE IF NOT EXISTS bench_ceiling_event (id bigserial PRIMARY KEY, body text NOT NULL)"
        )
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool_context)
    app.router.add_post("/callback/vk/{group_id}", store)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    web.run_app(create_app(args.dsn), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
