"""`proxy user add`, `proxy user link-vk` / `link-telegram`, `proxy token create`: accounts and their API tokens."""

from __future__ import annotations

import argparse
import getpass
import sys

from proxy.cli.common import Parser, with_db
from proxy.cli_errors import CommandError
from proxy.settings import Settings


async def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import accounts
    from proxy.models import Role

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        try:
            password = getpass.getpass(f"Password for {args.login}: ")
            repeated = getpass.getpass("Repeat the password: ")
        except EOFError:  # no terminal and nothing on standard input (a script, a container)
            raise CommandError(
                "no password was typed: give it on standard input with --password-stdin"
            ) from None
        if password != repeated:
            raise CommandError("the passwords do not match")

    async def body() -> int:
        await accounts.create_operator(args.login, password, Role(args.role))
        print(f"created {args.role} {args.login}")
        return 0

    return await with_db(settings, body)


async def cmd_user_link(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import accounts
    from proxy.models import Network

    network = Network(args.network)

    async def body() -> int:
        await accounts.link_network_user(args.login, network, args.user_id)
        print(f"{args.login} is {'VK' if network is Network.VK else 'Telegram'} user {args.user_id}")
        return 0

    return await with_db(settings, body)


async def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import accounts

    async def body() -> int:
        token = await accounts.create_api_token(args.login, args.name or "")
        print(token)
        print("Store it now: it is shown only once.", file=sys.stderr)
        return 0

    return await with_db(settings, body)


def register_users(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = sub.add_parser("user", help="manage accounts").add_subparsers(
        dest="user_command", required=True, parser_class=Parser
    )
    p = user.add_parser("add", help="create an account")
    p.add_argument("login")
    p.add_argument("--role", choices=["operator", "manager", "admin"], default="operator")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)
    for network, name in (("vk", "VK"), ("telegram", "Telegram")):
        p = user.add_parser(f"link-{network}", help=f"link an account to its own {name} user id")
        p.add_argument("login")
        p.add_argument("user_id", type=int, metavar=f"{network}_user_id")
        p.set_defaults(func=cmd_user_link, network=network)


def register_tokens(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    token = sub.add_parser("token", help="personal API tokens").add_subparsers(
        dest="token_command", required=True, parser_class=Parser
    )
    p = token.add_parser("create", help="create a read-only API token for exports")
    p.add_argument("login")
    p.add_argument("--name")
    p.set_defaults(func=cmd_token_create)
