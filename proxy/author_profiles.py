"""Author names: fill in who wrote, from the network's profiles, after the events that brought the authors in.

Events carry only a numeric `from_id`, so ingest stores an author with an empty name; operators would
see "id123" everywhere. A background worker asks the connector (VK: proxy/connectors/vk/profiles.py)
with the token of any active community and writes name, screen name and photo as each answer comes.

The connector gives every id asked about a name, so nothing is asked twice. Failures of a call as a
whole (network, rate limit) leave the names not yet written empty for the next round.

A round starts as soon as a new item arrives (the live hub's `item_created`, from any instance), not at
the next interval only, so a name is usually there before an operator opens the conversation; pages
already open on a newly named author's conversations are pushed again (`author_changed`,
`conversation_updated`), and show "VK user 123" only meanwhile (web/templates/_labels.html).
"""

from __future__ import annotations

import asyncio
import logging

from proxy.communities import MissingToken
from proxy.connectors.base import AuthorProfile, CommunityClient, NetworkError
from proxy.connectors.registry import Connections
from proxy.live import LiveHub, LiveMessage, new_item_or_timeout
from proxy.models import Author, Community, Conversation, ConversationStatus
from proxy.networks import community_client, connections
from proxy.settings import Settings

log = logging.getLogger(__name__)

# Authors asked about per round (VK's users.get takes up to 1,000 ids per call).
USERS_PER_CALL = 1000
INTERVAL_SECONDS = 10.0
# Pages pushed again after a round, at most (the open conversations of the authors it named).
PUSHED_CONVERSATIONS = 200


def _any_client(
    settings: Settings, opened: Connections, communities: list[Community]
) -> CommunityClient | None:
    """A client on some active community's token: profiles are public, any community may ask."""
    for community in communities:
        try:
            return community_client(settings, opened, community)
        except MissingToken:
            continue
    return None


async def _save(network: str, vk_id: int, profile: AuthorProfile) -> int:
    # Only authors still unnamed: a name written meanwhile (by another instance) stays.
    values = {"name": profile.name, "screen_name": profile.screen_name, "photo_url": profile.photo_url}
    return await Author.filter(network=network, vk_id=vk_id, name="").update(
        **{k: v for k, v in values.items() if v is not None}
    )


async def fill_author_names(
    settings: Settings, *, limit: int = USERS_PER_CALL, opened: Connections | None = None
) -> int:
    """Name up to `limit` unnamed authors; the number of authors asked about (0 when nothing to do).

    `opened`: the application's connections (without, the round opens its own)."""
    asked, _ = await _name_round(settings, limit=limit, opened=opened)
    return asked


async def _name_round(settings: Settings, *, limit: int, opened: Connections | None) -> tuple[int, list[int]]:
    """(authors asked about, ids of those this round named). Each network's authors are asked of a
    client of that network: the same number on two networks is two people."""
    asked, named = 0, []
    for network in await Community.filter(is_active=True).distinct().values_list("network", flat=True):
        unnamed = (
            await Author.filter(network=network, name="")
            .order_by("id")
            .limit(limit)
            .values_list("vk_id", flat=True)
        )
        if not unnamed:
            continue
        communities = await Community.filter(is_active=True, network=network).order_by("id")
        async with connections(settings, opened) as current:
            client = _any_client(settings, current, communities)
            if client is None:
                continue
            asked += len(unnamed)
            async for vk_id, profile in client.author_profiles(unnamed):
                if await _save(network, vk_id, profile):
                    named.append(vk_id)
    return asked, named


async def _push_named(live: LiveHub, named: list[int]) -> None:
    """Open pages of the named authors' open conversations show the names (their inbox rows too)."""
    if not named:
        return
    rows = (
        await Conversation.filter(author__vk_id__in=named, status=ConversationStatus.OPEN)
        .order_by("-last_item_at")
        .limit(PUSHED_CONVERSATIONS)
        .values_list("id", "community_id")
    )
    for conversation_id, community_id in rows:
        data = {"community_id": community_id, "conversation_id": conversation_id}
        await live.publish("author_changed", data)
        await live.publish("conversation_updated", data)


async def _new_item_or_interval(queue: asyncio.Queue[LiveMessage] | None) -> None:
    """Wait until an item arrives (its author may be new) or the interval passes."""
    await new_item_or_timeout(queue, INTERVAL_SECONDS)


async def keep_names_filled(settings: Settings, opened: Connections, live: LiveHub | None = None) -> None:
    """Name authors round after round, forever (the runtime runs it while workers are on): at once when
    an item arrives (`live`), else every interval."""
    if live is None:
        await _rounds(settings, opened, None, None)
        return
    async with live.subscribe() as queue:
        await _rounds(settings, opened, live, queue)


async def _rounds(
    settings: Settings, opened: Connections, live: LiveHub | None, queue: asyncio.Queue[LiveMessage] | None
) -> None:
    while True:
        try:
            asked, named = await _name_round(settings, limit=USERS_PER_CALL, opened=opened)
            if live is not None:
                await _push_named(live, named)
        except NetworkError as exc:
            log.warning("author names: VK call failed, will retry: %s", exc)
            asked = 0
        except Exception:
            log.exception("author names: round failed, will retry")
            asked = 0
        # A full batch means more are waiting: go on at once.
        if asked < USERS_PER_CALL:
            await _new_item_or_interval(queue)
