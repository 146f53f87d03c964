"""`python -m vk_emulator --port 8090`: a standalone emulator with one demo community."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

from aiohttp import web

from .api import create_emulator_app
from .demo_traffic import DemoTraffic
from .scenario import build_demo_world
from .state import CallbackConfig, EmulatorState


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, print how to reach the demo community, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m vk_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--callback-url", help="deliver events to this Callback API endpoint")
    parser.add_argument("--secret", help="secret sent with every callback event")
    parser.add_argument("--confirmation", default="c0nf1rm", help="code the callback endpoint must answer")
    parser.add_argument("--group-id", type=int, default=None)
    parser.add_argument(
        "--demo-per-minute", type=float, default=4.0, help="demo member actions a minute (0: none)"
    )
    args = parser.parse_args(argv)

    state = EmulatorState()
    callback = (
        CallbackConfig(args.callback_url, args.secret, args.confirmation) if args.callback_url else None
    )
    group = build_demo_world(state, callback=callback, group_id=args.group_id)
    app = create_emulator_app(state)

    async def demo_traffic(_: web.Application) -> AsyncIterator[None]:
        traffic = DemoTraffic(state, group, per_minute=args.demo_per_minute)
        if args.demo_per_minute > 0:
            traffic.start()
        yield
        await traffic.stop()

    app.cleanup_ctx.append(demo_traffic)
    base = f"http://{args.host}:{args.port}"
    print(f"VK emulator on {base} (point the proxy's VK API base here)")
    print(f"group_id:        {group.id}  ({group.name})")
    print(f"community token: {group.community_token}")
    print(f"admin token:     {group.admin_token}  (admin user id {group.admin_user_id})")
    if callback:
        print(
            f"callback:        {callback.url}  secret={callback.secret!r} confirmation={callback.confirmation_code!r}"
        )
    if callback:
        print(f"confirm:         POST {base}/_emulator/groups/{group.id}/confirm")
    print(f"controls:        {base}/_emulator/groups", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
