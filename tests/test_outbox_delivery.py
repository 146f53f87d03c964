"""The outbox worker against the VK emulator: retries of transient errors, permanent failures, a worker
killed between the VK call and the update, concurrent workers, order within a conversation."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from proxy import actions, outbox
from proxy.appkeys import BACKGROUND, OUTBOX_WAKEUPS
from proxy.clock import utcnow
from proxy.communities import add_community
from proxy.connectors.vk.actions import VkActions
from proxy.connectors.vk.client import ERROR_MESSAGES
from proxy.connectors.vk.transport import http_session
from proxy.models import Community, JournalEntry, Network, Operator, OutboxRow, OutboxStatus, Outcome, Role
from proxy.networks import open_connections
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Mirror, drain
from tests.browser_fixtures import csrf_token, log_in
from vk_emulator import World

LATER = timedelta(hours=1)


def sends(world: World, method: str = "messages.send") -> int:
    """How many times VK was asked to perform `method` (accepted or not)."""
    return sum(
        1 for record in world.state.calls.get(world.group.community_token, ()) if record.method == method
    )


@pytest.mark.parametrize("code", [6, 9, 10])
async def test_transient_vk_error_is_retried_with_backoff_then_sent(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, code: int
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    row = await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    world.state.faults.error("messages.send", code, times=1)

    now = utcnow()
    assert await outbox.deliver_due(vk_settings, now=now) == 1
    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.attempts, row.error_code, row.error_message) == (
        OutboxStatus.PENDING, 1, code, ERROR_MESSAGES[code],
    )  # fmt: skip
    assert row.next_attempt_at == now + timedelta(seconds=5)
    assert (await JournalEntry.get(id=row.journal_entry_id)).outcome == Outcome.PENDING
    assert await outbox.deliver_due(vk_settings, now=now) == 0  # not due before the backoff

    assert await outbox.deliver_due(vk_settings, now=now + timedelta(seconds=5)) == 1
    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.attempts, row.error_code) == (OutboxStatus.SENT, 2, None)
    assert [m.text for m in world.group.messages.values() if m.out == 1] == ["Ответ"]
    assert (await JournalEntry.get(id=row.journal_entry_id)).outcome == Outcome.DONE


async def test_vk_unreachable_is_retried(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "Вопрос")
    row = await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    world.state.faults.http_status("wall.createComment", 502, times=1)

    await outbox.deliver_due(vk_settings)
    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.error_code, row.error_message) == (
        OutboxStatus.PENDING, None, "VK could not be reached; the action will be retried",
    )  # fmt: skip
    await outbox.deliver_due(vk_settings, now=utcnow() + LATER)
    assert (await OutboxRow.get(id=row.id)).status == OutboxStatus.SENT


@pytest.mark.parametrize("code", [15, 901])
async def test_permanent_vk_error_fails_the_action_in_plain_words(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, code: int
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    row = await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    world.state.faults.error("messages.send", code, times=1)

    await outbox.deliver_due(vk_settings)

    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.attempts, row.error_code, row.error_message) == (
        OutboxStatus.FAILED, 1, code, ERROR_MESSAGES[code],
    )  # fmt: skip
    entry = await JournalEntry.get(id=row.journal_entry_id)
    assert (entry.outcome, entry.outcome_detail) == (
        Outcome.FAILED,
        f"VK error {code}: {ERROR_MESSAGES[code]}",
    )
    assert await outbox.deliver_due(vk_settings, now=utcnow() + LATER) == 0
    assert sends(world) == 1
    assert not [m for m in world.group.messages.values() if m.out == 1]


async def test_author_who_denied_messages_fails_with_901(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    member = world.members[0]
    conversation, _, _ = await mirror.message(member, "Не пишите мне")
    world.scenario.member_denies_messages(world.group, member)
    row = await actions.reply(vk_settings, operator, conversation.id, "Хорошо")

    await outbox.deliver_due(vk_settings)

    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.error_code) == (OutboxStatus.FAILED, 901)
    assert row.error_message == "the user has not allowed messages from the community"


async def test_transient_errors_give_up_after_the_attempt_limit(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    row = await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    world.state.faults.error("messages.send", 10, times=None)

    now = utcnow()
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert await outbox.deliver_due(vk_settings, now=now + attempt * LATER) == 1
    assert await outbox.deliver_due(vk_settings, now=now + 100 * LATER) == 0

    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.attempts, row.error_code) == (OutboxStatus.FAILED, outbox.MAX_ATTEMPTS, 10)
    entry = await JournalEntry.get(id=row.journal_entry_id)
    assert entry.outcome == Outcome.FAILED
    assert (
        entry.outcome_detail
        == f"VK error 10: {ERROR_MESSAGES[10]} (gave up after {outbox.MAX_ATTEMPTS} attempts)"
    )
    assert sends(world) == outbox.MAX_ATTEMPTS


async def test_missing_admin_token_at_send_time_fails_naming_the_token(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, community: Community
) -> None:
    _, item, _ = await mirror.comment(world.members[0], world.post, "Спам")
    row = await actions.delete_comment(vk_settings, operator, item.id)
    await Community.filter(id=community.id).update(admin_token_enc=None)  # removed after queuing

    await outbox.deliver_due(vk_settings)

    row = await OutboxRow.get(id=row.id)
    assert row.status == OutboxStatus.FAILED
    assert row.error_message is not None and "no admin user token" in row.error_message


@pytest.mark.parametrize("channel", ["message", "wall"])
async def test_worker_killed_between_vk_call_and_update_sends_exactly_once(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, channel: str
) -> None:
    if channel == "message":
        conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
        method = "messages.send"
    else:
        conversation, _, _ = await mirror.comment(world.members[0], world.post, "Вопрос")
        method = "wall.createComment"
    queued = await actions.reply(vk_settings, operator, conversation.id, "Ответ")

    # A worker claims the row and VK performs the call; the worker dies before recording anything.
    assert await outbox.claim(limit=10) == [queued.id]
    claimed = await OutboxRow.get(id=queued.id)
    session = http_session(vk_settings.vk_api_base)
    try:
        first = await outbox.perform(vk_settings, {Network.VK: VkActions(session)}, claimed)
    finally:
        session.close()
    assert (claimed.status, claimed.locked_until is not None) == (OutboxStatus.SENDING, True)

    # While the lease holds nobody touches the row; after it expires the row is sent again, same key.
    assert await outbox.deliver_due(vk_settings) == 0
    assert await outbox.deliver_due(vk_settings, now=utcnow() + outbox.LEASE + timedelta(seconds=1)) == 1

    row = await OutboxRow.get(id=queued.id)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert sends(world, method) == 2
    if channel == "message":
        sent = [m for m in world.group.messages.values() if m.out == 1]
        assert [m.text for m in sent] == ["Ответ"]
        assert row.result == {"response": first.response, "vk_ids": {"message_id": sent[0].id}}
        assert len(world.state.events(world.group.id, "message_reply")) == 1
    else:
        ours = [c for c in world.group.comments.values() if c.from_id == world.group.owner_id]
        assert [c.text for c in ours] == ["Ответ"]
        assert row.result_item_key == first.item_key
    assert (await JournalEntry.get(id=row.journal_entry_id)).outcome == Outcome.DONE


async def test_concurrent_workers_never_send_a_row_twice_and_keep_each_conversations_order(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    members = world.members + [world.state.add_user("Участник", str(n)) for n in range(17)]
    rows = []
    for member in members:
        conversation, _, _ = await mirror.message(member, "Вопрос")
        for n in (1, 2):
            rows.append(await actions.reply(vk_settings, operator, conversation.id, f"Ответ {n}"))

    # The workers of one instance share its clients (one limiter per token), as the app's do.
    opened = open_connections(vk_settings)

    async def worker() -> int:
        done = 0
        while claimed := await outbox.deliver_due(vk_settings, limit=3, opened=opened):
            done += claimed
        return done

    # Three workers, each on its own pooled connection on PostgreSQL; SQLite serialises them.
    delivered = await asyncio.gather(worker(), worker(), worker())
    delivered_total = sum(delivered) + await drain(
        vk_settings, opened
    )  # whatever one finished before the other
    # A call that failed for a moment (a timed-out request on a starved machine) waits out its backoff
    # before it is due again: deliver those rows at a time past it, as the worker would then.
    while claimed := await outbox.deliver_due(vk_settings, now=utcnow() + LATER, opened=opened):
        delivered_total += claimed
    opened.close()

    # Claims may therefore exceed rows; what must hold is one send per row, in each dialog's order.
    assert delivered_total >= len(rows) == 40
    assert {r.status for r in await OutboxRow.all()} == {OutboxStatus.SENT}
    # VK may be asked more than once for a row (a refused or timed-out call is retried with the same
    # random_id, which VK, and the emulator, performs once): the messages at VK are what must match.
    assert sends(world) >= len(rows)
    for member in members:
        texts = [m.text for m in world.group.messages.values() if m.out == 1 and m.peer_id == member.id]
        assert texts == ["Ответ 1", "Ответ 2"]


async def test_a_row_held_by_one_worker_is_skipped_by_another(
    db_url: str, vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite has one process and serial transactions: there is no second worker")
    for member in world.members:
        conversation, _, _ = await mirror.message(member, "Вопрос")
        await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    held: list[int] = []
    locked, release = asyncio.Event(), asyncio.Event()

    async def first_worker() -> None:
        # Its own task, so its transaction is not the test's (tortoise keeps it in a context variable).
        async with in_transaction() as conn:
            held.extend(await outbox.select_due(conn, limit=2, now=utcnow()))
            locked.set()
            await release.wait()

    holder = asyncio.create_task(first_worker())
    await locked.wait()
    try:
        second = await asyncio.wait_for(outbox.claim(limit=50), 10)
    finally:
        release.set()
        await holder
    assert len(held) == 2 and len(second) == 1
    assert set(second).isdisjoint(held)


async def test_worker_in_the_app_delivers_when_woken(
    aiohttp_client, db_url: str, vk_settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a wake-up the worker would not look again for an hour (on SQLite nothing else wakes it).
    monkeypatch.setattr(outbox, "POLL_INTERVAL_SECONDS", 3600.0)
    settings = dataclasses.replace(vk_settings, workers=True)
    client = await aiohttp_client(create_app(settings))
    app = client.server.app
    worker = app[BACKGROUND]["outbox_worker"]
    assert not app[BACKGROUND]["outbox"].done()
    changed: asyncio.Queue[int | None] = asyncio.Queue()
    worker.listeners.append(changed.put_nowait)

    # The app opened the database; the rows are made through it.
    community = await add_community(
        settings, vk_group_id=world.group.id, name="c", secret="s", confirmation="c",
        community_token=world.group.community_token,
    )  # fmt: skip
    operator = await Operator.create(login="anna", password_hash="x", role=Role.ADMIN)
    conversation, _, _ = await Mirror(world, community).message(world.members[0], "Эй")

    row = await actions.reply(settings, operator, conversation.id, "Здравствуйте")
    app[OUTBOX_WAKEUPS].wake()  # as the web view does after an action that queues

    assert await asyncio.wait_for(changed.get(), 30) == conversation.id
    assert (await OutboxRow.get(id=row.id)).status == OutboxStatus.SENT
    assert [m.text for m in world.group.messages.values() if m.out == 1] == ["Здравствуйте"]


async def test_an_action_posted_on_the_page_wakes_this_process_worker(
    aiohttp_client, vk_settings: Settings, world: World, community: Community, operator: Operator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The view that queues the action wakes the app's workers (app[OUTBOX_WAKEUPS]) after the commit."""
    monkeypatch.setattr(outbox, "POLL_INTERVAL_SECONDS", 3600.0)  # no second look without a wake-up
    client = await aiohttp_client(create_app(dataclasses.replace(vk_settings, workers=True)))
    worker = client.server.app[BACKGROUND]["outbox_worker"]
    changed: asyncio.Queue[int | None] = asyncio.Queue()
    worker.listeners.append(changed.put_nowait)
    conversation, _, _ = await Mirror(world, community).message(world.members[0], "Эй")
    while worker.rounds < 1:  # noqa: ASYNC110 - the worker has looked once and sleeps
        await asyncio.sleep(0.05)
    await log_in(client, operator)

    posted = await client.post(
        f"/conversations/{conversation.id}/reply",
        data={"text": "Здравствуйте", "csrf_token": await csrf_token(client)},
    )

    assert posted.status == 200, await posted.text()
    assert await asyncio.wait_for(changed.get(), 30) == conversation.id
    assert [m.text for m in world.group.messages.values() if m.out == 1] == ["Здравствуйте"]


async def test_a_reply_queued_during_a_slow_send_goes_out_without_waiting_for_it(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    """The worker claims again while an earlier claim is still being performed: a slow VK answer on one
    conversation does not hold back another conversation's reply."""
    slow, _, _ = await mirror.message(world.members[0], "Первый")
    fast, _, _ = await mirror.comment(world.members[1], world.post, "Второй")
    world.state.faults.delay("messages.send", 10.0, times=1)
    worker = outbox.OutboxWorker(vk_settings, poll_interval=0.05)
    running = asyncio.create_task(worker.run())
    try:
        held = await actions.reply(vk_settings, operator, slow.id, "Медленный ответ")
        worker.wake()
        while (await OutboxRow.get(id=held.id)).status != OutboxStatus.SENDING:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

        quick = await actions.reply(vk_settings, operator, fast.id, "Быстрый ответ")
        worker.wake()
        while (await OutboxRow.get(id=quick.id)).status != OutboxStatus.SENT:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

        # Sent while the first is still with VK: before, it waited for the first claim to finish.
        assert (await OutboxRow.get(id=held.id)).status == OutboxStatus.SENDING
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
