"""`proxy community add`: serve a VK community."""

from __future__ import annotations

import argparse

from proxy.cli.common import Parser, read_secret_file, with_db
from proxy.settings import Settings


async def cmd_community_add(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import communities
    from proxy.models import CommunityMode

    community_token = read_secret_file(args.community_token_file)
    admin_token = read_secret_file(args.admin_token_file)

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

    return await with_db(settings, body)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    community = sub.add_parser("community", help="manage communities").add_subparsers(
        dest="community_command", required=True, parser_class=Parser
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
