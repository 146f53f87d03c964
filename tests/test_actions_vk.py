"""Operator actions end to end: queued with a journal entry, performed by the outbox over real HTTP against
the VK emulator, recorded with the operator, the text and VK's ids."""

from __future__ import annotations

from datetime import timedelta

import pytest

from proxy import actions, local_actions, outbox
from proxy.actions import ActionError
from proxy.clock import utcnow
from proxy.models import (
    ActorKind,
    Ban,
    ClosingKind,
    Community,
    Conversation,
    ConversationStatus,
    DeletedVia,
    Item,
    ItemTombstone,
    JournalEntry,
    Note,
    Operator,
    OutboxRow,
    OutboxStatus,
    Outcome,
    ReactionSample,
)
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Mirror, drain, journal_of, outbox_rows
from vk_emulator import World


async def entry_of(row: OutboxRow) -> JournalEntry:
    return await JournalEntry.get(id=row.journal_entry_id)


async def test_reply_in_a_dialog_reaches_vk_once_and_is_attributed(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    member = world.members[0]
    conversation, _, _ = await mirror.message(member, "Где мой заказ?")

    row = await actions.reply(vk_settings, operator, conversation.id, "  Уже в пути!  ")

    assert (row.method, row.status, row.text, row.token_kind) == (
        "messages.send", OutboxStatus.PENDING, "Уже в пути!", "community",
    )  # fmt: skip
    random_id = int(row.idempotency_key)
    assert 0 < random_id < 2**31
    entry = await entry_of(row)
    assert (entry.action, entry.actor_kind, entry.operator_id, entry.text, entry.outcome) == (
        "reply.send", ActorKind.OPERATOR, operator.id, "Уже в пути!", Outcome.PENDING,
    )  # fmt: skip
    assert entry.params == {"method": "messages.send", "peer_id": member.id, "random_id": random_id}

    assert await outbox.deliver_due(vk_settings) == 1

    sent = [m for m in world.group.messages.values() if m.out == 1]
    assert [(m.peer_id, m.text, m.random_id) for m in sent] == [(member.id, "Уже в пути!", random_id)]
    row = await OutboxRow.get(id=row.id)
    assert row.status == OutboxStatus.SENT
    assert row.result == {"response": sent[0].id, "vk_ids": {"message_id": sent[0].id}}
    assert row.attempts == 1
    entry = await entry_of(row)
    assert entry.outcome == Outcome.DONE
    assert entry.outcome_detail == f"VK accepted it (message_id {sent[0].id})"
    # The author's wait ended when VK accepted the reply, credited to the operator.
    conversation = await Conversation.get(id=conversation.id)
    assert conversation.waiting_since is None
    sample = await ReactionSample.get(conversation_id=conversation.id)
    assert (sample.operator_id, sample.outside_proxy, sample.ended_by, sample.ended_at) == (
        operator.id, False, "reply", row.sent_at,
    )  # fmt: skip
    assert await outbox.deliver_due(vk_settings) == 0


@pytest.mark.parametrize("kind", ["wall", "photo", "video", "market", "board"])
async def test_reply_in_a_comment_thread_posts_as_the_community(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, kind: str
) -> None:
    target = {"wall": world.post, "photo": world.photo, "video": world.video, "market": world.item,
              "board": world.topic}[kind]  # fmt: skip
    conversation, _, root = await mirror.comment(world.members[0], target, "Есть в наличии?")

    row = await actions.reply(vk_settings, operator, conversation.id, "Да, есть")
    assert await outbox.deliver_due(vk_settings) == 1

    ours = [c for c in world.group.comments.values() if c.from_id == world.group.owner_id]
    assert len(ours) == 1
    posted = ours[0]
    assert (posted.kind, posted.target_id, posted.text) == (kind, target.id, "Да, есть")
    # Board topics are flat; other threads are answered under their top comment.
    assert posted.reply_to_comment == (None if kind == "board" else root.id)
    assert world.group.comment_guids[(kind, row.idempotency_key)] == posted.id
    row = await OutboxRow.get(id=row.id)
    assert row.status == OutboxStatus.SENT
    assert row.result_item_key == f"{kind}:{world.group.owner_id}_{target.id}:{posted.id}"
    assert row.token_kind == "community"
    entry = await entry_of(row)
    assert entry.outcome == Outcome.DONE
    assert entry.outcome_detail == f"VK accepted it (comment_id {posted.id})"
    assert entry.text == "Да, есть"
    assert entry.params["guid"] == row.idempotency_key
    assert (await Conversation.get(id=conversation.id)).waiting_since is None


async def test_reply_to_a_chosen_comment_of_the_thread(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    first, second = world.members[:2]
    conversation, _, root = await mirror.comment(first, world.post, "Когда скидки?")
    _, answer_item, answer = await mirror.comment(second, world.post, "Тоже жду", reply_to=root)
    assert answer_item.conversation_id == conversation.id

    row = await actions.reply(
        vk_settings, operator, conversation.id, "В пятницу", reply_to_item_id=answer_item.id
    )
    await outbox.deliver_due(vk_settings)

    posted = next(c for c in world.group.comments.values() if c.from_id == world.group.owner_id)
    assert (posted.reply_to_comment, posted.reply_to_user, posted.parents_stack) == (
        answer.id,
        second.id,
        [root.id],
    )
    assert (await entry_of(row)).item_id == answer_item.id


async def test_replying_to_a_closed_conversation_is_sent_and_leaves_it_closed(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Спасибо!")
    await actions.close_conversation(vk_settings, operator, conversation.id)

    await actions.reply(vk_settings, operator, conversation.id, "Обращайтесь!")
    assert await drain(vk_settings) == 2  # markAsAnsweredConversation, then the reply

    assert [m.text for m in world.group.messages.values() if m.out == 1] == ["Обращайтесь!"]
    assert (await Conversation.get(id=conversation.id)).status == ConversationStatus.CLOSED


@pytest.mark.parametrize("kind", ["wall", "board"])
async def test_delete_and_restore_a_comment(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, kind: str
) -> None:
    target = world.post if kind == "wall" else world.topic
    _, item, comment = await mirror.comment(world.members[0], target, "Спам спам спам")

    row = await actions.delete_comment(vk_settings, operator, item.id)
    # Board moderation works with the community token, wall comments need the admin's user token.
    assert row.token_kind == ("admin" if kind == "wall" else "community")
    entry = await entry_of(row)
    assert (entry.action, entry.operator_id, entry.item_id, entry.text) == (
        "comment.delete", operator.id, item.id, "Спам спам спам",
    )  # fmt: skip
    assert entry.params["comment_id"] == comment.id
    await outbox.deliver_due(vk_settings)

    assert world.group.comments[(kind, comment.id)].deleted
    item = await Item.get(id=item.id)
    assert item.is_deleted
    tombstone = await ItemTombstone.get(item_id=item.id)
    assert (tombstone.deleted_via, tombstone.deleted_by_id, tombstone.last_text, tombstone.restored_at) == (
        DeletedVia.PROXY, operator.id, "Спам спам спам", None,
    )  # fmt: skip
    assert tombstone.deleter_vk_id == (world.group.admin_user_id if kind == "wall" else None)
    assert (await entry_of(row)).outcome == Outcome.DONE

    with pytest.raises(ActionError) as refused:
        await actions.delete_comment(vk_settings, operator, item.id)
    assert (refused.value.status, refused.value.message) == (409, "the comment is already deleted")

    restore = await actions.restore_comment(vk_settings, operator, item.id)
    await outbox.deliver_due(vk_settings)

    assert not world.group.comments[(kind, comment.id)].deleted
    assert not (await Item.get(id=item.id)).is_deleted
    tombstone = await ItemTombstone.get(item_id=item.id)
    assert tombstone.restored_by_id == operator.id and tombstone.restored_at is not None
    assert (await entry_of(restore)).action == "comment.restore"
    assert len(await outbox_rows()) == 2


async def test_delete_already_recorded_from_vks_echo_is_attributed_once(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    _, item, _ = await mirror.comment(world.members[0], world.post, "Грубость")
    row = await actions.delete_comment(vk_settings, operator, item.id)
    # VK's wall_reply_delete arrived (and was ingested, unmatched) before the worker recorded the result.
    echo_at = utcnow()
    await Item.filter(id=item.id).update(is_deleted=True, deleted_at=echo_at)
    await ItemTombstone.create(
        item_id=item.id, deleted_at=echo_at, deleted_via=DeletedVia.VK_ADMIN,
        deleter_vk_id=world.group.admin_user_id, last_text="Грубость",
    )  # fmt: skip

    await outbox.deliver_due(vk_settings)

    tombstones = await ItemTombstone.filter(item_id=item.id)
    assert [(t.deleted_via, t.deleted_by_id, t.deleted_at) for t in tombstones] == [
        (DeletedVia.PROXY, operator.id, echo_at)
    ]
    assert (await OutboxRow.get(id=row.id)).status == OutboxStatus.SENT


async def test_ban_and_unban_the_author(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World, community: Community
) -> None:
    member = world.members[1]
    conversation, _, _ = await mirror.comment(member, world.post, "Оскорбление")
    until = (utcnow() + timedelta(days=7)).replace(microsecond=0)

    row = await actions.ban_author(
        vk_settings, operator, conversation.id, reason=2, comment="Оскорбления", until=until
    )
    entry = await entry_of(row)
    assert (entry.action, entry.operator_id, entry.text) == ("author.ban", operator.id, "Оскорбления")
    assert entry.params == {
        "method": "groups.ban", "group_id": world.group.id, "owner_id": member.id, "reason": 2,
        "end_date": int(until.timestamp()), "comment": "Оскорбления",
    }  # fmt: skip
    await outbox.deliver_due(vk_settings)

    vk_ban = world.group.bans[member.id]
    assert (vk_ban.reason, vk_ban.comment, vk_ban.end_date, vk_ban.admin_id) == (
        2, "Оскорбления", int(until.timestamp()), world.group.admin_user_id,
    )  # fmt: skip
    ban = await Ban.get(community_id=community.id)
    assert (ban.banned_by_id, ban.reason, ban.comment, ban.until, ban.lifted_at) == (
        operator.id, 2, "Оскорбления", until, None,
    )  # fmt: skip
    assert ban.admin_vk_id == world.group.admin_user_id
    assert (await entry_of(row)).outcome == Outcome.DONE

    with pytest.raises(ActionError) as refused:
        await actions.ban_author(vk_settings, operator, conversation.id, reason=0, comment="", until=None)
    assert refused.value.status == 409

    unban = await actions.unban_author(vk_settings, operator, conversation.id)
    await outbox.deliver_due(vk_settings)

    assert member.id not in world.group.bans
    assert (await Ban.get(id=ban.id)).lifted_at is not None
    assert (await entry_of(unban)).outcome == Outcome.DONE


async def test_closing_a_waiting_dialog_is_without_reply_and_marks_it_answered_in_vk(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    member = world.members[0]
    conversation, _, _ = await mirror.message(member, "Алло?")
    assert world.group.conversations[member.id].unanswered

    closing = await actions.close_conversation(vk_settings, operator, conversation.id)

    assert (closing.kind, closing.operator_id) == (ClosingKind.WITHOUT_REPLY, operator.id)
    [close_entry] = await journal_of("conversation.close")
    assert (close_entry.operator_id, close_entry.outcome, close_entry.params) == (
        operator.id, Outcome.DONE,
        {"kind": "without_reply", "close_id": closing.id, "vk_mark_answered": True},
    )  # fmt: skip
    [row] = await outbox_rows()
    assert row.method == "messages.markAsAnsweredConversation"
    assert (await entry_of(row)).action == "conversation.mark_answered"
    await outbox.deliver_due(vk_settings)

    assert not world.group.conversations[member.id].unanswered
    assert (await entry_of(row)).outcome == Outcome.DONE
    with pytest.raises(ActionError) as refused:
        await actions.close_conversation(vk_settings, operator, conversation.id)
    assert refused.value.status == 409


async def test_reply_then_close_counts_as_closed_with_reply(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")

    await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    closing = await actions.close_conversation(vk_settings, operator, conversation.id)

    assert closing.kind == ClosingKind.WITH_REPLY
    [sample] = await ReactionSample.filter(conversation_id=conversation.id)
    assert (sample.ended_by, sample.operator_id) == ("reply", operator.id)
    # Reply first, then the mark: one row per conversation at a time, in order.
    assert await outbox.deliver_due(vk_settings) == 1
    assert await outbox.deliver_due(vk_settings) == 1
    assert [r.status for r in await outbox_rows()] == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert await ReactionSample.filter(conversation_id=conversation.id).count() == 1


async def test_local_actions_reopen_assign_note_are_journaled_done(
    vk_settings: Settings, operator: Operator, manager: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "Привет")
    await actions.close_conversation(vk_settings, operator, conversation.id)
    reopened = await local_actions.reopen_conversation(vk_settings, operator, conversation.id)
    assert reopened.status == ConversationStatus.OPEN
    with pytest.raises(ActionError) as refused:
        await local_actions.reopen_conversation(vk_settings, operator, conversation.id)
    assert refused.value.status == 409

    assigned = await local_actions.assign(vk_settings, manager, conversation.id, operator.id)
    assert assigned.assignee_id == operator.id
    await local_actions.assign(vk_settings, operator, conversation.id, None)
    assert (await Conversation.get(id=conversation.id)).assignee_id is None

    note = await local_actions.add_note(vk_settings, operator, conversation.id, "  Постоянный клиент  ")
    assert (await Note.get(id=note.id)).text == "Постоянный клиент"

    entries = await JournalEntry.filter(action__in=[
        "conversation.reopen", "conversation.assign", "note.add"]).order_by("id")  # fmt: skip
    assert [(e.action, e.operator_id, e.outcome) for e in entries] == [
        ("conversation.reopen", operator.id, Outcome.DONE),
        ("conversation.assign", manager.id, Outcome.DONE),
        ("conversation.assign", operator.id, Outcome.DONE),
        ("note.add", operator.id, Outcome.DONE),
    ]
    assert entries[1].params == {"assignee_id": operator.id, "previous_assignee_id": None}
    assert entries[3].text == "Постоянный клиент"
    assert await OutboxRow.all().count() == 0  # comment threads: nothing to tell VK


async def test_assigning_to_an_operator_without_access_is_refused(
    vk_settings: Settings, operator: Operator, outsider: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    with pytest.raises(ActionError) as refused:
        await local_actions.assign(vk_settings, operator, conversation.id, outsider.id)
    assert (refused.value.status, refused.value.message) == (400, "Oleg has no access to this community")
    assert (await Conversation.get(id=conversation.id)).assignee_id is None


async def test_mark_read_in_a_dialog_reaches_vk_and_is_not_queued_twice(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    member = world.members[0]
    conversation, _, message = await mirror.message(member, "Прочитайте меня")
    first = await actions.mark_read(vk_settings, operator, conversation.id)
    again = await actions.mark_read(vk_settings, operator, conversation.id)
    assert first is not None and again is not None and first.id == again.id

    await outbox.deliver_due(vk_settings)

    assert world.group.conversations[member.id].in_read == message.id
    thread, _, _ = await mirror.comment(member, world.post, "Комментарий")
    assert await actions.mark_read(vk_settings, operator, thread.id) is None
