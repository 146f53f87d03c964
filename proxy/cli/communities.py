"""`proxy community add | connect | check`: serve a VK community or a Telegram bot, connect it, test it."""

from __future__ import annotations

import argparse

from proxy.cli.common import Parser, read_secret_file, with_db
from proxy.cli_errors import CommandError
from proxy.settings import Settings

# Telegram's words for the two ways of receiving updates, as the proxy stores them.
_TELEGRAM_MODES = {"webhook": "callback", "polling": "longpoll"}


async def cmd_community_add(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import communities
    from proxy.models import CommunityMode

    if args.network == "telegram":
        return await _add_bot(args, settings)
    if args.group_id is None or args.confirmation is None:
        raise CommandError("a VK community needs --group-id and --confirmation")
    community_token = read_secret_file(args.community_token_file)
    admin_token = read_secret_file(args.admin_token_file)

    async def body() -> int:
        community = await communities.add_community(
            settings,
            vk_group_id=args.group_id,
            name=args.name,
            secret=args.secret,
            confirmation=args.confirmation,
            mode=CommunityMode(_TELEGRAM_MODES.get(args.mode, args.mode)),
            community_token=community_token,
            admin_token=admin_token,
        )
        print(f"added community {community.name} ({community.vk_group_id}), mode {community.mode}")
        print(f"callback URL: {settings.public_url}/callback/vk/{community.vk_group_id}")
        return 0

    return await with_db(settings, body)


async def _add_bot(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import communities
    from proxy.models import CommunityMode

    if not args.bot_token_file:
        raise CommandError("a Telegram bot needs --bot-token-file (the file holding BotFather's token)")
    token = read_secret_file(args.bot_token_file)
    mode = CommunityMode(_TELEGRAM_MODES.get(args.mode, args.mode))

    async def body() -> int:
        bot = await communities.add_bot(
            settings, name=args.name, bot_token=token or "", secret=args.secret, mode=mode
        )
        print(
            f"added Telegram bot {bot.name} ({bot.vk_group_id}), mode {'webhook' if mode == 'callback' else 'polling'}"
        )
        print(
            f"next: proxy community connect --network telegram {bot.vk_group_id}, "
            f"then proxy community check --network telegram {bot.vk_group_id}"
        )
        return 0

    return await with_db(settings, body)


async def _community(network: str | None, reference: int):  # type: ignore[no-untyped-def]
    """The community a command names: by its id on the network (VK's group id when no network is given),
    else by its id in the proxy (on any network when none is given)."""
    from proxy.models import Community

    found = await Community.get_or_none(network=network or "vk", vk_group_id=reference)
    if found is None:
        in_proxy = Community.filter(id=reference)
        found = await (in_proxy.filter(network=network) if network else in_proxy).first()
    if found is None:
        where = f"{network} community" if network else "community"
        raise CommandError(
            f"no {where} {reference}: give its id on its network (with --network) or in the proxy"
        )
    return found


async def cmd_community_connect(args: argparse.Namespace, settings: Settings) -> int:
    """Tell the network where to deliver: the webhook of this service, or nowhere (polling); journaled as
    the admin pages' button is ("community.connect")."""
    from proxy.admin_telegram_check import connect_bot
    from proxy.networks import community_account, connections

    async def body() -> int:
        community = await _community(args.network, args.community)
        if community.network == "telegram":
            return _print_checks(await connect_bot(settings, community.id, by=None))
        # VK's Callback server is set in the community's settings in VK: nothing is changed, nothing journaled.
        account = community_account(community)
        async with connections(settings) as opened:
            checks = await opened.community(community.network, account).connect(
                None, community.callback_secret
            )
        return _print_checks(checks)

    return await with_db(settings, body)


async def cmd_community_check(args: argparse.Namespace, settings: Settings) -> int:
    """Test the connection with the community's tokens; journaled as the admin pages' button is
    ("community.test")."""
    from proxy.admin_telegram_check import check_bot
    from proxy.admin_vk_check import check_connection

    async def body() -> int:
        community = await _community(args.network, args.community)
        check = check_bot if community.network == "telegram" else check_connection
        return _print_checks(await check(settings, community.id, by=None))

    return await with_db(settings, body)


def _print_checks(checks) -> int:  # type: ignore[no-untyped-def]
    for check in checks:
        print(f"{check.status:8} {check.name}: {check.text}" + (f" ({check.detail})" if check.detail else ""))
    return 1 if any(check.status == "failed" for check in checks) else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    community = sub.add_parser("community", help="manage communities and bots").add_subparsers(
        dest="community_command", required=True, parser_class=Parser
    )
    p = community.add_parser("add", help="serve a VK community or a Telegram bot (no call to the network)")
    p.add_argument("--network", choices=["vk", "telegram"], default="vk")
    p.add_argument("--group-id", type=int, help="VK: the group's id")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--secret", required=True, help="VK: the Callback API secret; Telegram: the webhook's secret_token"
    )
    p.add_argument("--confirmation", help="VK: the Callback API confirmation string")
    p.add_argument("--community-token-file")
    p.add_argument("--admin-token-file")
    p.add_argument("--bot-token-file", help="Telegram: a file holding BotFather's token")
    p.add_argument(
        "--mode", choices=["callback", "longpoll", "webhook", "polling"], default="callback",
        help="VK: callback or longpoll; Telegram: webhook or polling (getUpdates)",
    )  # fmt: skip
    p.set_defaults(func=cmd_community_add)
    for name, func, what in (
        ("connect", cmd_community_connect, "tell the network where to deliver (Telegram: setWebhook)"),
        ("check", cmd_community_check, "test the connection with the stored tokens"),
    ):
        p = community.add_parser(name, help=what)
        p.add_argument("--network", choices=["vk", "telegram"], help="the network COMMUNITY's id is on")
        p.add_argument(
            "community", type=int, help="its id on the network (a VK group's, a bot's), or in the proxy"
        )
        p.set_defaults(func=func)
