"""Author names: fill in who wrote, from VK's profiles, after the events that brought the authors in.

Events carry only a numeric `from_id`, so ingest stores an author with an empty name; operators would
see "id123" everywhere. A background worker asks VK in batches (users.get for people, groups.getById
for communities writing as themselves, which have negative ids) with the token of any active community
and writes name, screen name and photo.

Every id asked about gets a name, so nothing is asked twice: VK answers an unknown or deleted user with a
"DELETED" stub, and a community VK refuses to describe is named "club<id>" as VK itself does. Failures of
the call as a whole (network, rate limit) leave the names empty for the next round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from proxy.communities import MissingToken
from proxy.connectors.vk.client import VkApiError, VkClient, VkError
from proxy.models import Author, Community
from proxy.settings import Settings
from proxy.vk_clients import community_client

log = logging.getLogger(__name__)

# users.get takes up to 1,000 ids per call; groups.getById up to 500.
USERS_PER_CALL = 1000
GROUPS_PER_CALL = 500
INTERVAL_SECONDS = 10.0
PROFILE_FIELDS = "screen_name,photo_100"


async def _any_client(settings: Settings) -> VkClient | None:
    """A client on some active community's token: profiles are public, any community may ask."""
    for community in await Community.filter(is_active=True).order_by("id"):
        try:
            return community_client(settings, community)
        except MissingToken:
            continue
    return None


def _user_profile(user: dict[str, Any]) -> dict[str, str]:
    name = " ".join(part for part in (user.get("first_name", ""), user.get("last_name", "")) if part)
    return {
        "name": (name or f"id{user['id']}")[:255],
        "screen_name": str(user.get("screen_name") or "")[:255],
        "photo_url": str(user.get("photo_100") or "")[:1024],
    }


def _group_profile(group: dict[str, Any]) -> dict[str, str]:
    return {
        "name": str(group.get("name") or f"club{group['id']}")[:255],
        "screen_name": str(group.get("screen_name") or "")[:255],
        "photo_url": str(group.get("photo_100") or "")[:1024],
    }


async def _save(vk_id: int, profile: dict[str, str]) -> None:
    # Only authors still unnamed: a name written meanwhile (by another instance) stays.
    await Author.filter(vk_id=vk_id, name="").update(**profile)


async def _fill_users(client: VkClient, ids: list[int]) -> None:
    users = await client.call("users.get", user_ids=",".join(map(str, ids)), fields=PROFILE_FIELDS)
    answered = set()
    for user in users or []:
        answered.add(int(user["id"]))
        await _save(int(user["id"]), _user_profile(user))
    for vk_id in set(ids) - answered:
        await _save(vk_id, {"name": f"id{vk_id}"})


async def _fill_groups(client: VkClient, ids: list[int]) -> None:
    group_ids = [-vk_id for vk_id in ids]
    try:
        answer = await client.call("groups.getById", group_ids=",".join(map(str, group_ids)), fields="screen_name")
    except VkApiError as exc:
        if len(group_ids) == 1:
            log.info("groups.getById refused club%s: %s", group_ids[0], exc)
            await _save(ids[0], {"name": f"club{group_ids[0]}"})
            return
        # One bad id fails the whole batch: ask one by one to find it.
        for vk_id in ids:
            await _fill_groups(client, [vk_id])
        return
    groups = answer.get("groups", []) if isinstance(answer, dict) else answer
    for group in groups or []:
        await _save(-int(group["id"]), _group_profile(group))


async def fill_author_names(settings: Settings, *, limit: int = USERS_PER_CALL) -> int:
    """Name up to `limit` unnamed authors; the number of authors asked about (0 when nothing to do)."""
    unnamed = await Author.filter(name="").order_by("id").limit(limit).values_list("vk_id", flat=True)
    if not unnamed:
        return 0
    client = await _any_client(settings)
    if client is None:
        return 0
    users = [vk_id for vk_id in unnamed if vk_id > 0]
    groups = [vk_id for vk_id in unnamed if vk_id < 0]
    if users:
        await _fill_users(client, users)
    for start in range(0, len(groups), GROUPS_PER_CALL):
        await _fill_groups(client, groups[start : start + GROUPS_PER_CALL])
    return len(unnamed)


async def keep_names_filled(settings: Settings) -> None:
    """Name authors round after round, forever (the runtime runs it while workers are on)."""
    while True:
        try:
            asked = await fill_author_names(settings)
        except VkError as exc:
            log.warning("author names: VK call failed, will retry: %s", exc)
            asked = 0
        except Exception:
            log.exception("author names: round failed, will retry")
            asked = 0
        # A full batch means more are waiting: go on at once.
        if asked < USERS_PER_CALL:
            await asyncio.sleep(INTERVAL_SECONDS)
