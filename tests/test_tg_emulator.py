"""The Telegram emulator speaks the Bot API: envelopes, methods and refusals, updates, webhooks, faults, limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.tg_fixtures import *  # noqa: F403
from tests.tg_fixtures import FAST_RETRIES, TWO_DAYS, World, call, kinds, ok, refused, sample
from tg_emulator import DELIVERY_KEY, GROUP_ANONYMOUS_BOT_ID, SECRET_HEADER, create_tg_emulator_app

# --- envelopes -------------------------------------------------------------------------------------------


async def test_get_me_by_post_json_form_and_get_query(tg: TestClient, world: World) -> None:
    token = world.bot.token
    me = await ok(tg, token, "getMe")
    assert me["id"] == world.bot.id and me["is_bot"] is True and me["username"] == "moder_bot"
    by_form = await (await tg.post(f"/bot{token}/getMe", data={"x": "1"})).json()
    by_get = await (await tg.get(f"/bot{token}/getme")).json()
    assert by_form["result"] == by_get["result"] == me


async def test_unknown_token_and_unknown_method(tg: TestClient, world: World) -> None:
    assert await refused(tg, f"{world.bot.id}:wrong", "getMe") == (401, "Unauthorized")
    assert await refused(tg, world.bot.token, "getMeNow") == (404, "Not Found")


# --- sendMessage -----------------------------------------------------------------------------------------


async def test_send_message_replies_in_a_private_chat(tg: TestClient, world: World) -> None:
    first = world.people.writes_to_bot(world.anna, world.bot, "Привет")
    second = world.people.writes_to_bot(world.anna, world.bot, "Ответьте", reply_to=first)
    sent = await ok(
        tg,
        world.bot.token,
        "sendMessage",
        chat_id=world.anna.id,
        text="Здравствуйте!",
        reply_parameters={"message_id": second.message_id},
    )
    assert sent["from"]["id"] == world.bot.id and sent["chat"]["type"] == "private"
    assert sent["message_id"] == second.message_id + 1
    assert sent["reply_to_message"]["message_id"] == second.message_id
    assert "reply_to_message" not in sent["reply_to_message"]  # one level only, as Telegram nests
    assert kinds(world.bot) == ["message", "message"]  # the bot's own message is no update
    reply_update = world.bot.pending[1]["message"]
    assert reply_update.keys() == sample("message_private_reply-1")["message"].keys()


async def test_send_message_refusals(tg: TestClient, world: World) -> None:
    token = world.bot.token
    world.people.writes_to_bot(world.anna, world.bot, "Привет")
    assert await refused(tg, token, "sendMessage", chat_id=-100123, text="x") == (
        400,
        "Bad Request: chat not found",
    )
    assert sample("error-400-3")["description"] == "Bad Request: chat not found"
    assert await refused(tg, token, "sendMessage", text="x") == (400, "Bad Request: chat_id is empty")
    empty = await refused(tg, token, "sendMessage", chat_id=world.anna.id, text="  ")
    assert empty == (400, "Bad Request: message text is empty")
    missing = await refused(
        tg, token, "sendMessage", chat_id=world.anna.id, text="x", reply_parameters={"message_id": 99}
    )
    assert missing == (400, "Bad Request: message to be replied not found")
    anyway = await ok(
        tg,
        token,
        "sendMessage",
        chat_id=world.anna.id,
        text="x",
        reply_parameters={"message_id": 99, "allow_sending_without_reply": True},
    )
    assert "reply_to_message" not in anyway
    never_wrote = await refused(tg, token, "sendMessage", chat_id=world.boris.id, text="x")
    assert never_wrote == (403, "Forbidden: bot can't initiate conversation with a user")


async def test_a_user_who_blocked_the_bot_gets_nothing(tg: TestClient, world: World) -> None:
    world.people.writes_to_bot(world.anna, world.bot, "Привет")
    world.bot.pending.clear()
    response = await tg.post(f"/_emulator/bots/{world.bot.id}/block", json={"user_id": world.anna.id})
    assert response.status == 201
    blocked = world.bot.pending[-1]["my_chat_member"]
    assert blocked["new_chat_member"] == {
        "user": world.bot.user.as_api(),
        "status": "kicked",
        "until_date": 0,
    }
    assert blocked["from"]["id"] == world.anna.id
    assert blocked.keys() == sample("my_chat_member_blocked-1")["my_chat_member"].keys()
    status, description = await refused(tg, world.bot.token, "sendMessage", chat_id=world.anna.id, text="x")
    assert (status, description) == (403, sample("error-403-1")["description"])


async def test_the_bots_group_message_is_seen_in_the_chat_without_an_update(
    tg: TestClient, world: World
) -> None:
    sent = await ok(tg, world.bot.token, "sendMessage", chat_id=world.group.id, text="Правила чата: /rules")
    assert sent["chat"] == {"id": world.group.id, "title": "Чат района", "type": "supergroup"}
    assert world.bot.pending == type(world.bot.pending)()
    listed = await (await tg.get(f"/_emulator/chats/{world.group.id}/messages")).json()
    assert listed[-1]["message_id"] == sent["message_id"] and listed[-1]["from"]["id"] == world.bot.id
    assert sent["entities"] == [{"offset": 14, "length": 6, "type": "bot_command"}]


async def test_forum_topics(tg: TestClient, world: World) -> None:
    forum = world.state.add_chat("supergroup", "Форум", is_forum=True, creator=world.owner)
    world.people.adds_bot(forum, world.bot, admin=True)
    world.people.joins(world.anna, forum)
    topic = (await (await tg.post(f"/_emulator/chats/{forum.id}/topics", json={"name": "Вопросы"})).json())[
        "message_thread_id"
    ]
    world.bot.pending.clear()
    written = await tg.post(
        "/_emulator/messages",
        json={"user_id": world.anna.id, "chat_id": forum.id, "text": "Вопрос", "message_thread_id": topic},
    )
    message = await written.json()
    update = world.bot.pending[-1]["message"]
    assert update == message
    assert update["message_thread_id"] == topic and update["is_topic_message"] is True
    assert update["chat"]["is_forum"] is True
    assert update["reply_to_message"]["forum_topic_created"] == {"name": "Вопросы"}
    sent = await ok(
        tg, world.bot.token, "sendMessage", chat_id=forum.id, text="Ответ", message_thread_id=topic
    )
    assert sent["message_thread_id"] == topic and sent["is_topic_message"] is True
    wrong = await refused(
        tg, world.bot.token, "sendMessage", chat_id=forum.id, text="x", message_thread_id=999
    )
    assert wrong == (400, "Bad Request: message thread not found")


# --- deleteMessage -----------------------------------------------------------------------------------------


async def test_delete_message_and_its_refusals(tg: TestClient, world: World) -> None:
    token = world.bot.token
    spam = world.people.writes_in_group(world.anna, world.group, "спам")
    assert await ok(tg, token, "deleteMessage", chat_id=world.group.id, message_id=spam.message_id) is True
    assert spam.deleted
    again = await refused(tg, token, "deleteMessage", chat_id=world.group.id, message_id=spam.message_id)
    assert again == (400, "Bad Request: message to delete not found")
    missing = await refused(tg, token, "deleteMessage", chat_id=world.group.id)
    assert missing == (400, "Bad Request: message identifier is not specified")

    old = world.people.writes_in_group(world.anna, world.group, "давнее")
    clock = await (await tg.post("/_emulator/clock", json={"advance": TWO_DAYS + 1})).json()
    assert clock["now"] >= old.date + TWO_DAYS
    too_old = await refused(tg, token, "deleteMessage", chat_id=world.group.id, message_id=old.message_id)
    assert too_old == (400, "Bad Request: message can't be deleted")
    assert not old.deleted


async def test_delete_message_of_others_needs_admin(tg: TestClient, world: World) -> None:
    plain = world.state.add_chat("supergroup", "Без прав", creator=world.owner)
    world.people.adds_bot(plain, world.bot, admin=False)
    world.people.joins(world.anna, plain)
    theirs = world.people.writes_in_group(world.anna, plain, "чужое")
    refusal = await refused(
        tg, world.bot.token, "deleteMessage", chat_id=plain.id, message_id=theirs.message_id
    )
    assert refusal == (400, "Bad Request: message can't be deleted")
    own = await ok(tg, world.bot.token, "sendMessage", chat_id=plain.id, text="моё")
    assert (
        await ok(tg, world.bot.token, "deleteMessage", chat_id=plain.id, message_id=own["message_id"]) is True
    )


# --- members ---------------------------------------------------------------------------------------------


async def test_ban_unban_restrict_and_get_chat_member(tg: TestClient, world: World) -> None:
    token, group = world.bot.token, world.group.id
    await ok(tg, token, "getUpdates", allowed_updates=["message", "chat_member"])
    assert await ok(tg, token, "banChatMember", chat_id=group, user_id=world.anna.id, revoke_messages=True)
    member = await ok(tg, token, "getChatMember", chat_id=group, user_id=world.anna.id)
    assert member == {"user": world.anna.as_api(), "status": "kicked", "until_date": 0}
    change = world.bot.pending[-1]["chat_member"]
    assert change["from"]["id"] == world.bot.id
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == ("member", "kicked")
    assert change.keys() == sample("chat_member_added-1")["chat_member"].keys()

    assert await ok(tg, token, "unbanChatMember", chat_id=group, user_id=world.boris.id, only_if_banned=True)
    assert (await ok(tg, token, "getChatMember", chat_id=group, user_id=world.boris.id))["status"] == "member"
    assert await ok(tg, token, "unbanChatMember", chat_id=group, user_id=world.anna.id)
    assert (await ok(tg, token, "getChatMember", chat_id=group, user_id=world.anna.id))["status"] == "left"

    until = world.state.now() + 3600
    assert await ok(
        tg,
        token,
        "restrictChatMember",
        chat_id=group,
        user_id=world.boris.id,
        permissions={"can_send_messages": False},
        until_date=until,
    )
    restricted = await ok(tg, token, "getChatMember", chat_id=group, user_id=world.boris.id)
    assert restricted["status"] == "restricted" and restricted["until_date"] == until
    assert restricted["is_member"] is True and restricted["can_send_messages"] is False
    world.state.advance_clock(3601)
    assert (await ok(tg, token, "getChatMember", chat_id=group, user_id=world.boris.id))["status"] == "member"

    owner = await refused(tg, token, "banChatMember", chat_id=group, user_id=world.owner.id)
    assert owner == (400, "Bad Request: can't remove chat owner")
    unknown = await refused(tg, token, "banChatMember", chat_id=group, user_id=123)
    assert unknown == (400, "Bad Request: user not found")
    assert (await ok(tg, token, "getChat", chat_id=group))["title"] == "Чат района"


async def test_ban_needs_the_bot_to_be_admin(tg: TestClient, world: World) -> None:
    plain = world.state.add_chat("supergroup", "Без прав", creator=world.owner)
    world.people.adds_bot(plain, world.bot, admin=False)
    world.people.joins(world.anna, plain)
    for method in ("banChatMember", "unbanChatMember"):
        refusal = await refused(tg, world.bot.token, method, chat_id=plain.id, user_id=world.anna.id)
        assert refusal == (400, "Bad Request: not enough rights to restrict/unrestrict chat member")
    assert plain.member(world.anna).status == "member"


async def test_admin_actions_in_telegram_reach_the_bot_as_chat_member(tg: TestClient, world: World) -> None:
    url = f"/_emulator/chats/{world.group.id}/admin_actions"
    await tg.post(url, json={"action": "ban", "user_id": world.anna.id, "admin_user_id": world.owner.id})
    assert "chat_member" not in kinds(world.bot)  # not asked for: Telegram's default leaves it out
    await ok(tg, world.bot.token, "getUpdates", allowed_updates=["chat_member"])
    await tg.post(url, json={"action": "unban", "user_id": world.anna.id, "admin_user_id": world.owner.id})
    await tg.post(url, json={"action": "restrict", "user_id": world.boris.id, "permissions": {}})
    by_admin, by_anonymous = (u["chat_member"] for u in list(world.bot.pending)[-2:])
    assert by_admin["from"]["id"] == world.owner.id
    assert by_admin["new_chat_member"]["status"] == "left"
    assert by_anonymous["from"]["id"] == GROUP_ANONYMOUS_BOT_ID
    assert by_anonymous["new_chat_member"]["status"] == "restricted"
    world.people.writes_in_group(world.boris, world.group, "Всё ещё здесь")
    assert kinds(world.bot)[-1] == "chat_member"  # messages are no longer allowed


async def test_join_and_leave(tg: TestClient, world: World) -> None:
    await ok(tg, world.bot.token, "getUpdates", allowed_updates=["message", "chat_member"])
    newcomer = world.state.add_user("Вера")
    await tg.post(f"/_emulator/chats/{world.group.id}/join", json={"user_id": newcomer.id})
    await tg.post(f"/_emulator/chats/{world.group.id}/leave", json={"user_id": newcomer.id})
    assert kinds(world.bot) == ["chat_member", "message", "chat_member", "message"]
    joined, service_join, left, service_left = (
        u[k] for u, k in zip(world.bot.pending, kinds(world.bot), strict=True)
    )
    assert (joined["old_chat_member"]["status"], joined["new_chat_member"]["status"]) == ("left", "member")
    assert service_join["new_chat_members"] == [newcomer.as_api()]
    assert (
        left["new_chat_member"]["status"] == "left" and service_left["left_chat_member"] == newcomer.as_api()
    )


# --- updates ---------------------------------------------------------------------------------------------


async def test_get_updates_confirms_below_the_offset(tg: TestClient, world: World) -> None:
    for text in ("один", "два", "три"):
        world.people.writes_to_bot(world.anna, world.bot, text)
    updates = await ok(tg, world.bot.token, "getUpdates")
    ids = [u["update_id"] for u in updates]
    assert ids == sorted(ids) and len(ids) == 3 and ids[1] == ids[0] + 1
    assert await ok(tg, world.bot.token, "getUpdates", offset=ids[0]) == updates  # nothing confirmed yet
    rest = await ok(tg, world.bot.token, "getUpdates", offset=ids[1] + 1)
    assert [u["message"]["text"] for u in rest] == ["три"]
    assert await ok(tg, world.bot.token, "getUpdates", offset=ids[2] + 1) == []
    world.people.writes_to_bot(world.anna, world.bot, "четыре")
    world.people.writes_to_bot(world.anna, world.bot, "пять")
    last = await ok(tg, world.bot.token, "getUpdates", offset=-1)
    assert [u["message"]["text"] for u in last] == ["пять"]


async def test_get_updates_waits_for_an_update(tg: TestClient, world: World) -> None:
    async def write_later() -> None:
        await asyncio.sleep(0.2)
        world.people.writes_to_bot(world.anna, world.bot, "наконец")

    started = time.monotonic()
    writer = asyncio.create_task(write_later())
    updates = await ok(tg, world.bot.token, "getUpdates", timeout=5)
    await writer
    assert [u["message"]["text"] for u in updates] == ["наконец"]
    assert 0.15 < time.monotonic() - started < 3
    started = time.monotonic()
    assert await ok(tg, world.bot.token, "getUpdates", offset=updates[0]["update_id"] + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9


async def test_a_newer_get_updates_ends_the_waiting_one(tg: TestClient, world: World) -> None:
    waiting = asyncio.create_task(call(tg, world.bot.token, "getUpdates", timeout=5))
    await asyncio.sleep(0.2)
    newer = asyncio.create_task(call(tg, world.bot.token, "getUpdates", timeout=1))
    status, body = await asyncio.wait_for(waiting, 2)
    assert (status, body["description"]) == (
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    )
    world.people.writes_to_bot(world.anna, world.bot, "тут")
    status, body = await newer
    assert status == 200 and body["result"][0]["message"]["text"] == "тут"


async def test_sending_where_the_bot_is_no_longer_a_member(tg: TestClient, world: World) -> None:
    world.people.admin_acts(world.owner, world.group, "ban", world.bot.id)
    kicked = world.bot.pending[-1]["my_chat_member"]
    assert kicked["new_chat_member"]["status"] == "kicked" and kicked["from"]["id"] == world.owner.id
    refusal = await refused(tg, world.bot.token, "sendMessage", chat_id=world.group.id, text="x")
    assert refusal == (403, "Forbidden: bot was kicked from the supergroup chat")
    world.people.admin_acts(world.owner, world.group, "unban", world.bot.id)
    refusal = await refused(tg, world.bot.token, "sendMessage", chat_id=world.group.id, text="x")
    assert refusal == (403, "Forbidden: bot is not a member of the supergroup chat")
    other = world.state.add_chat("group", "Чужая группа", creator=world.owner)
    refusal = await refused(tg, world.bot.token, "sendMessage", chat_id=other.id, text="x")
    assert refusal == (400, "Bad Request: chat not found")


async def test_get_updates_conflicts_with_a_webhook(tg: TestClient, world: World) -> None:
    assert await ok(tg, world.bot.token, "setWebhook", url="http://127.0.0.1:9/hook") is True
    status, description = await refused(tg, world.bot.token, "getUpdates")
    assert status == 409
    assert description == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    )
    await ok(tg, world.bot.token, "deleteWebhook")
    assert await ok(tg, world.bot.token, "getUpdates") == []


async def test_webhook_delivers_with_the_secret_and_retries_after_a_500(
    aiohttp_client: Any, world: World
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(status=500 if len(received) == 1 else 200)

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receive)
    async with TestServer(receiver_app) as receiver:
        app = create_tg_emulator_app(world.state, retry_schedule=FAST_RETRIES)
        tg = await aiohttp_client(app)
        set_answer = await call(
            tg,
            world.bot.token,
            "setWebhook",
            url=str(receiver.make_url("/hook")),
            secret_token="s3cret_token-1",
            allowed_updates=["message", "chat_member"],
        )
        assert set_answer[1] == {"ok": True, "result": True, "description": "Webhook was set"}
        first = world.people.writes_to_bot(world.anna, world.bot, "первое")
        second = world.people.writes_to_bot(world.anna, world.bot, "второе")
        async with asyncio.timeout(5):
            await app[DELIVERY_KEY].wait_idle(world.bot.id)
        texts = [body["message"]["text"] for _, body in received]
        assert texts == ["первое", "первое", "второе"]  # the failed one again, then the next, in order
        assert {secret for secret, _ in received} == {"s3cret_token-1"}
        assert received[0][1]["message"]["message_id"] == first.message_id
        assert received[2][1]["message"]["message_id"] == second.message_id
        info = await ok(tg, world.bot.token, "getWebhookInfo")
        assert info["pending_update_count"] == 0
        assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
        assert info["allowed_updates"] == ["message", "chat_member"]
        attempts = await (await tg.get("/_emulator/deliveries")).json()
        assert [a["delivered"] for a in attempts] == [False, True, True]


async def test_webhook_keeps_updates_pending_while_unreachable(aiohttp_client: Any, world: World) -> None:
    tg = await aiohttp_client(create_tg_emulator_app(world.state, retry_schedule=FAST_RETRIES))
    await ok(tg, world.bot.token, "setWebhook", url="http://127.0.0.1:9/hook")
    status, description = await refused(
        tg, world.bot.token, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="bad secret!"
    )
    assert (status, description) == (400, "Bad Request: secret token contains unallowed characters")
    world.people.writes_to_bot(world.anna, world.bot, "в никуда")
    await asyncio.sleep(0.3)
    info = await ok(tg, world.bot.token, "getWebhookInfo")
    assert info["pending_update_count"] == 1 and info["last_error_message"] == "Connection refused"
