"""The core's side of the connectors: the application's connections, and a community as its client sees it.

Tokens are decrypted here (proxy/communities.py) and handed to the connector, which never reads the store.
With PROXY_VK_API_BASE set (the demo and the tests), VK's calls go to the VK emulator over real HTTP;
otherwise to VK itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from proxy.communities import community_token
from proxy.connectors.base import CommunityAccount, CommunityClient
from proxy.connectors.registry import Connections
from proxy.models import Channel, Community, CommunityMode, Conversation, Network
from proxy.settings import Settings


def open_connections(settings: Settings) -> Connections:
    """The clients of every network for these settings (close them with `Connections.close`)."""
    return Connections({Network.VK: settings.vk_api_base, Network.TELEGRAM: settings.telegram_api_base})


@asynccontextmanager
async def connections(settings: Settings, given: Connections | None = None) -> AsyncIterator[Connections]:
    """`given` (the application's), or connections of this block's own, closed at its end."""
    if given is not None:
        yield given
        return
    opened = open_connections(settings)
    try:
        yield opened
    finally:
        opened.close()


def community_account(
    community: Community, *, community_token: str | None = None, admin_token: str | None = None
) -> CommunityAccount:
    """The community as its client sees it, with the tokens the caller decrypted."""
    return CommunityAccount(
        group_id=community.vk_group_id,
        community_token=community_token,
        admin_token=admin_token,
        admin_user_id=community.admin_vk_user_id,
        long_poll=community.mode == CommunityMode.LONGPOLL,
    )


# The most groups a connection check asks the bot's rights in (one call each).
CHECKED_CHATS = 20


async def client_for_check(settings: Settings, opened: Connections, community: Community) -> CommunityClient:
    """A client of the community on its community token, knowing the groups the proxy has seen it in."""
    chats = (
        await Conversation.filter(community_id=community.id, channel=Channel.GROUP, vk_owner_id__isnull=False)
        .distinct()
        .limit(CHECKED_CHATS)
        .values_list("vk_owner_id", flat=True)
    )
    account = dataclasses.replace(
        community_account(community, community_token=community_token(settings, community)),
        chats=tuple(int(chat) for chat in chats),
    )
    return opened.community(community.network, account)


def community_client(settings: Settings, opened: Connections, community: Community) -> CommunityClient:
    """A client of the community on its community token (MissingToken when it has none)."""
    account = community_account(community, community_token=community_token(settings, community))
    return opened.community(community.network, account)
