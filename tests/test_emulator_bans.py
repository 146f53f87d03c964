"""The emulator keeps its blacklist: a banned member can neither comment nor write to the community, as
in VK, until unbanned or the ban's end date; the demo traffic never writes as a banned member again."""

from __future__ import annotations

import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from vk_emulator import DemoTraffic, EmulatorState, VkFault, World, build_demo_world, create_emulator_app
from vk_emulator.demo_traffic import DEMO_ROUND


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


async def api(client: TestClient, method: str, token: str, **params: Any) -> dict[str, Any]:
    form = {k: str(v) for k, v in params.items()} | {"v": "5.199", "access_token": token}
    response = await client.post(f"/method/{method}", data=form)
    assert response.status == 200
    return await response.json()


def test_a_banned_member_cannot_comment_or_write() -> None:
    world = World.create()
    scenario, group, (anna, boris, _) = world.scenario, world.group, world.members
    scenario.admin_bans_in_vk(group, anna, comment="спам")
    events = len(world.state.events(group.id))
    with pytest.raises(VkFault) as refused:
        scenario.member_comments(group, anna, world.post, "снова я")
    assert refused.value.code == 213
    for kind, target in (("photo", world.photo), ("video", world.video), ("market", world.item)):
        with pytest.raises(VkFault):
            scenario.member_comments(group, anna, target, "снова я", kind=kind)
    with pytest.raises(VkFault):
        scenario.member_posts_in_board(group, anna, world.topic, "снова я")
    with pytest.raises(VkFault) as refused:
        scenario.member_writes_message(group, anna, "пустите")
    assert refused.value.code == 902
    # Nothing reached the event log: VK sends no event for what it refused.
    assert len(world.state.events(group.id)) == events
    # Others are not affected.
    scenario.member_comments(group, boris, world.post, "а я могу")
    scenario.member_writes_message(group, boris, "и написать могу")
    # Unbanned, she may write again.
    scenario.admin_unbans_in_vk(group, anna)
    scenario.member_comments(group, anna, world.post, "я вернулась")
    scenario.member_writes_message(group, anna, "и пишу")


def test_a_ban_with_an_end_date_lapses_then() -> None:
    clock = Clock()
    world = World.create(EmulatorState(clock=clock))
    scenario, group, anna = world.scenario, world.group, world.members[0]
    scenario.admin_bans_in_vk(group, anna, end_date=int(clock.now) + 3600)
    with pytest.raises(VkFault):
        scenario.member_comments(group, anna, world.post, "ещё бан")
    clock.now += 3600
    assert scenario.member_comments(group, anna, world.post, "бан кончился").text == "бан кончился"


async def test_a_ban_through_the_api_holds_for_the_scenario(aiohttp_client: Any) -> None:
    """An operator's ban through the proxy is a groups.ban call: from then on the member is refused."""
    world = World.create()
    vk = await aiohttp_client(create_emulator_app(world.state))
    anna = world.members[0]
    answer = await api(
        vk, "groups.ban", world.group.admin_token, group_id=world.group.id, owner_id=anna.id, comment="спам"
    )
    assert answer == {"response": 1}
    with pytest.raises(VkFault):
        world.scenario.member_comments(world.group, anna, world.post, "я всё ещё здесь")
    await api(vk, "groups.unban", world.group.admin_token, group_id=world.group.id, owner_id=anna.id)
    world.scenario.member_comments(world.group, anna, world.post, "снова здесь")


def test_the_demo_traffic_stops_writing_as_a_banned_member() -> None:
    state = EmulatorState()
    group = build_demo_world(state)
    traffic = DemoTraffic(state, group, rng=random.Random(3))
    banned = next(u for u in state.users.values() if u.id != group.admin_user_id)
    # The operator bans her through the proxy (the emulator's groups.ban does exactly this).
    state.ban(group, banned.id, group.admin_user_id, comment="спам")
    before = len(state.events(group.id))
    for _ in range(len(DEMO_ROUND) * 5):
        traffic.step()
    written = state.events(group.id)[before:]
    authors = {
        (e["object"].get("message") or e["object"]).get("from_id")
        for e in written
        if e["type"].endswith("_new") or e["type"].endswith("_edit")
    }
    assert banned.id not in authors
    assert len(authors) > 2  # the others went on writing
    # The scenario's own spammer, banned by the admin in VK, tried again each round and was refused.
    assert traffic.done["refused"] == 5
    assert traffic.done["admin_ban"] == 5
