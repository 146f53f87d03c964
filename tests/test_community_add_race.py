"""Two admins adding the same community, or the same bot, at the same moment: one is added and journaled
once, the other is told it is already served (before, the second met the unique index: a 500)."""

from __future__ import annotations

import asyncio

from proxy import communities
from proxy.communities import CommunityError
from proxy.models import Community, JournalEntry, Network
from proxy.settings import Settings

BOT_TOKEN = "7000000123:AAH-race-token-0123456789abcdefghijkl"


async def _both(settings: Settings, add) -> list[object]:
    return await asyncio.gather(*(add(name) for name in ("first", "second")), return_exceptions=True)


def _refusal(outcomes: list[object]) -> CommunityError:
    added = [o for o in outcomes if isinstance(o, Community)]
    refused = [o for o in outcomes if isinstance(o, CommunityError)]
    assert (len(added), len(refused)) == (1, 1), outcomes
    return refused[0]


async def test_the_same_vk_community_added_twice_at_once_is_added_once(db: str, settings: Settings) -> None:
    async def add(name: str) -> Community:
        return await communities.add_community(
            settings, vk_group_id=555, name=name, secret="s3cret", confirmation="abc123"
        )

    refusal = _refusal(await _both(settings, add))
    assert refusal.field == "vk_group_id" and "already served" in str(refusal)
    assert await Community.filter(network=Network.VK, vk_group_id=555).count() == 1
    assert await JournalEntry.filter(action="community.add").count() == 1


async def test_the_same_bot_added_twice_at_once_is_added_once(db: str, settings: Settings) -> None:
    async def add(name: str) -> Community:
        return await communities.add_bot(settings, name=name, bot_token=BOT_TOKEN, secret="s" * 32)

    refusal = _refusal(await _both(settings, add))
    assert refusal.field == "bot_token" and "already served" in str(refusal)
    assert await Community.filter(network=Network.TELEGRAM, vk_group_id=7000000123).count() == 1
    assert await JournalEntry.filter(action="community.add").count() == 1
