"""Telegram's limits held by two instances at once (PostgreSQL): replies to many private chats, several
replies in one chat and more than twenty in one group, queued at once and delivered by the outbox workers
of two `proxy serve` processes, reach the Telegram emulator within Telegram's stated limits (30 messages a
second per bot, one a second per chat, 20 a minute per group), each exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bench.processes import proxy_server
from proxy import actions, communities
from proxy.connectors.telegram.normalize import normalize_all
from proxy.ingest import ingest
from proxy.models import Conversation, Operator, OutboxRow, OutboxStatus, Role
from proxy.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tg_emulator import People, TgState, create_tg_emulator_app

PRIVATE_CHATS = 35
REPLIES_IN_ONE_CHAT = 4
GROUP_REPLIES = 21  # one more than a minute allows
WAIT_SECONDS = 150


async def _mirror(state: TgState, bot: Any, community: Any) -> None:
    """Everything the emulator has for the bot, ingested as its webhook would."""
    for update in list(bot.pending):
        for event in normalize_all(bot.id, update):
            await ingest(community, update, event, source="callback")
    bot.pending.clear()


async def _all_done(ids: list[int]) -> list[OutboxRow]:
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            rows = await OutboxRow.filter(id__in=ids).order_by("id")
            if all(r.status in (OutboxStatus.SENT, OutboxStatus.FAILED) for r in rows):
                return rows
            await asyncio.sleep(0.5)


async def test_two_instances_keep_telegrams_limits_and_send_each_reply_once(
    db_url: str, db: str, settings: Settings, tmp_path: Path, aiohttp_server: Any
) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite runs one process: its own limiter is the only one")
    state = TgState()
    people = People(state)
    bot = state.add_bot("limits_bot", "Limits")
    owner = state.add_user("Owner")
    group = state.add_chat("supergroup", "Busy group", creator=owner)
    people.adds_bot(group, bot, admin=True, by=owner)
    users = [state.add_user(f"Customer {n}") for n in range(PRIVATE_CHATS)]
    for user in users:
        people.joins(user, group)
    bot.pending.clear()
    community = await communities.add_bot(settings, name="Limits", bot_token=bot.token, secret="s3cret")
    operator = await Operator.create(login="op", display_name="Op", password_hash="-", role=Role.ADMIN)

    for user in users:
        people.writes_to_bot(user, bot, "Where is my parcel?")
    for user in users[:GROUP_REPLIES]:
        people.writes_in_group(user, group, f"A question from {user.first_name}")
    await _mirror(state, bot, community)

    ids = []
    private = await Conversation.filter(community_id=community.id, channel="message").order_by("id")
    for conversation in private:
        ids.append((await actions.reply(settings, operator, conversation.id, "On its way")).id)
    for n in range(REPLIES_IN_ONE_CHAT - 1):
        ids.append((await actions.reply(settings, operator, private[0].id, f"Update {n}")).id)
    threads = await Conversation.filter(community_id=community.id, channel="group").order_by("id")
    assert len(threads) == GROUP_REPLIES
    for conversation in threads:
        ids.append((await actions.reply(settings, operator, conversation.id, "Answered")).id)

    # Two fronts on one emulator state: each instance talks to its own, Telegram's accounting sees both.
    fronts = [await aiohttp_server(create_tg_emulator_app(state)) for _ in range(2)]
    instances = [
        proxy_server(
            db_url,
            tmp_path,
            PROXY_WORKERS="true",
            PROXY_SECRET_KEY=TEST_SECRET_KEY,
            PROXY_TELEGRAM_API_BASE=str(front.make_url("")).rstrip("/"),
        )
        for front in fronts
    ]
    try:
        await asyncio.gather(*(instance.start() for instance in instances))
        rows = await _all_done(ids)
    finally:
        await asyncio.gather(*(instance.stop() for instance in instances))

    assert {r.status for r in rows} == {OutboxStatus.SENT}, [(r.id, r.error_message) for r in rows][:5]
    assert state.rate_violations(bot.id) == []
    sent = [
        m
        for chat in [*state.chats.values(), *state.private_chats.values()]
        for m in chat.messages.values()
        if m.from_user is not None and m.from_user.id == bot.id
    ]
    assert len(sent) == len(ids)
