"""The demo tells the truth: its pages say VK is emulated, the connection test says it talked to the
emulator, no link leads to vk.com pages of made-up ids (real communities keep theirs), and its traffic
shows every feature, admins acting directly in VK included, within one round."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from proxy import db as proxy_db
from proxy.appkeys import SETTINGS
from proxy.communities import community_token
from proxy.connectors.vk.client import VkClient
from proxy.connectors.vk.longpoll import LongPollConsumer
from proxy.connectors.vk.transport import http_session
from proxy.crypto import encrypt_token
from proxy.emulation import DEMO_GROUP_ID, is_emulated, vk_url
from proxy.inbound import StoreLongPollSink
from proxy.live import LiveHub
from proxy.models import (
    Community,
    CommunityMode,
    Conversation,
    DeletedVia,
    Item,
    ItemTombstone,
    ItemVersion,
    JournalEntry,
    Operator,
)
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token, log_in
from tests.demo_fixtures import *  # noqa: F403
from vk_emulator import DemoTraffic, EmulatorState, World, build_demo_world, start_emulator
from vk_emulator.demo_traffic import DEMO_ROUND

BANNER = "Demo: VK is emulated, no real community is connected"
BANNER_RU = "Демо: VK эмулируется, настоящего сообщества нет"


# --- the one rule for links to VK -----------------------------------------------------------------


async def test_vk_links_only_for_real_communities(db: str, settings: Settings) -> None:
    real = await Community.create(vk_group_id=1234, name="real")
    demo = await Community.create(vk_group_id=DEMO_GROUP_ID, name="demo")
    assert settings.vk_api_base is None and not settings.demo
    assert vk_url(settings, real, "id5") == "https://vk.com/id5"
    assert vk_url(settings, real, "/wall-1234_7") == "https://vk.com/wall-1234_7"
    # The demo's community is made up whatever the settings say.
    assert vk_url(settings, demo, "id5") is None
    # A service whose VK is an emulator has no real community at all.
    emulated = dataclasses.replace(settings, vk_api_base="http://127.0.0.1:9")
    assert vk_url(emulated, real, "id5") is None
    assert is_emulated(emulated, real) and is_emulated(settings, demo) and not is_emulated(settings, real)
    assert vk_url(settings, None, "id5") is None


@pytest.fixture
def world() -> World:
    """The test world, its community numbered after the demo's (the emulator's first id is the demo's)."""
    state = EmulatorState()
    state.add_group("Другое сообщество", group_id=DEMO_GROUP_ID)
    return World.create(state)


async def _author_card(client: TestClient, conversation_id: int) -> str:
    response = await client.get(f"/conversations/{conversation_id}")
    assert response.status == 200
    html = await response.text()
    return html[html.index('id="author-card"') :].split("</section>")[0]


async def test_profile_link_for_a_real_community(
    aiohttp_client: Any, settings: Settings, mirror: Any, operator: Operator
) -> None:
    member = mirror.world.members[0]
    conversation, _, _ = await mirror.message(member, "Здравствуйте")
    # The community seen by a service talking to VK itself: a link to the member's page.
    client = await aiohttp_client(create_app(settings))
    operator.locale = "en"
    await operator.save(update_fields=["locale"])
    await log_in(client, operator)
    card = await _author_card(client, conversation.id)
    assert f'href="https://vk.com/id{member.id}"' in card
    assert "Profile in VK" in card
    await proxy_db.close_database()


async def test_no_profile_link_for_an_emulated_community(
    aiohttp_client: Any, vk_settings: Settings, mirror: Any, operator: Operator
) -> None:
    member = mirror.world.members[0]
    conversation, _, _ = await mirror.message(member, "Здравствуйте")
    # Seen by a service whose VK is the emulator: the id as text, no link to vk.com at all.
    client = await aiohttp_client(create_app(vk_settings))
    operator.locale = "en"
    await operator.save(update_fields=["locale"])
    await log_in(client, operator)
    card = await _author_card(client, conversation.id)
    assert "vk.com/id" not in card and "Profile in VK" not in card
    assert f"VK id {member.id} (emulated VK: no page on vk.com)" in card
    await proxy_db.close_database()


# --- the demo as `make run` starts it ---------------------------------------------------------------


async def test_demo_pages_say_vk_is_emulated(
    aiohttp_client: Any, demo_server: TestServer, demo_admin: Operator
) -> None:
    client = await aiohttp_client(demo_server)
    login = await (await client.get("/login")).text()
    assert BANNER_RU in login  # the login page speaks the default language
    await log_in(client, demo_admin)
    inbox = await (await client.get("/")).text()
    assert 'id="demo-banner"' in inbox and BANNER in inbox
    # The banner is its own element above the header, which keeps the navigation.
    assert inbox.index('id="demo-banner"') < inbox.index('<header class="topbar">')
    demo = await Community.get(vk_group_id=DEMO_GROUP_ID)
    listing = await (await client.get("/admin/communities")).text()
    row = listing[listing.index(f'href="/admin/communities/{demo.id}"') :].split("</tr>")[0]
    assert "Emulated VK" in row
    page = await (await client.get(f"/admin/communities/{demo.id}")).text()
    assert "This community is emulated" in page


async def test_demo_connection_test_says_it_talked_to_the_emulator(
    aiohttp_client: Any, demo_server: TestServer, demo_admin: Operator
) -> None:
    client = await aiohttp_client(demo_server)
    await log_in(client, demo_admin)
    demo = await Community.get(vk_group_id=DEMO_GROUP_ID)
    token = await csrf_token(client)
    response = await client.post(
        f"/admin/communities/{demo.id}/test", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert response.status == 200
    html = await response.text()
    emulator = demo_server.app[SETTINGS].vk_api_base
    assert f"These answers come from the VK emulator at {emulator}, not from VK" in html
    assert "The VK emulator accepts the community token of" in html
    assert "The VK emulator accepts the admin token of" in html
    assert "VK accepts" not in html.replace("VK emulator accepts", "")
    entry = await JournalEntry.filter(action="community.test").order_by("-id").first()
    assert entry is not None and entry.params["results"]["emulator"] == "warning"


async def test_demo_author_card_links_nowhere(
    aiohttp_client: Any, demo_server: TestServer, demo_admin: Operator
) -> None:
    client = await aiohttp_client(demo_server)
    await log_in(client, demo_admin)
    # The demo's warm-up writes at once: wait for its first member to reach the inbox.
    conversation = None
    for _ in range(150):
        conversation = await Conversation.filter(author_id__isnull=False).first()
        if conversation is not None:
            break
        await asyncio.sleep(0.2)
    assert conversation is not None, "the demo wrote nothing in 30 s"
    card = await _author_card(client, conversation.id)
    assert "https://vk.com" not in card
    assert "(emulated VK: no page on vk.com)" in card


# --- the demo's traffic: every feature within a round, the direct admin actions journaled -----------


async def _ingest_all(settings: Settings, community: Community, state: EmulatorState, group_id: int) -> None:
    """Everything the emulator emitted, through Bots Long Poll into the proxy."""
    async with aiohttp.ClientSession() as http:
        consumer = LongPollConsumer(
            VkClient(community_token(settings, community), session=http_session(settings.vk_api_base)),
            community.vk_group_id,
            http,
            StoreLongPollSink(settings, LiveHub(), community),
            start_ts=str(state.groups[group_id].first_ts()),
            wait=0,
            catch_up_at_start=False,
        )
        while int(consumer.ts or 0) < state.groups[group_id].next_ts:
            await consumer.step()


@pytest.mark.parametrize("paced", [False, True], ids=["steps", "run"])
async def test_one_round_shows_every_feature_and_the_proxy_journals_the_admins(
    db: str, settings: Settings, paced: bool
) -> None:
    state = EmulatorState()
    state.enforce_rate_limits = False
    group = build_demo_world(state, group_id=DEMO_GROUP_ID)
    emulator = await start_emulator(state)
    try:
        wired = dataclasses.replace(settings, vk_api_base=emulator.base_url)
        community = await Community.create(
            vk_group_id=group.id,
            name=group.name,
            mode=CommunityMode.LONGPOLL,
            community_token_enc=encrypt_token(settings.secret_key, group.community_token),
            admin_token_enc=encrypt_token(settings.secret_key, group.admin_token),
            admin_vk_user_id=group.admin_user_id,
        )
        # A whole round at 6,000 steps a minute (the pace is a parameter), or step by step.
        traffic = DemoTraffic(state, group, per_minute=6000.0, rng=random.Random(11))
        if paced:
            async with asyncio.timeout(30):
                await traffic.run(max_actions=len(DEMO_ROUND))
        else:
            for _ in DEMO_ROUND:
                traffic.step()
        assert set(traffic.done) == set(DEMO_ROUND) - {"banned_attempt"} | {"refused"}
        await _ingest_all(wired, community, state, group.id)
    finally:
        await emulator.close()

    # What the admins did directly in VK, noticed and journaled as theirs.
    journaled = set(await JournalEntry.filter(actor_kind="outside").values_list("action", flat=True))
    assert {"vk.reply", "vk.delete", "vk.ban"} <= journaled
    replies = await JournalEntry.filter(action="vk.reply").count()
    assert replies >= 2  # the dialog answered in VK and the comment answered as the community
    # New items, edits and deletions by their authors and by the admin reached the proxy.
    assert await Item.filter(community_id=community.id).count() >= 6
    assert await ItemVersion.filter(number__gte=2).count() >= 2  # a message and a comment edited
    vias = set(await ItemTombstone.all().values_list("deleted_via", flat=True))
    assert {DeletedVia.AUTHOR, DeletedVia.VK_ADMIN} <= vias
    # The spam and its author are in the inbox, the author banned.
    spam = await Item.filter(community_id=community.id).prefetch_related("versions")
    texts = [v.text for item in spam for v in item.versions]
    assert any(re.search("ссылк|личку|айфон", t) for t in texts)
