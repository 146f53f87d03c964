"""Author names: fill in who wrote, from the network's profiles, after the events that brought the authors in.

Events carry only a numeric `from_id`, so ingest stores an author with an empty name; operators would
see "id123" everywhere. A background worker asks the connector (VK: proxy/connectors/vk/profiles.py)
with the token of any active community and writes name, screen name and photo as each answer comes.

The connector gives every id asked about a name, so nothing is asked twice. Failures of a call as a
whole (network, rate limit) leave the names not yet written empty for the next round.
"""

from __future__ import annotations

import asyncio
import logging

from proxy.communities import MissingToken
from proxy.connectors.base import AuthorProfile, CommunityClient, NetworkError
from proxy.connectors.registry import Connections
from proxy.models import Author, Community
from proxy.networks import community_client, connections
from proxy.settings import Settings

log = logging.getLogger(__name__)

# Authors asked about per round (VK's users.get takes up to 1,000 ids per call).
USERS_PER_CALL = 1000
INTERVAL_SECONDS = 10.0


def _any_client(settings: Settings, opened: Connections, communities: list[Community]) -> CommunityClient | None:
    """A client on some active community's token: profiles are public, any community may ask."""
    for community in communities:
        try:
            return community_client(settings, opened, community)
        except MissingToken:
            continue
    return None


async def _save(vk_id: int, profile: AuthorProfile) -> None:
    # Only authors still unnamed: a name written meanwhile (by another instance) stays.
    values = {"name": profile.name, "screen_name": profile.screen_name, "photo_url": profile.photo_url}
    await Author.filter(vk_id=vk_id, name="").update(**{k: v for k, v in values.items() if v is not None})


async def fill_author_names(
    settings: Settings, *, limit: int = USERS_PER_CALL, opened: Connections | None = None
) -> int:
    """Name up to `limit` unnamed authors; the number of authors asked about (0 when nothing to do).

    `opened`: the application's connections (without, the round opens its own)."""
    unnamed = await Author.filter(name="").order_by("id").limit(limit).values_list("vk_id", flat=True)
    if not unnamed:
        return 0
    communities = await Community.filter(is_active=True).order_by("id")
    async with connections(settings, opened) as current:
        client = _any_client(settings, current, communities)
        if client is None:
            return 0
        async for vk_id, profile in client.author_profiles(unnamed):
            await _save(vk_id, profile)
    return len(unnamed)


async def keep_names_filled(settings: Settings, opened: Connections) -> None:
    """Name authors round after round, forever (the runtime runs it while workers are on)."""
    while True:
        try:
            asked = await fill_author_names(settings, opened=opened)
        except NetworkError as exc:
            log.warning("author names: VK call failed, will retry: %s", exc)
            asked = 0
        except Exception:
            log.exception("author names: round failed, will retry")
            asked = 0
        # A full batch means more are waiting: go on at once.
        if asked < USERS_PER_CALL:
            await asyncio.sleep(INTERVAL_SECONDS)
