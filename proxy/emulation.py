"""Whether a community is real or emulated, and the one rule for links to VK's own pages.

A community is emulated when this service's VK calls go to an emulator (PROXY_VK_API_BASE, which
PROXY_DEMO sets to its in-process emulator) or when it is the demo's made-up community. Its people,
posts and ids exist only in the emulator: a link to vk.com would open a stranger's page, or none. So
every link to VK goes through `vk_url`, which answers None for an emulated community; pages then show
the id as text (web/vk_links.py installs it as the templates' `vk_url(community, path)`).
"""

from __future__ import annotations

from proxy.models import Author, Community, Network
from proxy.settings import Settings

__all__ = [
    "DEMO_BOT_ID",
    "DEMO_BOT_TOKEN",
    "DEMO_GROUP_ID",
    "TELEGRAM_WEB",
    "VK_WEB",
    "author_path",
    "is_emulated",
    "profile_url",
    "vk_is_emulated",
    "vk_url",
]

# The demo community's VK id (proxy/demo.py registers it): made up, whatever the settings say now.
DEMO_GROUP_ID = 200_000_001
# The demo's Telegram bot: its token (an emulated bot's, nobody's on Telegram) begins with its id.
DEMO_BOT_ID = 7_000_000_001
DEMO_BOT_TOKEN = f"{DEMO_BOT_ID}:demo-bot-token-of-the-emulator_00"
VK_WEB = "https://vk.com/"
TELEGRAM_WEB = "https://t.me/"


def vk_is_emulated(settings: Settings) -> bool:
    """Whether this service talks to an emulated VK instead of VK itself."""
    return settings.demo or settings.vk_api_base is not None


def is_emulated(settings: Settings, community: Community) -> bool:
    """Whether this community's network is an emulator (its ids are nobody's on vk.com or Telegram)."""
    if community.network == Network.TELEGRAM:
        return settings.demo or settings.telegram_api_base is not None or community.vk_group_id == DEMO_BOT_ID
    return vk_is_emulated(settings) or (
        community.network == Network.VK and community.vk_group_id == DEMO_GROUP_ID
    )


def author_path(vk_id: int) -> str:
    """The path of a VK user's (positive id) or community's (negative id) page."""
    return f"club{-vk_id}" if vk_id < 0 else f"id{vk_id}"


def vk_url(settings: Settings, community: Community | None, path: str) -> str | None:
    """`https://vk.com/{path}` for a real VK community; None for an emulated one, one on another network,
    or none at all."""
    if community is None or community.network != Network.VK or is_emulated(settings, community):
        return None
    return VK_WEB + path.lstrip("/")


def profile_url(settings: Settings, community: Community | None, author: Author) -> str | None:
    """An author's own page on the community's network: vk.com's for a real VK community; t.me/<username>
    for a Telegram person who has a username (a Telegram id alone opens no page), unless this service's
    Telegram is an emulator; None otherwise."""
    if community is None:
        return None
    if community.network == Network.TELEGRAM:
        if not author.screen_name or settings.telegram_api_base is not None:
            return None
        return TELEGRAM_WEB + author.screen_name
    return vk_url(settings, community, author_path(author.vk_id))
