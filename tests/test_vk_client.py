"""The async VK client: the real vk_api over real HTTP to the emulator, errors, rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestServer

from proxy.connectors.vk.client import (
    ERROR_MESSAGES,
    RateLimiter,
    VkApiError,
    VkClient,
    VkNetworkError,
    VkRuntime,
    needs_user_token,
)
from proxy.connectors.vk.transport import DEFAULT_TIMEOUT, TimeoutHTTPAdapter, emulator_session
from vk_emulator import World, create_emulator_app


@pytest.fixture
def world() -> World:
    return World.create()


@pytest.fixture
async def server(aiohttp_server: Any, world: World) -> TestServer:
    return await aiohttp_server(create_emulator_app(world.state))


@pytest.fixture
def session(server: TestServer) -> Iterator[requests.Session]:
    http = emulator_session(str(server.make_url("")), timeout=2.0)
    yield http
    http.close()


@pytest.fixture
def community(world: World, session: requests.Session) -> VkClient:
    return VkClient(world.group.community_token, session=session)


@pytest.fixture
def admin(world: World, session: requests.Session) -> VkClient:
    return VkClient(world.group.admin_token, kind="user", session=session)


async def test_calls_reach_the_emulator_with_api_version_5_199(community: VkClient, world: World) -> None:
    response = await community.call("groups.getById", group_id=world.group.id)
    assert response["groups"][0]["id"] == world.group.id
    calls = world.state.calls[world.group.community_token]
    assert [(c.method, c.version) for c in calls] == [("groups.getById", "5.199")]


async def test_lists_and_booleans_are_encoded_like_vk_expects(community: VkClient, world: World) -> None:
    first, second = world.members[:2]
    users = await community.call("users.get", user_ids=[first.id, second.id], fields=None)
    assert [u["first_name"] for u in users] == [first.first_name, second.first_name]
    world.scenario.member_writes_message(world.group, first, "Раз")
    history = await community.call("messages.getHistory", peer_id=first.id, extended=True)
    assert {p["id"] for p in history["profiles"]} == {first.id}


async def test_send_retried_with_the_same_random_id_posts_once(community: VkClient, world: World) -> None:
    member = world.members[0]
    world.scenario.member_writes_message(world.group, member, "Здравствуйте!")
    first = await community.call("messages.send", peer_id=member.id, message="Добрый день", random_id=12345)
    again = await community.call("messages.send", peer_id=member.id, message="Добрый день", random_id=12345)
    assert first == again
    assert len(world.state.events(world.group.id, "message_reply")) == 1


async def test_both_vk_hosts_are_routed_to_the_emulator(session: requests.Session, world: World) -> None:
    for host in ("api.vk.ru", "api.vk.com"):
        response = await asyncio.to_thread(
            session.post,
            f"https://{host}/method/users.get",
            {"access_token": world.group.community_token, "v": "5.199", "user_ids": world.members[0].id},
        )
        assert response.json()["response"][0]["id"] == world.members[0].id


async def test_community_token_moderation_is_a_permanent_error(
    community: VkClient, admin: VkClient, world: World
) -> None:
    comment = world.scenario.member_comments(world.group, world.members[0], world.post, "Спам")
    assert needs_user_token("wall.deleteComment")
    with pytest.raises(VkApiError) as caught:
        await community.call("wall.deleteComment", owner_id=-world.group.id, comment_id=comment.id)
    error = caught.value
    assert (error.code, error.transient, error.method) == (27, False, "wall.deleteComment")
    assert error.message == "Group authorization failed: method is unavailable with group auth."
    assert error.operator_message == "this action needs the admin user token, not the community token"
    assert await admin.call("wall.deleteComment", owner_id=-world.group.id, comment_id=comment.id) == 1


async def test_denied_messages_and_bad_tokens(
    community: VkClient, world: World, session: requests.Session
) -> None:
    with pytest.raises(VkApiError) as denied:
        await community.call("messages.send", peer_id=world.members[2].id, message="Привет", random_id=1)
    assert denied.value.code == 901
    assert denied.value.operator_message == ERROR_MESSAGES[901]
    assert not denied.value.transient
    stranger = VkClient("vk1.a.unknown", session=session)
    with pytest.raises(VkApiError) as unknown:
        await stranger.call("users.get")
    assert (unknown.value.code, unknown.value.transient) == (5, False)


@pytest.mark.parametrize(
    ("code", "transient"), [(1, True), (6, True), (9, True), (10, True), (15, False), (902, False)]
)
async def test_error_codes_are_classified(
    community: VkClient, world: World, code: int, transient: bool
) -> None:
    world.state.faults.error("users.get", code)
    with pytest.raises(VkApiError) as caught:
        await community.call("users.get", user_ids=world.members[0].id)
    assert caught.value.code == code
    assert caught.value.transient is transient


async def test_error_6_surfaces_at_once_instead_of_vk_api_retrying(community: VkClient, world: World) -> None:
    world.state.faults.error("users.get", 6, times=None)
    started = time.monotonic()
    with pytest.raises(VkApiError) as caught:
        await community.call("users.get", user_ids=world.members[0].id)
    assert caught.value.code == 6
    assert time.monotonic() - started < 0.5
    assert len(world.state.calls[world.group.community_token]) == 1


async def test_captcha_is_an_error_not_a_prompt(community: VkClient, world: World) -> None:
    world.state.faults.error("messages.send", 14)
    with pytest.raises(VkApiError) as caught:
        await community.call("messages.send", peer_id=1, message="x", random_id=1)
    assert caught.value.code == 14


@pytest.mark.parametrize("fault", [{"drop": True}, {"http_status": 502}, {"delay": 1.0}])
async def test_transport_failures_are_transient_network_errors(
    server: TestServer, world: World, fault: dict[str, Any]
) -> None:
    world.state.faults.add_from_json({"method": "users.get", **fault})
    http = emulator_session(str(server.make_url("")), timeout=0.3)
    client = VkClient(world.group.community_token, session=http)
    started = time.monotonic()
    try:
        with pytest.raises(VkNetworkError) as caught:
            await client.call("users.get", user_ids=world.members[0].id)
    finally:
        http.close()
    assert caught.value.transient
    assert time.monotonic() - started < 0.9
    assert caught.value.operator_message


async def test_connection_refused_is_a_network_error(world: World) -> None:
    http = emulator_session("http://127.0.0.1:9", timeout=0.5)
    try:
        with pytest.raises(VkNetworkError):
            await VkClient(world.group.community_token, session=http).call("users.get")
    finally:
        http.close()


async def test_default_session_has_a_timeout(world: World) -> None:
    client = VkClient(world.group.community_token)
    try:
        adapter = client.session.get_adapter("https://api.vk.ru/method/users.get")
        assert isinstance(adapter, TimeoutHTTPAdapter)
        assert adapter.timeout == DEFAULT_TIMEOUT
    finally:
        client.session.close()


# --- rate limiting -----------------------------------------------------------------------------


def test_rate_limiter_books_a_sliding_window() -> None:
    now = [100.0]
    limiter = RateLimiter(3, 1.0, margin=0.1, clock=lambda: now[0])
    assert [round(limiter.reserve(), 3) for _ in range(3)] == [0, 0, 0]
    assert round(limiter.reserve(), 3) == 1.1
    assert round(limiter.reserve(), 3) == 1.1
    now[0] = 102.0
    assert limiter.reserve() == 0


def test_limiters_are_shared_per_token() -> None:
    limiter_for = VkRuntime().limiter_for
    assert limiter_for("token-a", "community") is limiter_for("token-a", "community")
    assert limiter_for("token-a", "community") is not limiter_for("token-b", "community")
    assert limiter_for("token-c", "user").limit == 3  # type: ignore[attr-defined]
    assert limiter_for("token-d", "community").limit == 20  # type: ignore[attr-defined]


async def test_clients_sharing_a_token_stay_under_20_per_second(
    world: World, session: requests.Session
) -> None:
    token = world.group.community_token
    runtime = VkRuntime()  # the application's: one limiter per token for all its clients
    clients = [runtime.client(token, session=session) for _ in range(3)]
    started = time.monotonic()
    results = await asyncio.gather(
        *(clients[i % 3].call("users.get", user_ids=world.members[0].id) for i in range(26)),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - started
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert world.state.max_calls_in_window(token) <= 20
    assert 1.0 < elapsed < 3.0


async def test_user_token_stays_under_3_per_second(world: World, admin: VkClient) -> None:
    results = await asyncio.gather(*(admin.call("users.get") for _ in range(4)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert world.state.max_calls_in_window(world.group.admin_token) <= 3
