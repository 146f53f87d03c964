"""`python -m tg_emulator --port 8091`: a standalone Bot API emulator with the demo bot and its chats."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from aiohttp import web

from .api import create_tg_emulator_app
from .demo_traffic import DemoTraffic, build_demo_world
from .state import TgState


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, print how to reach the demo bot, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tg_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", help="the demo bot's token (default: a new one)")
    parser.add_argument("--seconds-per-round", type=float, default=30.0, help="demo traffic pace (0: none)")
    args = parser.parse_args(argv)

    state = TgState()
    world = build_demo_world(state, bot_token=args.token)
    app = create_tg_emulator_app(state)

    async def demo_traffic(_: web.Application) -> AsyncIterator[None]:
        traffic = DemoTraffic(world, seconds_per_round=args.seconds_per_round)
        if args.seconds_per_round > 0:
            traffic.start()
        yield
        await traffic.stop()

    app.cleanup_ctx.append(demo_traffic)
    base = f"http://{args.host}:{args.port}"
    print(f"Telegram Bot API emulator on {base} (calls: {base}/bot<token>/<method>)")
    print(f"bot:       @{world.bot.user.username} id {world.bot.id}")
    print(f"token:     {world.bot.token}")
    print(f"group:     {world.group.id} ({world.group.title}); discussion {world.discussion.id}")
    print(f"controls:  {base}/_emulator/bots", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
