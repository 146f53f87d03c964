"""`proxy migrate`, `proxy bootstrap`, `proxy serve`: the service's own life."""

from __future__ import annotations

import argparse
import logging
import socket
from pathlib import Path

from proxy import db
from proxy.cli.common import with_db
from proxy.cli_errors import CommandError
from proxy.settings import Settings

FIRST_ADMIN_FILE = Path("data/first-admin.txt")


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    await db.migrate(settings.database_url)
    print(f"database is up to date: {settings.database_url}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from proxy.runtime.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    _check_port_free(host, port)
    settings = Settings(**{**settings.__dict__, "host": host, "port": port})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(create_app(settings), host=host, port=port, print=lambda *_: None, access_log=None)
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server itself binds (aiohttp sets SO_REUSEADDR): connections of a crashed instance left in
        # TIME_WAIT must not stop its restart; a live listener on the port still makes bind() fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {host}:{port}: {exc.strerror} (is the service already running?)"
            ) from None


async def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """Create the first admin on an empty database and say how to log in."""
    import secrets

    from proxy import accounts
    from proxy.models import Operator, Role

    async def body() -> int:
        url = f"http://{settings.host}:{settings.port}/"
        if await Operator.all().exists():
            hint = f" (password in {FIRST_ADMIN_FILE})" if FIRST_ADMIN_FILE.exists() else ""
            print(f"Open {url} and log in with your account{hint}.")
            return 0
        password = secrets.token_urlsafe(12)
        await accounts.create_operator("admin", password, Role.ADMIN, display_name="Administrator")
        FIRST_ADMIN_FILE.parent.mkdir(parents=True, exist_ok=True)
        FIRST_ADMIN_FILE.write_text(f"login: admin\npassword: {password}\n")
        FIRST_ADMIN_FILE.chmod(0o600)
        print(f"Open {url} and log in as admin with password {password}")
        print(
            f"(also saved in {FIRST_ADMIN_FILE}; after logging in, change it on your account page: click your"
        )
        print(f"name in the top bar, or open {url}account)")
        return 0

    return await with_db(settings, body)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("bootstrap", help="create the first admin account if there is none")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("serve", help="run the web service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)
