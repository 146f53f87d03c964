"""Authors' names from VK's profiles: users.get for people, groups.getById for communities writing as
themselves (negative ids).

Every id asked about gets a name, so the core never asks twice: VK answers an unknown or deleted user
with a "DELETED" stub, a user VK leaves out of its answer is named "id<id>", and a community VK refuses
to describe is named "club<id>" as VK itself does. A failure of a call as a whole (network, rate limit)
raises, leaving the rest for the core's next round.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from proxy.connectors.base import AuthorProfile

from .client import VkApiError, VkClient

log = logging.getLogger(__name__)

# users.get takes up to 1,000 ids per call; groups.getById up to 500.
USERS_PER_CALL = 1000
GROUPS_PER_CALL = 500
PROFILE_FIELDS = "screen_name,photo_100"


def _user_profile(user: dict[str, Any]) -> AuthorProfile:
    name = " ".join(part for part in (user.get("first_name", ""), user.get("last_name", "")) if part)
    return AuthorProfile(
        name=(name or f"id{user['id']}")[:255],
        screen_name=str(user.get("screen_name") or "")[:255],
        photo_url=str(user.get("photo_100") or "")[:1024],
    )


def _group_profile(group: dict[str, Any]) -> AuthorProfile:
    return AuthorProfile(
        name=str(group.get("name") or f"club{group['id']}")[:255],
        screen_name=str(group.get("screen_name") or "")[:255],
        photo_url=str(group.get("photo_100") or "")[:1024],
    )


async def _users(client: VkClient, ids: list[int]) -> AsyncIterator[tuple[int, AuthorProfile]]:
    # One call: the core asks about at most USERS_PER_CALL authors a round.
    users = await client.call("users.get", user_ids=",".join(map(str, ids)), fields=PROFILE_FIELDS)
    answered = set()
    for user in users or []:
        answered.add(int(user["id"]))
        yield int(user["id"]), _user_profile(user)
    for vk_id in set(ids) - answered:
        yield vk_id, AuthorProfile(name=f"id{vk_id}")


async def _groups(client: VkClient, ids: list[int]) -> AsyncIterator[tuple[int, AuthorProfile]]:
    group_ids = [-vk_id for vk_id in ids]
    try:
        answer = await client.call("groups.getById", group_ids=",".join(map(str, group_ids)), fields="screen_name")
    except VkApiError as exc:
        if len(group_ids) == 1:
            log.info("groups.getById refused club%s: %s", group_ids[0], exc)
            yield ids[0], AuthorProfile(name=f"club{group_ids[0]}")
            return
        # One bad id fails the whole batch: ask one by one to find it.
        for vk_id in ids:
            async for found in _groups(client, [vk_id]):
                yield found
        return
    groups = answer.get("groups", []) if isinstance(answer, dict) else answer
    for group in groups or []:
        yield -int(group["id"]), _group_profile(group)


async def author_profiles(client: VkClient, ids: Sequence[int]) -> AsyncIterator[tuple[int, AuthorProfile]]:
    """A profile for every id (people first, then communities), as each answer comes."""
    users = [vk_id for vk_id in ids if vk_id > 0]
    groups = [vk_id for vk_id in ids if vk_id < 0]
    if users:
        async for found in _users(client, users):
            yield found
    for start in range(0, len(groups), GROUPS_PER_CALL):
        async for found in _groups(client, groups[start : start + GROUPS_PER_CALL]):
            yield found
