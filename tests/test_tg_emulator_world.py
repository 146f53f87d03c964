"""The Telegram emulator's faults, rate accounting, discussion groups, business chats, real port and demo."""

from __future__ import annotations

import random
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.tg_fixtures import *  # noqa: F403
from tests.tg_fixtures import World, call, kinds, ok, refused, sample
from tg_emulator import TELEGRAM_SERVICE_USER_ID, build_demo_world, play_round, start_tg_emulator

# --- faults ----------------------------------------------------------------------------------------------


async def test_planned_429_answers_retry_after(tg: TestClient, world: World) -> None:
    world.people.writes_to_bot(world.anna, world.bot, "Привет")
    world.state.faults.too_many_requests("sendMessage", 7, times=2)
    for _ in range(2):
        status, body = await call(tg, world.bot.token, "sendMessage", chat_id=world.anna.id, text="x")
        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }
        assert body.keys() == sample("error-429-1").keys()
    await ok(tg, world.bot.token, "sendMessage", chat_id=world.anna.id, text="x")
    assert await ok(tg, world.bot.token, "getMe")  # other methods were never affected


async def test_server_errors_from_the_control_endpoint(tg: TestClient, world: World) -> None:
    planned = await tg.post("/_emulator/faults", json={"method": "getMe", "http_status": 502})
    assert planned.status == 201
    response = await tg.post(f"/bot{world.bot.token}/getMe")
    assert response.status == 502 and "502 Bad Gateway" in await response.text()
    await tg.post("/_emulator/faults", json={"method": "getMe", "http_status": 500})
    assert await refused(tg, world.bot.token, "getMe") == (500, "Internal Server Error")
    assert (await tg.post("/_emulator/faults", json={"http_status": 404})).status == 400
    assert await (await tg.get("/_emulator/faults")).json() == []
    await ok(tg, world.bot.token, "getMe")


async def test_a_lost_answer_is_performed_all_the_same(tg: TestClient, world: World) -> None:
    world.state.faults.lose_answer("sendMessage")
    with pytest.raises(aiohttp.ClientError):
        await tg.post(
            f"/bot{world.bot.token}/sendMessage", json={"chat_id": world.group.id, "text": "дошло?"}
        )
    assert [m.text for m in world.group.messages.values()][-1] == "дошло?"


async def test_a_dropped_call_is_not_performed(tg: TestClient, world: World) -> None:
    world.state.faults.drop("sendMessage")
    before = len(world.group.messages)
    with pytest.raises(aiohttp.ClientError):
        await tg.post(f"/bot{world.bot.token}/sendMessage", json={"chat_id": world.group.id, "text": "нет"})
    assert len(world.group.messages) == before


async def test_a_slow_answer(tg: TestClient, world: World) -> None:
    await tg.post("/_emulator/faults", json={"method": "getMe", "delay": 0.4})
    started = time.monotonic()
    await ok(tg, world.bot.token, "getMe")
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    await ok(tg, world.bot.token, "getMe")
    assert time.monotonic() - started < 0.4


# --- rate accounting -------------------------------------------------------------------------------------


async def test_rate_violations_are_reported(tg: TestClient, world: World) -> None:
    token, group = world.bot.token, world.group.id
    await ok(tg, token, "sendMessage", chat_id=group, text="раз")
    world.state.advance_clock(1.5)
    await ok(tg, token, "sendMessage", chat_id=group, text="два")
    assert world.state.rate_violations() == []
    await ok(tg, token, "sendMessage", chat_id=group, text="три")  # the same second, the same chat
    (violation,) = world.state.rate_violations(world.bot.id)
    assert (violation.rule, violation.chat_id, violation.count, violation.limit) == (
        "per_chat_per_second",
        group,
        2,
        1,
    )
    for _ in range(18):  # 21 in the group within a minute, each a second and more apart
        world.state.advance_clock(1.1)
        await ok(tg, token, "sendMessage", chat_id=group, text="ещё")
    rules = [v.rule for v in world.state.rate_violations()]
    assert rules == ["per_chat_per_second", "per_group_per_minute"]
    listed = await (await tg.get(f"/_emulator/rate_violations?bot_id={world.bot.id}")).json()
    assert [v["rule"] for v in listed] == rules


async def test_thirty_a_second_across_chats(tg: TestClient, world: World) -> None:
    users = [world.state.add_user(f"Гость {n}") for n in range(31)]
    for user in users:
        world.people.writes_to_bot(user, world.bot, "привет")
    for user in users:
        await ok(tg, world.bot.token, "sendMessage", chat_id=user.id, text="ответ")
    assert [(v.rule, v.count) for v in world.state.rate_violations()] == [("per_bot_per_second", 31)]


async def test_enforced_limits_answer_429(tg: TestClient, world: World) -> None:
    assert (await tg.put("/_emulator/rate_limits", json={"enforce": True})).status == 200
    await ok(tg, world.bot.token, "sendMessage", chat_id=world.group.id, text="раз")
    status, body = await call(tg, world.bot.token, "sendMessage", chat_id=world.group.id, text="два")
    assert status == 429 and body["parameters"] == {"retry_after": 1}
    world.state.advance_clock(1.01)
    await ok(tg, world.bot.token, "sendMessage", chat_id=world.group.id, text="два")
    assert world.state.rate_violations() == []


# --- discussion groups and business chats ------------------------------------------------------------------


async def test_channel_post_forward_and_comment(tg: TestClient, world: World) -> None:
    created = await tg.post(
        "/_emulator/chats",
        json={
            "type": "channel",
            "title": "Канал",
            "username": "news_channel",
            "creator_user_id": world.owner.id,
            "discussion_chat_id": world.group.id,
        },
    )
    assert created.status == 201
    channel = world.state.chats[(await created.json())["id"]]
    posted = await (await tg.post(f"/_emulator/channels/{channel.id}/posts", json={"text": "Новость"})).json()
    forward = world.bot.pending[-1]["message"]
    assert forward == posted["forward"]
    assert forward["is_automatic_forward"] is True
    assert forward["from"] == {"id": TELEGRAM_SERVICE_USER_ID, "is_bot": False, "first_name": "Telegram"}
    assert forward["sender_chat"] == channel.as_api() and forward["chat"]["id"] == world.group.id
    assert forward["forward_origin"]["message_id"] == posted["post"]["message_id"]
    comment = await tg.post(
        f"/_emulator/channels/{channel.id}/comments",
        json={"user_id": world.anna.id, "post_id": posted["post"]["message_id"], "text": "Круто"},
    )
    assert comment.status == 201
    update = world.bot.pending[-1]["message"]
    assert update["reply_to_message"]["message_id"] == forward["message_id"]
    assert update["message_thread_id"] == forward["message_id"] and "is_topic_message" not in update
    assert (await ok(tg, world.bot.token, "getChat", chat_id=world.group.id))["linked_chat_id"] == channel.id


async def test_business_connection_and_messages(tg: TestClient, world: World) -> None:
    connected = await tg.post(
        "/_emulator/business_connections", json={"bot_id": world.bot.id, "user_id": world.owner.id}
    )
    connection = await connected.json()
    assert world.bot.pending[-1]["business_connection"] == connection
    assert connection.keys() == sample("business_connection-1")["business_connection"].keys()
    base = f"/_emulator/business_connections/{connection['id']}"
    written = await (
        await tg.post(f"{base}/messages", json={"customer_id": world.anna.id, "text": "Цена?"})
    ).json()
    assert written["business_connection_id"] == connection["id"] and written["chat"]["id"] == world.anna.id
    await tg.post(
        f"{base}/edits",
        json={"customer_id": world.anna.id, "message_id": written["message_id"], "text": "Цена??"},
    )
    await tg.post(
        f"{base}/deletions", json={"customer_id": world.anna.id, "message_ids": [written["message_id"]]}
    )
    assert kinds(world.bot)[-4:] == [
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
    ]
    edited = world.bot.pending[-2]["edited_business_message"]
    assert edited["text"] == "Цена??" and edited["edit_date"] >= edited["date"]
    deleted = world.bot.pending[-1]["deleted_business_messages"]
    assert deleted.keys() == sample("deleted_business_messages-1")["deleted_business_messages"].keys()
    assert deleted["message_ids"] == [written["message_id"]]
    answer = await ok(
        tg,
        world.bot.token,
        "sendMessage",
        chat_id=world.anna.id,
        text="1000 ₽",
        business_connection_id=connection["id"],
    )
    assert answer["from"]["id"] == world.owner.id and answer["sender_business_bot"]["id"] == world.bot.id
    assert answer["business_connection_id"] == connection["id"]
    unknown = await refused(
        tg, world.bot.token, "sendMessage", chat_id=world.anna.id, text="x", business_connection_id="nope"
    )
    assert unknown[0] == 400


async def test_edits_reach_the_bot_as_edited_message(tg: TestClient, world: World) -> None:
    message = world.people.writes_in_group(world.anna, world.group, "опечтака")
    edited = await tg.post(
        "/_emulator/edits",
        json={"chat_id": world.group.id, "message_id": message.message_id, "text": "опечатка"},
    )
    assert edited.status == 200
    update = world.bot.pending[-1]["edited_message"]
    assert (
        update["text"] == "опечатка" and update["message_id"] == message.message_id and "edit_date" in update
    )
    private = world.people.writes_to_bot(world.boris, world.bot, "прив")
    await tg.post(
        "/_emulator/edits",
        json={
            "chat_id": world.boris.id,
            "bot_id": world.bot.id,
            "message_id": private.message_id,
            "text": "привет",
        },
    )
    assert world.bot.pending[-1]["edited_message"]["chat"]["type"] == "private"


async def test_control_refuses_bad_input(tg: TestClient, world: World) -> None:
    assert (await tg.post("/_emulator/messages", json={"user_id": world.anna.id})).status == 400
    assert (
        await tg.post("/_emulator/messages", json={"user_id": 1, "bot_id": world.bot.id, "text": "x"})
    ).status == 404
    stranger = world.state.add_user("Чужой")
    outsider = await tg.post(
        "/_emulator/messages", json={"user_id": stranger.id, "chat_id": world.group.id, "text": "x"}
    )
    assert outsider.status == 409


# --- a real port and the demo ---------------------------------------------------------------------------------


async def test_start_on_a_real_port() -> None:
    emulator = await start_tg_emulator()
    try:
        bot = emulator.state.add_bot("port_bot")
        async with aiohttp.ClientSession() as session:
            async with session.post(emulator.api_url(bot.token, "getMe")) as response:
                body: dict[str, Any] = await response.json()
        assert body["result"]["username"] == "port_bot"
        assert emulator.base_url.startswith("http://127.0.0.1:")
    finally:
        await emulator.close()


def test_a_demo_round_makes_every_kind_of_update() -> None:
    world = build_demo_world()
    world.bot.allowed_updates = ["message", "chat_member", "business_message", "business_connection"]
    world.bot.pending.clear()
    made = play_round(world, random.Random(3))
    private, question, reply, comment, business = made
    assert private.chat.type == "private" and reply.reply_to is question and comment.reply_to is not None
    assert business.business_connection_id == world.business.id
    assert comment.reply_to.is_automatic_forward
    statuses = [
        u["chat_member"]["new_chat_member"]["status"] for u in world.bot.pending if "chat_member" in u
    ]
    assert statuses[:2] == ["kicked", "left"]
