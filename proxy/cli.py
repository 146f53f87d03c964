"""The command line: `proxy migrate`, `proxy serve`, `proxy user add`, ...

Every failure a user can cause ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from proxy import db
from proxy.cli_errors import CommandError
from proxy.settings import Settings, SettingsError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise CommandError(f"{self.prog}: {message} (see --help)")


Command = Callable[[argparse.Namespace, Settings], Awaitable[int] | int]


def _read_secret_file(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    if not value:
        raise CommandError(f"{path} is empty")
    return value


async def _with_db(settings: Settings, body: Callable[[], Awaitable[int]]) -> int:
    async with db.database(settings.database_url):
        return await body()


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    await db.migrate(settings.database_url)
    print(f"database is up to date: {settings.database_url}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from proxy.app import create_app

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


async def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import accounts
    from proxy.models import Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.login}: ")
        if password != getpass.getpass("Repeat the password: "):
            raise CommandError("the passwords do not match")

    async def body() -> int:
        await accounts.create_operator(args.login, password, Role(args.role))
        print(f"created {args.role} {args.login}")
        return 0

    return await _with_db(settings, body)


async def cmd_user_link_vk(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import accounts

    async def body() -> int:
        await accounts.link_vk_user(args.login, args.vk_user_id)
        print(f"{args.login} is VK user {args.vk_user_id}")
        return 0

    return await _with_db(settings, body)


async def cmd_community_add(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import communities
    from proxy.models import CommunityMode

    community_token = _read_secret_file(args.community_token_file)
    admin_token = _read_secret_file(args.admin_token_file)

    async def body() -> int:
        community = await communities.add_community(
            settings,
            vk_group_id=args.group_id,
            name=args.name,
            secret=args.secret,
            confirmation=args.confirmation,
            mode=CommunityMode(args.mode),
            community_token=community_token,
            admin_token=admin_token,
        )
        print(f"added community {community.name} ({community.vk_group_id}), mode {community.mode}")
        print(f"callback URL: {settings.public_url}/callback/vk/{community.vk_group_id}")
        return 0

    return await _with_db(settings, body)


async def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import accounts

    async def body() -> int:
        token = await accounts.create_api_token(args.login, args.name or "")
        print(token)
        print("Store it now: it is shown only once.", file=sys.stderr)
        return 0

    return await _with_db(settings, body)


FIRST_ADMIN_FILE = Path("data/first-admin.txt")


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
        print(f"(also saved in {FIRST_ADMIN_FILE}; change it after the first log in)")
        return 0

    return await _with_db(settings, body)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="proxy", description="Moderation and audit proxy for VK communities.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("bootstrap", help="create the first admin account if there is none")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("serve", help="run the web service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    user = sub.add_parser("user", help="manage accounts").add_subparsers(
        dest="user_command", required=True, parser_class=_Parser
    )
    p = user.add_parser("add", help="create an account")
    p.add_argument("login")
    p.add_argument("--role", choices=["operator", "manager", "admin"], default="operator")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("link-vk", help="link an account to its VK user id")
    p.add_argument("login")
    p.add_argument("vk_user_id", type=int)
    p.set_defaults(func=cmd_user_link_vk)

    community = sub.add_parser("community", help="manage communities").add_subparsers(
        dest="community_command", required=True, parser_class=_Parser
    )
    p = community.add_parser("add", help="serve a VK community")
    p.add_argument("--group-id", type=int, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--confirmation", required=True)
    p.add_argument("--community-token-file")
    p.add_argument("--admin-token-file")
    p.add_argument("--mode", choices=["callback", "longpoll"], default="callback")
    p.set_defaults(func=cmd_community_add)

    token = sub.add_parser("token", help="personal API tokens").add_subparsers(
        dest="token_command", required=True, parser_class=_Parser
    )
    p = token.add_parser("create", help="create a read-only API token for exports")
    p.add_argument("login")
    p.add_argument("--name")
    p.set_defaults(func=cmd_token_create)

    # Feature modules add commands of their own, named here so that the whole command line is in view.
    from proxy.audit.commands import register as register_audit
    from proxy.key_command import register as register_key
    from proxy.sync import register as register_sync

    for register in (register_audit, register_sync, register_key):
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from proxy.accounts import AccountError
    from proxy.communities import CommunityError

    try:
        args = build_parser().parse_args(argv)
        settings = Settings.from_env() if getattr(args, "needs_settings", True) else Settings()
        result = args.func(args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(_bounded(result, settings))
        return int(result or 0)
    except (CommandError, SettingsError, AccountError, CommunityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (OSError, ConnectionError) as exc:
        print(f"error: cannot reach the database or a file: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from tortoise.exceptions import BaseORMException

        if isinstance(exc, BaseORMException):
            print(f"error: database: {exc}", file=sys.stderr)
            return 1
        raise


async def _bounded(coro: Awaitable[int], settings: Settings) -> int:
    # A database that never answers must not hang a command forever.
    try:
        async with asyncio.timeout(600):
            return await coro
    except TimeoutError:
        raise CommandError("the database did not answer within 10 minutes") from None
