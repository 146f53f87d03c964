"""The conversation state machine: waiting periods, reaction samples, closing kinds, reopening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from proxy import conversations
from proxy.conversations import ConversationError, ThreadAddress
from proxy.models import (
    Channel,
    ClosingKind,
    Community,
    ConversationClose,
    ConversationStatus,
    Operator,
    ReactionSample,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = ThreadAddress(channel=Channel.MESSAGE, key="message:555", object_id=555)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def community(db) -> Community:
    return await Community.create(vk_group_id=1, name="Shop", callback_secret="s", confirmation_code="c")


@pytest.fixture
async def operator(db) -> Operator:
    return await Operator.create(login="olga", password_hash="x")


async def open_conversation(community: Community):
    async with in_transaction() as conn:
        return await conversations.get_or_open(community, ADDRESS, at=at(0), author_id=None, conn=conn)


async def author_wrote(conversation_id: int, minutes: float) -> None:
    async with in_transaction() as conn:
        conv = await conversations.lock(conversation_id, conn)
        await conversations.author_wrote(conv, at=at(minutes), preview="hello", conn=conn)


async def replied(conversation_id: int, minutes: float, operator_id: int | None, outside: bool = False):
    async with in_transaction() as conn:
        conv = await conversations.lock(conversation_id, conn)
        return await conversations.community_replied(
            conv, at=at(minutes), operator_id=operator_id, outside_proxy=outside, conn=conn
        )


async def close(conversation_id: int, minutes: float, operator_id: int | None):
    async with in_transaction() as conn:
        conv = await conversations.lock(conversation_id, conn)
        return await conversations.close(conv, at=at(minutes), operator_id=operator_id, conn=conn)


async def test_get_or_open_is_idempotent(community: Community) -> None:
    first = await open_conversation(community)
    second = await open_conversation(community)
    assert first.id == second.id
    assert first.status == ConversationStatus.OPEN and first.waiting_since is None


async def test_waiting_period_ends_at_first_reply_only(community: Community, operator: Operator) -> None:
    conv = await open_conversation(community)
    await author_wrote(conv.id, 0)
    await author_wrote(conv.id, 3)  # already waiting: the period still starts at 0
    sample = await replied(conv.id, 10, operator.id)
    assert sample is not None
    assert (sample.started_at, sample.ended_at, sample.seconds) == (at(0), at(10), 600.0)
    assert sample.is_first and sample.ended_by == "reply" and sample.operator_id == operator.id
    assert await replied(conv.id, 12, operator.id) is None  # nobody waits any more
    await author_wrote(conv.id, 20)
    second = await replied(conv.id, 21, None, outside=True)
    assert second is not None and not second.is_first and second.outside_proxy and second.seconds == 60.0
    assert await ReactionSample.all().count() == 2


async def test_close_without_reply_measures_the_wait(community: Community, operator: Operator) -> None:
    conv = await open_conversation(community)
    await author_wrote(conv.id, 5)
    closing = await close(conv.id, 35, operator.id)
    assert closing.kind == ClosingKind.WITHOUT_REPLY
    assert closing.duration_seconds == 35 * 60.0
    sample = await ReactionSample.get(conversation_id=conv.id)
    assert (sample.ended_by, sample.seconds, sample.operator_id) == ("close", 1800.0, operator.id)
    with pytest.raises(ConversationError):
        await close(conv.id, 36, operator.id)


async def test_close_with_reply_then_reopen_on_new_message(community: Community, operator: Operator) -> None:
    conv = await open_conversation(community)
    await author_wrote(conv.id, 0)
    await replied(conv.id, 2, operator.id)
    closing = await close(conv.id, 4, operator.id)
    assert closing.kind == ClosingKind.WITH_REPLY
    await author_wrote(conv.id, 60)  # the author writes again: reopened, waiting, first reaction again
    async with in_transaction() as conn:
        reopened = await conversations.lock(conv.id, conn)
    assert reopened.status == ConversationStatus.OPEN
    assert (reopened.opened_at, reopened.waiting_since, reopened.closing_kind) == (at(60), at(60), None)
    sample = await replied(conv.id, 61, operator.id)
    assert sample is not None and sample.is_first and sample.seconds == 60.0
    assert await ConversationClose.all().count() == 1


async def test_late_reply_dated_before_the_wait_does_not_answer_it(community: Community) -> None:
    conv = await open_conversation(community)
    await author_wrote(conv.id, 10)
    assert await replied(conv.id, 5, None, outside=True) is None
    async with in_transaction() as conn:
        still = await conversations.lock(conv.id, conn)
    assert still.waiting_since == at(10)
