"""Replies sent through the proxy while VK's echoes of them race the outbox's own commit (PostgreSQL).

The outbox records a sent reply in one transaction (the row, its journal outcome, the conversation's
waiting period) while ingest takes in VK's echo of the same reply in another (the item, the
conversation, the row the echo matches). Both take the conversation and the outbox row: taken in two
orders they deadlocked, PostgreSQL aborted one of them, and an outbox row whose commit was aborted
stayed `sending` until its lease ran out, with the later replies of its conversation queued behind
it. Every writer now takes them in one order (docs/architecture.md, "Lock order").

The whole path is real: replies queued by the action service, the app's own outbox worker calling the
VK emulator over HTTP with vk_api, the emulator posting each echo to the app's Callback endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer, unused_port

from proxy import actions
from proxy import db as proxy_db
from proxy.communities import add_community
from proxy.models import (
    Community,
    Conversation,
    Direction,
    Item,
    JournalEntry,
    Operator,
    OutboxRow,
    OutboxStatus,
    ReactionSample,
    Role,
)
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Feed
from tests.conftest import TEST_SECRET_KEY
from tests.databases import _asyncpg_url
from tests.pg_locks import backends_gone, deadlocks, until_waiting
from vk_emulator import CallbackConfig, EmulatorState, World, start_emulator

# 200 wall comment replies and 200 message replies: five in each of 40 threads and 40 dialogs, so that
# later replies of a conversation wait behind earlier ones, as they do when an operator answers twice.
CONVERSATIONS = 40
REPLIES_EACH = 5
SECRET = "lock-order-secret"
# Echoes whose ingest failed are posted again soon (VK waits 10 s before its first retry).
RETRY_SCHEDULE = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)
# A guard against hanging, not a speed requirement: at VK's 20 calls a second the replies take about
# 20 s; a row whose recording was aborted stays `sending` for its 60 s lease and is caught here.
WAIT_SECONDS = 45.0


@pytest.fixture
async def postgres_url(postgres_factory: Any) -> AsyncIterator[str]:
    url = await postgres_factory.new_database()
    yield url
    await postgres_factory.drop(url)


async def _wait_until_sent(ids: list[int]) -> list[OutboxRow]:
    """The rows once all are sent, or as they stand when the guard runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        rows = await OutboxRow.filter(id__in=ids).order_by("id")
        if all(r.status == OutboxStatus.SENT for r in rows) or loop.time() > deadline:
            return rows
        await asyncio.sleep(0.2)


async def test_replies_and_their_echoes_never_deadlock(postgres_url: str) -> None:
    port = unused_port()
    state = EmulatorState()
    state.enforce_rate_limits = False  # the proxy keeps to 20 calls a second itself
    url = f"http://127.0.0.1:{port}/callback/vk/"
    world = World.create(state, callback=CallbackConfig(url, SECRET, "conf"))
    group = world.group
    group.callback.url = url + str(group.id)  # type: ignore[union-attr]
    members = [state.add_user("Участник", str(n)) for n in range(CONVERSATIONS)]
    emulator = await start_emulator(state, retry_schedule=RETRY_SCHEDULE)
    settings = Settings.from_env(
        {},
        database_url=postgres_url,
        secret_key=TEST_SECRET_KEY,
        workers=True,
        public_url=f"http://127.0.0.1:{port}",
        vk_api_base=emulator.base_url,
    )
    await proxy_db.open_database(postgres_url)
    community = await add_community(
        settings,
        vk_group_id=group.id,
        name=group.name,
        secret=SECRET,
        confirmation="conf",
        community_token=group.community_token,
        admin_token=group.admin_token,
        admin_vk_user_id=group.admin_user_id,
    )
    operator = await Operator.create(login="olga", password_hash="x", role=Role.OPERATOR)
    await operator.communities.add(community)
    deadlocks_before = await deadlocks(postgres_url)

    server = TestServer(create_app(settings), port=port)
    await server.start_server()
    try:
        for n, member in enumerate(members):
            state.set_messages_allowed(group, member.id, True)
            world.scenario.member_writes_message(group, member, f"Вопрос в личке {n}")
            world.scenario.member_comments(group, member, world.post, f"Вопрос под постом {n}")
        async with asyncio.timeout(30):
            await emulator.delivery.wait_idle()
        conversation_ids = [c.id for c in await Conversation.filter(community_id=community.id).order_by("id")]
        assert len(conversation_ids) == 2 * CONVERSATIONS

        # Operators answer each conversation several times, threads and dialogs interleaved.
        texts = {}
        for round_ in range(REPLIES_EACH):
            for conversation_id in conversation_ids:
                text = f"Ответ {round_} в разговоре {conversation_id}"
                row = await actions.reply(settings, operator, conversation_id, text)
                texts[row.id] = text
        rows = await _wait_until_sent(list(texts))
        async with asyncio.timeout(30):
            await emulator.delivery.wait_idle()  # every echo taken in (retried ones too)
        out_items = await Item.filter(community_id=community.id, direction=Direction.OUT)
        outside_replies = await JournalEntry.filter(action="vk.reply").count()
        samples = await ReactionSample.filter(community_id=community.id)
    finally:
        await server.close()
        await emulator.close()
        await proxy_db.close_database()
    await backends_gone(postgres_url)

    assert await deadlocks(postgres_url) - deadlocks_before == 0
    unsent = [(r.id, r.status, r.error_message) for r in rows if r.status != OutboxStatus.SENT]
    assert unsent == [], f"{len(unsent)} rows not sent"
    # At VK: each reply posted once.
    posted = [c.text for c in group.comments.values() if c.from_id == group.owner_id]
    posted += [m.text for m in group.messages.values() if m.out]
    assert sorted(posted) == sorted(texts.values())
    # In the proxy: each reply one item of its row, the operator's, and no echo taken for a reply in VK.
    assert sorted(i.outbox_row_id for i in out_items) == sorted(texts)
    assert {i.sent_by_id for i in out_items} == {operator.id}  # type: ignore[attr-defined]
    assert {texts[i.outbox_row_id] for i in out_items} == set(texts.values())
    assert outside_replies == 0
    # The first reply in each conversation ended its waiting period; the later ones found nobody waiting.
    assert sorted(s.conversation_id for s in samples) == sorted(conversation_ids)  # type: ignore[attr-defined]
    assert {(s.operator_id, s.outside_proxy) for s in samples} == {(operator.id, False)}  # type: ignore[attr-defined]


async def test_deleting_a_comment_while_its_edit_arrives(
    db_url: str, vk_settings: Settings, operator: Operator, world: World, community: Community
) -> None:
    """An operator deletes a comment while ingest takes in the author's edit of it. Ingest locks the
    conversation, then the item; the deletion locked the item and then, writing its journal entry (which
    names the conversation), needed the conversation: each waited for the other. A test connection holds
    the item so that both are waiting when it lets go, the deletion first."""
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite runs one write transaction at a time")
    feed = Feed(world, community)
    await feed()
    comment = world.scenario.member_comments(world.group, world.members[0], world.post, "Грубость")
    await feed()
    item = await Item.get(direction=Direction.IN)
    world.scenario.member_edits(world.group, comment, "Грубость, исправлено")
    before = await deadlocks(db_url)

    holder = await asyncpg.connect(_asyncpg_url(db_url))
    watcher = await asyncpg.connect(_asyncpg_url(db_url))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM item WHERE id = $1 FOR UPDATE", item.id)
        deletion = asyncio.create_task(actions.delete_comment(vk_settings, operator, item.id))
        await until_waiting(watcher, 1)
        edit = asyncio.create_task(feed())
        await until_waiting(watcher, 2)
        await transaction.rollback()
        results = await asyncio.gather(deletion, edit, return_exceptions=True)
    finally:
        await holder.close()
        await watcher.close()

    assert not [r for r in results if isinstance(r, BaseException)]
    assert await deadlocks(db_url) == before
    edited = await Item.get(id=item.id)
    assert (edited.text, edited.version_count) == ("Грубость, исправлено", 2)
    [row] = await OutboxRow.filter(item_id=item.id)
    assert row.method == "wall.deleteComment"
