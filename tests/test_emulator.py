"""The VK emulator speaks VK's wire format: API envelopes, token rules, events, long poll, callbacks."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.fixtures import VK_SAMPLES as SAMPLES
from vk_emulator import (
    DELIVERY_KEY,
    CallbackConfig,
    DemoTraffic,
    World,
    build_demo_world,
    create_emulator_app,
    start_emulator,
)

FAST_RETRIES = (0.05, 0.05)


def sample_event(name: str) -> dict[str, Any]:
    """The event of a tests/fixtures/vk file (long-poll replies hold it in updates[0])."""
    data = json.loads((SAMPLES / f"{name}.json").read_text())
    return data["updates"][0] if "updates" in data else data


@pytest.fixture
def world() -> World:
    return World.create()


@pytest.fixture
async def vk(aiohttp_client: Any, world: World) -> TestClient:
    return await aiohttp_client(create_emulator_app(world.state, retry_schedule=FAST_RETRIES))


async def api(client: TestClient, method: str, token: str | None, **params: Any) -> dict[str, Any]:
    """POST a method the way vk_api does (form-encoded) and return the decoded body."""
    form = {k: str(v) for k, v in params.items()}
    form.setdefault("v", "5.199")
    if token is not None:
        form["access_token"] = token
    response = await client.post(f"/method/{method}", data=form)
    assert response.status == 200
    return await response.json()


def last_event(world: World, event_type: str) -> dict[str, Any]:
    return world.state.events(world.group.id, event_type)[-1]


# --- API envelopes and token rules ---------------------------------------------------------------


async def test_get_and_post_both_answer_the_response_envelope(vk: TestClient, world: World) -> None:
    token = world.group.community_token
    by_get = await (await vk.get(f"/method/groups.getById?access_token={token}&v=5.199")).json()
    by_post = await api(vk, "groups.getById", token)
    assert by_get == by_post
    assert by_post["response"]["groups"][0]["id"] == world.group.id
    assert by_post["response"]["groups"][0]["name"] == "Тестовое сообщество"


async def test_error_envelope_has_vk_shape(vk: TestClient, world: World) -> None:
    body = await api(vk, "groups.getLongPollServer", None, group_id=world.group.id)
    sample = json.loads((SAMPLES / "api_error-1.json").read_text())
    assert body.keys() == sample.keys()
    assert body["error"].keys() == sample["error"].keys()
    assert body["error"]["error_code"] == 5
    assert body["error"]["error_msg"] == sample["error"]["error_msg"]
    assert {"key": "method", "value": "groups.getLongPollServer"} in body["error"]["request_params"]
    assert {"key": "group_id", "value": str(world.group.id)} in body["error"]["request_params"]


@pytest.mark.parametrize(
    ("token", "params", "code"),
    [
        ("no-such-token", {}, 5),
        ("community", {"v": ""}, 8),
        ("community", {"no_such": 1}, 3),
    ],
)
async def test_bad_requests_get_vk_errors(
    vk: TestClient, world: World, token: str, params: dict[str, Any], code: int
) -> None:
    value = world.group.community_token if token == "community" else token
    method = "no.suchMethod" if "no_such" in params else "users.get"
    body = await api(vk, method, value, **params)
    assert body["error"]["error_code"] == code


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("wall.deleteComment", {"comment_id": "wall"}),
        ("wall.restoreComment", {"comment_id": "wall"}),
        ("photos.deleteComment", {"comment_id": "photo"}),
        ("video.deleteComment", {"comment_id": "video"}),
        ("market.deleteComment", {"comment_id": "market"}),
        ("groups.ban", {"owner_id": "member"}),
        ("groups.unban", {"owner_id": "member"}),
    ],
)
async def test_moderation_with_the_community_token_is_error_27(
    vk: TestClient, world: World, method: str, params: dict[str, Any]
) -> None:
    member = world.members[0]
    targets = {"wall": world.post, "photo": world.photo, "video": world.video, "market": world.item}
    resolved: dict[str, Any] = {"owner_id": -world.group.id, "group_id": world.group.id}
    for key, value in params.items():
        if value == "member":
            resolved[key] = member.id
        else:
            kind = value
            resolved[key] = world.scenario.member_comments(
                world.group, member, targets[kind], "x", kind=kind
            ).id
    body = await api(vk, method, world.group.community_token, **resolved)
    assert body["error"]["error_code"] == 27
    assert body["error"]["error_msg"] == "Group authorization failed: method is unavailable with group auth."
    ok = await api(vk, method, world.group.admin_token, **resolved)
    assert ok == {"response": 1}


async def test_board_moderation_accepts_the_community_token(vk: TestClient, world: World) -> None:
    token = world.group.community_token
    created = await api(
        vk,
        "board.createComment",
        token,
        group_id=world.group.id,
        topic_id=world.topic.id,
        message="Ответ",
        from_group=1,
    )
    comment_id = created["response"]
    deleted = await api(
        vk,
        "board.deleteComment",
        token,
        group_id=world.group.id,
        topic_id=world.topic.id,
        comment_id=comment_id,
    )
    assert deleted == {"response": 1}
    event = last_event(world, "board_post_delete")
    assert event["object"].keys() == sample_event("board_post_delete-1")["object"].keys()
    restored = await api(
        vk,
        "board.restoreComment",
        token,
        group_id=world.group.id,
        topic_id=world.topic.id,
        comment_id=comment_id,
    )
    assert restored == {"response": 1}
    assert last_event(world, "board_post_restore")["object"]["text"] == "Ответ"


async def test_user_token_of_a_non_admin_is_denied(vk: TestClient, world: World) -> None:
    other = world.state.add_group("Чужое сообщество")
    body = await api(
        vk, "groups.ban", other.admin_token, group_id=world.group.id, owner_id=world.members[0].id
    )
    assert body["error"]["error_code"] == 15


# --- messages ----------------------------------------------------------------------------------


async def test_messages_send_is_idempotent_by_random_id(vk: TestClient, world: World) -> None:
    member = world.members[0]
    world.scenario.member_writes_message(world.group, member, "Где мой заказ?")
    token = world.group.community_token
    first = await api(vk, "messages.send", token, peer_id=member.id, message="Уже в пути", random_id=777)
    again = await api(vk, "messages.send", token, peer_id=member.id, message="Уже в пути", random_id=777)
    assert first == again
    replies = world.state.events(world.group.id, "message_reply")
    assert len(replies) == 1
    reply = replies[0]["object"]
    assert reply["id"] == first["response"]
    assert reply["out"] == 1
    assert reply["from_id"] == -world.group.id
    assert reply["random_id"] == 777
    assert "admin_author_id" not in reply
    sample_keys = set(sample_event("message_reply-1")["object"]) - {"admin_author_id"}
    assert set(reply) == sample_keys


async def test_messages_send_needs_random_id_and_permission(vk: TestClient, world: World) -> None:
    member = world.members[1]
    token = world.group.community_token
    missing = await api(vk, "messages.send", token, peer_id=member.id, message="Привет")
    assert missing["error"]["error_code"] == 100
    never_wrote = await api(vk, "messages.send", token, peer_id=member.id, message="Привет", random_id=1)
    assert never_wrote["error"]["error_code"] == 901
    world.scenario.member_writes_message(world.group, member, "Здравствуйте")
    world.scenario.member_denies_messages(world.group, member)
    assert last_event(world, "message_deny")["object"] == {"user_id": member.id}
    denied = await api(vk, "messages.send", token, peer_id=member.id, message="Привет", random_id=2)
    assert denied["error"]["error_code"] == 901


async def test_history_and_conversations(vk: TestClient, world: World) -> None:
    token = world.group.community_token
    first, second = world.members[:2]
    world.scenario.member_writes_message(world.group, first, "Раз")
    world.scenario.member_writes_message(world.group, second, "Два")
    world.scenario.member_writes_message(world.group, first, "Три")
    history = (await api(vk, "messages.getHistory", token, peer_id=first.id))["response"]
    assert history["count"] == 2
    assert [m["text"] for m in history["items"]] == ["Три", "Раз"]
    assert [m["conversation_message_id"] for m in history["items"]] == [2, 1]
    assert set(history["items"][0]) >= set(
        json.loads((SAMPLES / "messages.getHistory-1.json").read_text())["response"]["items"][0]
    )
    oldest_first = (await api(vk, "messages.getHistory", token, peer_id=first.id, rev=1, count=1))["response"]
    assert [m["text"] for m in oldest_first["items"]] == ["Раз"]

    convs = (await api(vk, "messages.getConversations", token, filter="unanswered"))["response"]
    assert [c["conversation"]["peer"]["id"] for c in convs["items"]] == [first.id, second.id]
    await api(
        vk,
        "messages.markAsAnsweredConversation",
        token,
        peer_id=second.id,
        answered=1,
        group_id=world.group.id,
    )
    await api(vk, "messages.markAsRead", token, peer_id=first.id, group_id=world.group.id)
    convs = (await api(vk, "messages.getConversations", token, filter="unanswered"))["response"]
    assert [c["conversation"]["peer"]["id"] for c in convs["items"]] == [first.id]
    everything = (await api(vk, "messages.getConversations", token, extended=1))["response"]
    assert everything["count"] == 2
    assert {p["id"] for p in everything["profiles"]} == {first.id, second.id}
    assert everything["items"][0]["last_message"]["text"] == "Три"
    assert "unread_count" not in everything["items"][0]["conversation"]


# --- comments ----------------------------------------------------------------------------------


async def test_wall_comment_from_group_with_guid_and_thread(vk: TestClient, world: World) -> None:
    member = world.members[0]
    top = world.scenario.member_comments(world.group, member, world.post, "Когда скидки?")
    token = world.group.community_token
    params = dict(
        owner_id=-world.group.id,
        post_id=world.post.id,
        message="В пятницу!",
        from_group=world.group.id,
        reply_to_comment=top.id,
        guid="op-1",
    )
    first = await api(vk, "wall.createComment", token, **params)
    again = await api(vk, "wall.createComment", token, **params)
    assert (
        first
        == again
        == {"response": {"comment_id": first["response"]["comment_id"], "parents_stack": [top.id]}}
    )
    replies = world.state.events(world.group.id, "wall_reply_new")
    assert len(replies) == 2
    obj = replies[-1]["object"]
    assert obj["from_id"] == -world.group.id
    assert obj["reply_to_comment"] == top.id
    assert obj["reply_to_user"] == member.id
    assert set(obj) == set(sample_event("wall_reply_new-1")["object"]) | {"reply_to_comment", "reply_to_user"}

    page = (
        await api(
            vk,
            "wall.getComments",
            token,
            owner_id=-world.group.id,
            post_id=world.post.id,
            thread_items_count=5,
        )
    )["response"]
    assert page["count"] == 2
    assert page["current_level_count"] == 1
    assert page["items"][0]["thread"]["count"] == 1
    assert page["items"][0]["thread"]["items"][0]["text"] == "В пятницу!"

    world.scenario.admin_deletes_in_vk(world.group, top)
    page = (await api(vk, "wall.getComments", token, owner_id=-world.group.id, post_id=world.post.id))[
        "response"
    ]
    assert page["items"][0]["deleted"] is True
    thread = (
        await api(
            vk, "wall.getComments", token, owner_id=-world.group.id, post_id=world.post.id, comment_id=top.id
        )
    )["response"]
    assert [c["text"] for c in thread["items"]] == ["В пятницу!"]


@pytest.mark.parametrize(
    ("kind", "prefix", "target_param", "sample"),
    [
        ("wall", "wall", "post_id", "wall_reply"),
        ("photo", "photos", "photo_id", "photo_comment"),
        ("video", "video", "video_id", "video_comment"),
        ("market", "market", "item_id", None),
    ],
)
async def test_delete_and_restore_events(
    vk: TestClient, world: World, kind: str, prefix: str, target_param: str, sample: str | None
) -> None:
    target = {"wall": world.post, "photo": world.photo, "video": world.video, "market": world.item}[kind]
    member = world.members[2]
    comment = world.scenario.member_comments(world.group, member, target, "Плохой сервис", kind=kind)  # type: ignore[arg-type]
    new = last_event(world, f"{comment_prefix(kind)}_new")
    if sample:
        assert set(new["object"]) == set(sample_event(f"{sample}_new-1")["object"])
    admin = world.group.admin_token
    common = {"owner_id": -world.group.id, "comment_id": comment.id}
    assert await api(vk, f"{prefix}.deleteComment", admin, **common) == {"response": 1}
    deleted = last_event(world, f"{comment_prefix(kind)}_delete")["object"]
    assert deleted["deleter_id"] == world.group.admin_user_id
    assert deleted["id"] == comment.id
    assert deleted[target_param] == target.id
    if sample:
        assert set(deleted) == set(sample_event(f"{sample}_delete-1")["object"])
    assert "text" not in deleted
    assert await api(vk, f"{prefix}.restoreComment", admin, **common) == {"response": 1}
    restored = last_event(world, f"{comment_prefix(kind)}_restore")["object"]
    assert restored["text"] == "Плохой сервис"
    if sample:
        assert set(restored) == set(sample_event(f"{sample}_restore-1")["object"])


def comment_prefix(kind: str) -> str:
    return {
        "wall": "wall_reply",
        "photo": "photo_comment",
        "video": "video_comment",
        "market": "market_comment",
    }[kind]


async def test_member_edits_and_deletes_carry_the_author(world: World) -> None:
    member = world.members[0]
    comment = world.scenario.member_comments_photo(world.group, member, world.photo, "t")
    world.scenario.member_edits(world.group, comment, "tt")
    edit = last_event(world, "photo_comment_edit")
    assert set(edit["object"]) == set(sample_event("photo_comment_edit-1")["object"])
    assert edit["object"]["text"] == "tt"
    world.scenario.member_deletes(world.group, comment)
    assert last_event(world, "photo_comment_delete")["object"]["deleter_id"] == member.id
    post = world.scenario.member_posts_in_board(world.group, member, world.topic, "вопрос")
    world.scenario.member_edits(world.group, post, "вопрос!")
    assert set(last_event(world, "board_post_edit")["object"]) == set(
        sample_event("board_post_edit-1")["object"]
    )
    message = world.scenario.member_writes_message(world.group, member, "Привет")
    world.scenario.member_edits_message(world.group, message, "Привет!")
    edited = last_event(world, "message_edit")["object"]
    assert set(edited) == set(sample_event("message_edit-1")["object"]) - {"admin_author_id"}
    reply = world.scenario.admin_replies_in_vk(world.group, member, "Здравствуйте")
    assert last_event(world, "message_reply")["object"]["admin_author_id"] == world.group.admin_user_id
    assert reply.admin_author_id == world.group.admin_user_id


async def test_every_event_has_the_envelope(world: World) -> None:
    world.scenario.member_writes_message(world.group, world.members[0], "Привет")
    for event in world.state.events(world.group.id):
        assert list(event) == ["type", "object", "group_id", "event_id", "v"]
        assert re.fullmatch(r"[0-9a-f]{40}", event["event_id"])
        assert event["v"] == "5.199"
        assert event["group_id"] == world.group.id
    message_new = last_event(world, "message_new")["object"]
    sample = sample_event("message_new-1")["object"]
    assert set(message_new) == set(sample)
    assert set(message_new["message"]) == set(sample["message"])


async def test_ban_and_unban(vk: TestClient, world: World) -> None:
    admin = world.group.admin_token
    member = world.members[1]
    banned = await api(
        vk,
        "groups.ban",
        admin,
        group_id=world.group.id,
        owner_id=member.id,
        reason=1,
        comment="спам",
        end_date=0,
    )
    assert banned == {"response": 1}
    block = last_event(world, "user_block")["object"]
    assert block == {
        "admin_id": world.group.admin_user_id,
        "user_id": member.id,
        "unblock_date": 0,
        "reason": 1,
        "comment": "спам",
    }
    assert set(block) == set(sample_event("user_block-1")["object"])
    listed = (await api(vk, "groups.getBanned", world.group.community_token, group_id=world.group.id))[
        "response"
    ]
    assert listed["count"] == 1
    assert listed["items"][0]["profile"]["id"] == member.id
    assert listed["items"][0]["ban_info"]["comment"] == "спам"
    assert await api(vk, "groups.unban", admin, group_id=world.group.id, owner_id=member.id) == {
        "response": 1
    }
    unblock = last_event(world, "user_unblock")["object"]
    assert set(unblock) == set(sample_event("user_unblock-1")["object"])


# --- faults and rate limits --------------------------------------------------------------------


async def test_faults_from_the_control_endpoint(vk: TestClient, world: World) -> None:
    response = await vk.post("/_emulator/faults", json={"method": "users.get", "error_code": 9, "times": 2})
    assert response.status == 201
    token = world.group.community_token
    codes = [
        (await api(vk, "users.get", token, user_ids=world.members[0].id)).get("error", {}).get("error_code")
        for _ in range(3)
    ]
    assert codes == [9, 9, None]
    await vk.post("/_emulator/faults", json={"method": "users.get", "delay": 0.2})
    started = time.monotonic()
    body = await api(vk, "users.get", token, user_ids=world.members[0].id)
    assert time.monotonic() - started >= 0.2
    assert body["response"][0]["id"] == world.members[0].id
    await vk.post("/_emulator/faults", json={"method": "users.get", "error_code": 1, "times": None})
    assert (await (await vk.get("/_emulator/faults")).json())["faults"]
    await vk.delete("/_emulator/faults")
    assert "response" in await api(vk, "users.get", token, user_ids=world.members[0].id)


async def test_rate_limit_per_token(vk: TestClient, world: World) -> None:
    community = world.group.community_token
    bodies = await asyncio.gather(*(api(vk, "users.get", community, user_ids=1) for _ in range(25)))
    rejected = [b for b in bodies if b.get("error", {}).get("error_code") == 6]
    assert len(rejected) == 5
    assert world.state.max_calls_in_window(community, include_rejected=False) == 20
    admin = world.group.admin_token
    bodies = await asyncio.gather(*(api(vk, "users.get", admin) for _ in range(5)))
    assert sum(1 for b in bodies if b.get("error", {}).get("error_code") == 6) == 2
    stats = await (await vk.get("/_emulator/calls", params={"token": admin})).json()
    assert stats == {"count": 5, "rejected": 2, "max_in_window": 5}


# --- long poll ---------------------------------------------------------------------------------


async def longpoll_server(vk: TestClient, world: World) -> dict[str, Any]:
    server = (
        await api(vk, "groups.getLongPollServer", world.group.community_token, group_id=world.group.id)
    )["response"]
    assert set(server) == set(
        json.loads((SAMPLES / "groups.getLongPollServer-1.json").read_text())["response"]
    )
    assert isinstance(server["ts"], str)
    return server


async def a_check(vk: TestClient, server: dict[str, Any], ts: Any, wait: int = 0) -> dict[str, Any]:
    path = server["server"].split("://", 1)[1].split("/", 1)[1]
    response = await vk.get(
        f"/{path}", params={"act": "a_check", "key": server["key"], "ts": str(ts), "wait": str(wait)}
    )
    return await response.json()


async def test_longpoll_returns_events_in_order(vk: TestClient, world: World) -> None:
    server = await longpoll_server(vk, world)
    empty = await a_check(vk, server, server["ts"])
    assert empty == {"ts": server["ts"], "updates": []}
    world.scenario.member_writes_message(world.group, world.members[0], "Один")
    world.scenario.member_comments(world.group, world.members[1], world.post, "Два")
    reply = await a_check(vk, server, server["ts"])
    assert [u["type"] for u in reply["updates"]] == ["message_new", "wall_reply_new"]
    assert reply["ts"] == str(int(server["ts"]) + 2)
    assert (await a_check(vk, server, reply["ts"]))["updates"] == []


async def test_longpoll_holds_until_an_event_arrives(vk: TestClient, world: World) -> None:
    server = await longpoll_server(vk, world)

    async def member_writes_soon() -> None:
        await asyncio.sleep(0.1)
        world.scenario.member_writes_message(world.group, world.members[0], "Есть кто?")

    started = time.monotonic()
    writer = asyncio.create_task(member_writes_soon())
    reply = await a_check(vk, server, server["ts"], wait=5)
    await writer
    assert time.monotonic() - started < 2
    assert [u["type"] for u in reply["updates"]] == ["message_new"]
    started = time.monotonic()
    assert (await a_check(vk, server, reply["ts"], wait=1))["updates"] == []
    assert time.monotonic() - started >= 0.9


async def test_longpoll_failures(vk: TestClient, world: World) -> None:
    server = await longpoll_server(vk, world)
    world.scenario.member_writes_message(world.group, world.members[0], "до потери")
    world.state.forget_events(world.group.id)
    lost = await a_check(vk, server, server["ts"])
    assert lost == {"failed": 1, "ts": int(server["ts"]) + 1}
    assert set(lost) == set(json.loads((SAMPLES / "longpoll_failed-1.json").read_text()))

    assert await a_check(vk, {**server, "key": "wrong"}, lost["ts"]) == {"failed": 2}

    await vk.post("/_emulator/faults", json={"longpoll_failed": 1})
    assert (await a_check(vk, server, lost["ts"]))["failed"] == 1
    await vk.post("/_emulator/faults", json={"longpoll_failed": 3, "group_id": world.group.id})
    assert await a_check(vk, server, lost["ts"]) == {"failed": 3}
    # failed 3 also expires the key.
    assert await a_check(vk, server, lost["ts"]) == {"failed": 2}
    fresh = await longpoll_server(vk, world)
    assert fresh["key"] != server["key"]
    world.state.faults.longpoll(2)
    assert await a_check(vk, fresh, fresh["ts"]) == {"failed": 2}


# --- callback delivery -------------------------------------------------------------------------


class CallbackReceiver:
    """A callback endpoint that records requests and answers from a script."""

    def __init__(
        self, answers: list[tuple[int, str]] | None = None, default: tuple[int, str] = (200, "ok")
    ) -> None:
        self.answers = list(answers or [])
        self.default = default
        self.requests: list[tuple[dict[str, Any], str | None]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.requests.append((payload, request.headers.get("X-Retry-Counter")))
        self.arrived.set()
        if payload["type"] == "confirmation":
            return web.Response(text="c0de")
        status, body = self.answers.pop(0) if self.answers else self.default
        return web.Response(status=status, text=body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/callback", self.handle)
        return app


async def serve_with_callback(
    aiohttp_server: Any, receiver: CallbackReceiver, **options: Any
) -> tuple[World, TestServer]:
    target = await aiohttp_server(receiver.app())
    world = World.create(callback=CallbackConfig(str(target.make_url("/callback")), "s3cret", "c0de"))
    emulator = await aiohttp_server(create_emulator_app(world.state, retry_schedule=FAST_RETRIES, **options))
    return world, emulator


async def test_callback_delivers_events_with_secret(aiohttp_server: Any) -> None:
    receiver = CallbackReceiver()
    world, emulator = await serve_with_callback(aiohttp_server, receiver)
    delivery = emulator.app[DELIVERY_KEY]
    assert await delivery.confirm(world.group.id) is True
    message = world.scenario.member_writes_message(world.group, world.members[0], "Привет")
    async with asyncio.timeout(5):
        await delivery.wait_idle()
    payload, retry = receiver.requests[-1]
    assert retry is None
    assert payload["type"] == "message_new"
    assert payload["secret"] == "s3cret"
    assert payload["object"]["message"]["id"] == message.id
    assert list(payload) == ["type", "object", "group_id", "event_id", "v", "secret"]
    assert receiver.requests[0][0] == {"type": "confirmation", "group_id": world.group.id, "secret": "s3cret"}
    assert delivery.attempts[-1].acknowledged


async def test_callback_retries_until_ok_and_then_gives_up(aiohttp_server: Any) -> None:
    receiver = CallbackReceiver(answers=[(500, "error"), (200, "OK"), (200, "ok")])
    world, emulator = await serve_with_callback(aiohttp_server, receiver)
    delivery = emulator.app[DELIVERY_KEY]
    world.scenario.member_writes_message(world.group, world.members[0], "Раз")
    async with asyncio.timeout(5):
        await delivery.wait_idle()
    assert [r for _, r in receiver.requests] == [None, "1", "2"]
    assert len({p["event_id"] for p, _ in receiver.requests}) == 1
    assert [a.acknowledged for a in delivery.attempts] == [False, False, True]

    receiver.default = (503, "")
    world.scenario.member_writes_message(world.group, world.members[0], "Два")
    async with asyncio.timeout(5):
        await delivery.wait_idle()
    # One first attempt plus one retry per step of the schedule, then VK stops trying.
    assert [r for _, r in receiver.requests[3:]] == [None, "1", "2"]
    assert delivery.given_up[0]["object"]["message"]["text"] == "Два"


async def test_callback_duplicates_on_purpose(aiohttp_server: Any) -> None:
    receiver = CallbackReceiver()
    world, emulator = await serve_with_callback(
        aiohttp_server, receiver, duplicate_rate=1.0, rng=random.Random(1)
    )
    delivery = emulator.app[DELIVERY_KEY]
    world.scenario.member_comments(world.group, world.members[0], world.post, "Комментарий")
    async with asyncio.timeout(5):
        await delivery.wait_idle()
    ids = [p["event_id"] for p, _ in receiver.requests]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert delivery.acknowledged_event_ids(world.group.id) == ids


async def test_confirmation_fails_on_a_wrong_code(aiohttp_server: Any) -> None:
    receiver = CallbackReceiver()
    target = await aiohttp_server(receiver.app())
    world = World.create(callback=CallbackConfig(str(target.make_url("/callback")), None, "другой-код"))
    emulator = await aiohttp_server(create_emulator_app(world.state))
    assert await emulator.app[DELIVERY_KEY].confirm(world.group.id) is False
    assert receiver.requests[0][0] == {"type": "confirmation", "group_id": world.group.id}


# --- scenario, demo and the standalone runner --------------------------------------------------


async def test_demo_traffic_produces_member_activity() -> None:
    world = World.create()
    before = len(world.state.events(world.group.id))
    traffic = DemoTraffic(world.state, world.group, per_minute=60_000, rng=random.Random(7))
    async with asyncio.timeout(5):
        await traffic.run(max_actions=30)
    events = world.state.events(world.group.id)[before:]
    # A banned spammer's attempt is refused as VK does: no event for it.
    assert len(events) == 30 - traffic.done["refused"]
    types = {e["type"] for e in events}
    assert "message_new" in types
    assert any(t.endswith("_new") and t != "message_new" for t in types)
    texts = [e["object"].get("text") or e["object"].get("message", {}).get("text") for e in events]
    assert all(re.search("[а-яА-Я]", t or "") for t in texts if t)


async def test_start_emulator_and_control_endpoints() -> None:
    from aiohttp import ClientSession

    state_world = World.create()
    build_demo_world(state_world.state)
    emulator = await start_emulator(state_world.state)
    try:
        async with ClientSession(emulator.base_url) as http:
            groups = await (await http.get("/_emulator/groups")).json()
            assert len(groups) == 2
            created = await (await http.post("/_emulator/groups", json={"name": "Новая"})).json()
            user = await (
                await http.post("/_emulator/users", json={"first_name": "Пётр", "last_name": "Иванов"})
            ).json()
            post = await (
                await http.post(
                    f"/_emulator/groups/{created['id']}/targets", json={"kind": "wall", "text": "Пост"}
                )
            ).json()
            written = await http.post(
                f"/_emulator/groups/{created['id']}/messages", json={"user_id": user["id"], "text": "Привет"}
            )
            assert written.status == 201
            commented = await http.post(
                f"/_emulator/groups/{created['id']}/comments",
                json={"user_id": user["id"], "target_id": post["id"], "text": "Комментарий"},
            )
            assert commented.status == 201
            events = await (await http.get(f"/_emulator/groups/{created['id']}/events")).json()
            assert [e["type"] for e in events] == ["wall_post_new", "message_new", "wall_reply_new"]
            lp = await (
                await http.get(
                    "/method/groups.getLongPollServer",
                    params={
                        "access_token": created["community_token"],
                        "v": "5.199",
                        "group_id": created["id"],
                    },
                )
            ).json()
            assert lp["response"]["server"].startswith(emulator.base_url)
    finally:
        await emulator.close()


async def test_every_emulated_event_is_understood_by_the_normalizer(world: World) -> None:
    from proxy.connectors.vk.normalize import normalize
    from proxy.events import Unsupported

    s, g, members = world.scenario, world.group, world.members
    message = s.member_writes_message(g, members[0], "Привет")
    s.member_edits_message(g, message, "Привет!")
    s.admin_replies_in_vk(g, members[0], "Здравствуйте")
    s.member_denies_messages(g, members[0])
    s.member_allows_messages(g, members[0])
    for kind, target in [
        ("wall", world.post),
        ("photo", world.photo),
        ("video", world.video),
        ("market", world.item),
        ("board", world.topic),
    ]:
        comment = s.member_comments(g, members[1], target, "Вопрос", kind=kind)  # type: ignore[arg-type]
        if kind != "board":
            s.member_comments(g, members[2], target, "Ответ", comment, kind=kind)  # type: ignore[arg-type]
        s.member_edits(g, comment, "Вопрос?")
        s.admin_deletes_in_vk(g, comment)
        s.admin_restores_in_vk(g, comment)
        s.member_deletes(g, comment)
        s.admin_comments_in_vk(g, target, "От сообщества", kind=kind)  # type: ignore[arg-type]
    s.admin_bans_in_vk(g, members[2], comment="спам")
    s.admin_unbans_in_vk(g, members[2])
    events = world.state.events(g.id)
    assert len({e["type"] for e in events}) == 28
    not_understood = [e["type"] for e in events if isinstance(normalize(e), Unsupported)]
    assert not_understood == []
