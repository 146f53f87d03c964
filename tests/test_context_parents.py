"""What a comment conversation hangs on, on its page: the post from the community's own wall_post_new,
the photo, video, product or topic fetched once through the real vk_api client from the emulator, never on
the page's request; a failed fetch waits before it is tried again; the table of migration 0012."""

from __future__ import annotations

import dataclasses
import time

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from proxy import db as proxy_db
from proxy import thread_parents
from proxy.db.sql import SqlQuery
from proxy.models import Community, Conversation, Operator
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)
from tests.vk_callbacks import Delivery

LONG_POST = (
    "Друзья, мы открыли новый магазин на Невском проспекте! " * 8
    + "Последнее предложение поста видно только целиком."
)
PHOTO = {
    "type": "photo",
    "photo": {
        "id": 5,
        "owner_id": -1,
        "sizes": [
            {"type": "m", "width": 130, "height": 87, "url": "https://sun9-7.userapi.com/small.jpg"},
            {"type": "x", "width": 604, "height": 403, "url": "https://sun9-7.userapi.com/large.jpg"},
        ],
    },
}


async def _rows() -> list[dict]:
    return await SqlQuery().rows(
        "SELECT key, state, attempts, next_attempt_at FROM thread_parent ORDER BY id"
    )


async def test_a_wall_thread_shows_its_post_from_the_event(
    client_for, world, community: Community, operator: Operator
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    post = world.state.add_post(world.group, LONG_POST, attachments=[PHOTO])
    world.scenario.member_comments(world.group, world.members[0], post, "Во сколько открываетесь?")
    await deliver()

    conversation = await Conversation.get()
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert 'id="thread-parent"' in page and 'data-parent-state="loaded"' in page
    # The emulator's community: its post is nobody's on vk.com, so no link there (proxy/emulation.py).
    assert "vk.com/wall" not in page and "Open in VK" not in page and "Открыть во ВКонтакте" not in page
    assert 'src="https://sun9-7.userapi.com/large.jpg"' in page
    # Shortened, with the whole text behind "more".
    assert page.count("Последнее предложение поста видно только целиком.") == 1
    assert "thread-parent-more" in page
    assert [row["state"] for row in await _rows()] == ["loaded"]


@pytest.mark.parametrize("kind", ["photo", "video", "item", "topic"])
async def test_a_parent_no_event_carried_is_fetched_once_in_the_background(
    client_for, world, community: Community, operator: Operator, vk_settings: Settings, kind: str
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    target = getattr(world, kind)
    world.scenario.member_comments(
        world.group, world.members[0], target, "Есть другой цвет?", kind=target.kind
    )
    await deliver()
    conversation = await Conversation.get()
    # Any VK call made while the pages are read would take this fault (and count it).
    watch = world.state.faults.error(None, 10, times=1000)

    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert 'data-parent-state="pending"' in page and "Ещё не загружено из ВКонтакте." in page
    prefix = {"photo": "photo", "video": "video", "market": "product", "board": "topic"}[target.kind]
    stored = await SqlQuery().rows("SELECT url FROM thread_parent")
    assert [row["url"] for row in stored] == [f"https://vk.com/{prefix}{target.owner_id}_{target.id}"]
    assert "https://vk.com/" not in page  # the emulator's community: no link to a stranger's page
    await client.get(f"/conversations/{conversation.id}")  # a second view asks for nothing more
    assert len(await _rows()) == 1
    assert watch.times == 1000
    world.state.faults.clear()

    assert await thread_parents.fetch_due(vk_settings) == 1
    assert await thread_parents.fetch_due(vk_settings) == 0
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert 'data-parent-state="loaded"' in page
    assert target.text in page
    if target.kind in ("photo", "video", "market"):
        assert f"userapi.com/emulator/{target.kind}{target.owner_id}_{target.id}_x.jpg" in page


async def test_a_failed_fetch_waits_before_it_is_tried_again(
    client_for, world, community: Community, operator: Operator, vk_settings: Settings
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    world.scenario.member_comments(world.group, world.members[0], world.video, "Где купить?", kind="video")
    await deliver()
    conversation = await Conversation.get()
    await client.get(f"/conversations/{conversation.id}")
    world.state.faults.error("video.get", 10, times=None)

    now = time.time()
    assert await thread_parents.fetch_due(vk_settings, now=now) == 1
    [row] = await _rows()
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == pytest.approx(now + thread_parents.RETRY_SECONDS)
    # Page views meanwhile change nothing, and nothing is due.
    await client.get(f"/conversations/{conversation.id}")
    assert await thread_parents.fetch_due(vk_settings, now=now + 1) == 0

    assert await thread_parents.fetch_due(vk_settings, now=now + thread_parents.RETRY_SECONDS) == 1
    [row] = await _rows()
    assert (row["attempts"], row["next_attempt_at"]) == (
        2,
        pytest.approx(now + 3 * thread_parents.RETRY_SECONDS),
    )

    world.state.faults.clear()
    assert await thread_parents.fetch_due(vk_settings, now=now + 10 * thread_parents.RETRY_SECONDS) == 1
    assert [row["state"] for row in await _rows()] == ["loaded"]


async def test_a_parent_vk_no_longer_shows_is_missing_for_good(
    client_for, world, community: Community, operator: Operator, vk_settings: Settings
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    world.scenario.member_comments(world.group, world.members[0], world.item, "Есть размер M?", kind="market")
    await deliver()
    del world.group.targets[("market", world.item.id)]
    conversation = await Conversation.get()
    await client.get(f"/conversations/{conversation.id}")

    assert await thread_parents.fetch_due(vk_settings) == 1
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert 'data-parent-state="missing"' in page and "ВКонтакте больше не показывает" in page
    assert await thread_parents.fetch_due(vk_settings, now=time.time() + 10**6) == 0


async def test_a_dialog_has_no_parent(client_for, world, community: Community, operator: Operator) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    world.scenario.member_writes_message(world.group, world.members[0], "Здравствуйте")
    await deliver()
    conversation = await Conversation.get()
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert "thread-parent" not in page
    assert await _rows() == []


async def test_an_author_not_named_yet_is_a_vk_user_with_a_number(
    client_for, world, community: Community, operator: Operator
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    member = world.members[0]
    world.scenario.member_writes_message(world.group, member, "Здравствуйте")
    await deliver()
    conversation = await Conversation.get()
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert f"Пользователь ВКонтакте {member.id}" in page
    assert f"id{member.id}<" not in page and f">id{member.id}" not in page


async def test_the_reply_box_has_a_hidden_cue_for_answer_this(
    client_for, world, community: Community, operator: Operator
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    world.scenario.member_comments(world.group, world.members[0], world.post, "Вопрос")
    await deliver()
    conversation = await Conversation.get()
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert "data-reply-cue hidden" in page and "data-reply-cancel" in page and "js/reply_cue.js" in page


INSERT = (
    "INSERT INTO thread_parent (community_id, key, channel, owner_id, object_id, state, next_attempt_at, "
    "updated_at) VALUES ({community}, '{key}', 'wall', -1, 2, '{state}', 0, 0)"
)


async def test_migration_0012_adds_the_parents_table(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, "models.0011_journal_macs")
    await _migrate(empty_url)
    await proxy_db.open_database(empty_url)
    try:
        community = await Community.create(vk_group_id=1, name="c")
        db = connections.get("default")
        await db.execute_query(INSERT.format(community=community.id, key="wall:-1_2", state="pending"))
        rows = await SqlQuery().rows(
            "SELECT key, state, text, image_url, attempts, posted_at FROM thread_parent"
        )
        assert rows == [
            {
                "key": "wall:-1_2",
                "state": "pending",
                "text": "",
                "image_url": "",
                "attempts": 0,
                "posted_at": None,
            }
        ]
        with pytest.raises(IntegrityError):
            await db.execute_query(INSERT.format(community=community.id, key="wall:-1_2", state="pending"))
        with pytest.raises(IntegrityError):
            await db.execute_query(INSERT.format(community=community.id, key="wall:-1_3", state="gone"))
    finally:
        await proxy_db.close_database()


async def test_a_real_communitys_thread_links_its_post_in_vk(
    aiohttp_client, client_for, vk_settings: Settings, world, community: Community, operator: Operator
) -> None:
    """The same page for a community whose VK is VK itself: the post and its picture open on vk.com."""
    deliver = Delivery(world, await client_for(operator))
    post = world.state.add_post(world.group, "Открылись!", attachments=[PHOTO])
    world.scenario.member_comments(world.group, world.members[0], post, "Ура")
    await deliver()
    client = await aiohttp_client(create_app(dataclasses.replace(vk_settings, vk_api_base=None, demo=False)))
    await log_in(client, operator)
    # The emulator's first group has the demo's id, emulated whatever the settings: as a real one now.
    await Community.filter(id=community.id).update(vk_group_id=12345)

    conversation = await Conversation.get()
    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert page.count(f'href="https://vk.com/wall{post.owner_id}_{post.id}"') == 2  # the picture and the link
