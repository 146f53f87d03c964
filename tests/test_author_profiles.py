"""Author names come from VK's profiles: people through users.get, communities through groups.getById."""

from __future__ import annotations

import dataclasses

from proxy.author_profiles import fill_author_names
from proxy.models import Author, Community
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403


def _methods(world, token: str) -> list[str]:
    return [record.method for record in world.state.calls.get(token, ())]


async def test_people_and_communities_are_named_once(
    vk_settings: Settings, community: Community, world
) -> None:
    member = world.members[0]
    other_group = world.state.add_group("Соседнее сообщество")
    await Author.create(vk_id=member.id)
    await Author.create(vk_id=-other_group.id)
    await Author.create(vk_id=999_999_999)  # unknown to VK: answered with its "DELETED" stub

    asked = await fill_author_names(vk_settings)

    assert asked == 3
    names = dict(await Author.all().values_list("vk_id", "name"))
    assert names == {
        member.id: f"{member.first_name} {member.last_name}",
        -other_group.id: "Соседнее сообщество",
        999_999_999: "DELETED",
    }
    assert (await Author.get(vk_id=-other_group.id)).screen_name == f"club{other_group.id}"
    calls = _methods(world, world.group.community_token)
    assert calls.count("users.get") == 1 and calls.count("groups.getById") == 1

    # Everyone has a name now: the next round asks VK nothing.
    assert await fill_author_names(vk_settings) == 0
    assert len(_methods(world, world.group.community_token)) == len(calls)


async def test_a_community_vk_refuses_gets_its_club_name_and_the_others_still_theirs(
    vk_settings: Settings, community: Community, world
) -> None:
    other_group = world.state.add_group("Есть такое")
    await Author.create(vk_id=-other_group.id)
    await Author.create(vk_id=-777)

    await fill_author_names(vk_settings)

    names = dict(await Author.all().values_list("vk_id", "name"))
    assert names == {-other_group.id: "Есть такое", -777: "club777"}


async def test_a_name_written_meanwhile_is_kept(vk_settings: Settings, community: Community, world) -> None:
    member = world.members[1]
    author = await Author.create(vk_id=member.id)
    await Author.filter(id=author.id).update(name="Уже известен")

    assert await fill_author_names(vk_settings) == 0
    assert (await Author.get(id=author.id)).name == "Уже известен"


async def test_without_any_community_token_nothing_is_asked_and_nothing_changes(
    vk_settings: Settings, community: Community, world
) -> None:
    await Community.filter(id=community.id).update(community_token_enc="")
    await Author.create(vk_id=world.members[0].id)

    assert await fill_author_names(dataclasses.replace(vk_settings)) == 0
    assert (await Author.get(vk_id=world.members[0].id)).name == ""
    assert _methods(world, world.group.community_token) == []
