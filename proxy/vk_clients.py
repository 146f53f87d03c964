"""VK API clients for a community: the community token and the admin user token, over the right transport.

With PROXY_VK_API_BASE set (the demo and the tests), requests go to the VK emulator over real HTTP;
otherwise to VK itself.
"""

from __future__ import annotations

import requests

from proxy.communities import admin_token, community_token
from proxy.connectors.vk.client import VkClient
from proxy.connectors.vk.transport import emulator_session, vk_session
from proxy.models import Community
from proxy.settings import Settings

REQUEST_TIMEOUT_SECONDS = 15.0


def http_session(settings: Settings) -> requests.Session:
    if settings.vk_api_base:
        return emulator_session(settings.vk_api_base, timeout=REQUEST_TIMEOUT_SECONDS)
    return vk_session(REQUEST_TIMEOUT_SECONDS)


def community_client(settings: Settings, community: Community) -> VkClient:
    """A client on the community token (messages, comments from the group, long poll)."""
    return VkClient(community_token(settings, community), kind="community", session=http_session(settings))


def admin_client(settings: Settings, community: Community) -> VkClient:
    """A client on the admin user token (comment delete/restore, bans)."""
    return VkClient(admin_token(settings, community), kind="user", session=http_session(settings))
