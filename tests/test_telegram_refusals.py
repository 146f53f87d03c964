"""What Telegram's refusals and faults mean for an operator's action (through the emulator over HTTP):
flood control waits as long as Telegram says, a blocked bot is a final failure in plain words, a message
already gone is deleted all the same, and a reply whose answer was lost is not sent a second time."""

from __future__ import annotations

from datetime import timedelta

from proxy import actions
from proxy.clock import utcnow
from proxy.models import Conversation, Item, ItemTombstone, JournalEntry, OutboxRow, OutboxStatus
from tests.telegram_flow_fixtures import *  # noqa: F403
from tests.telegram_flow_fixtures import Served


async def _private_conversation(served: Served) -> Conversation:
    served.world.people.writes_to_bot(served.world.member, served.world.bot, "Hello?")
    await served.delivered()
    return await Conversation.get(community_id=served.community.id, channel="message")


def _bot_messages(served: Served) -> list[str]:
    chat = served.world.state.private_chat(served.world.bot, served.world.member)
    return [
        m.text
        for m in chat.messages.values()
        if m.from_user is not None and m.from_user.id == served.world.bot.id
    ]


async def test_flood_control_is_waited_out_as_long_as_telegram_says(served: Served) -> None:
    conversation = await _private_conversation(served)
    served.world.state.faults.too_many_requests("sendMessage", retry_after=40)
    before = utcnow()
    row = await actions.reply(served.settings, served.operator, conversation.id, "Soon")
    await served.send_outbox()
    row = await OutboxRow.get(id=row.id)
    assert row.status == OutboxStatus.PENDING and row.error_code == 429
    # The outbox's own backoff would try again in 5 s; Telegram asked for 40.
    assert row.next_attempt_at >= before + timedelta(seconds=40)
    assert _bot_messages(served) == []
    await actions_later(served, row.next_attempt_at)
    assert (await OutboxRow.get(id=row.id)).status == OutboxStatus.SENT
    assert _bot_messages(served) == ["Soon"]


async def actions_later(served: Served, when) -> None:  # type: ignore[no-untyped-def]
    from proxy import outbox

    await outbox.deliver_due(served.settings, now=when + timedelta(seconds=1))


async def test_a_bot_blocked_by_the_user_is_a_final_failure_told_in_plain_words(served: Served) -> None:
    conversation = await _private_conversation(served)
    served.world.people.blocks_bot(served.world.member, served.world.bot)
    row = await actions.reply(served.settings, served.operator, conversation.id, "Are you there?")
    await served.send_outbox()
    row = await OutboxRow.get(id=row.id)
    assert (row.status, row.error_code) == (OutboxStatus.FAILED, 403)
    assert row.error_message.startswith("The user blocked the bot")
    entry = await JournalEntry.get(id=row.journal_entry_id)  # type: ignore[attr-defined]
    assert entry.outcome == "failed" and "blocked the bot" in entry.outcome_detail
    assert entry.outcome_detail.startswith("Telegram error 403: ")  # not "VK error 403"


async def test_a_message_already_gone_in_telegram_is_deleted_all_the_same(served: Served) -> None:
    world = served.world
    spam = world.people.writes_in_group(world.other, world.group, "spam spam")
    await served.delivered()
    item = await Item.get(community_id=served.community.id, text="spam spam")
    world.group.messages[spam.message_id].deleted = True  # an admin deleted it in Telegram: no update comes
    row = await actions.delete_comment(served.settings, served.operator, item.id)
    await served.send_outbox()
    assert (await OutboxRow.get(id=row.id)).status == OutboxStatus.SENT
    assert await ItemTombstone.filter(item_id=item.id).exists()


async def test_a_reply_whose_answer_was_lost_is_not_sent_twice(served: Served) -> None:
    conversation = await _private_conversation(served)
    served.world.state.faults.lose_answer("sendMessage")
    row = await actions.reply(served.settings, served.operator, conversation.id, "Once only")
    await served.send_outbox()
    await actions_later(served, utcnow() + timedelta(minutes=10))
    row = await OutboxRow.get(id=row.id)
    assert row.status == OutboxStatus.FAILED
    assert "may have been delivered" in row.error_message
    assert _bot_messages(served) == ["Once only"]  # Telegram did send it; the proxy did not send it again


async def test_a_delete_past_telegrams_48_hours_is_refused_before_it_is_queued(served: Served) -> None:
    world = served.world
    world.people.writes_in_group(world.other, world.group, "old news")
    await served.delivered()
    item = await Item.get(community_id=served.community.id, text="old news")
    await Item.filter(id=item.id).update(created_at=utcnow() - timedelta(hours=49))
    try:
        await actions.delete_comment(served.settings, served.operator, item.id)
    except actions.ActionError as exc:
        assert exc.status == 409 and "48 hours" in exc.message
    else:
        raise AssertionError("the delete was queued")
    assert not await OutboxRow.filter(item_id=item.id).exists()


async def test_an_author_writing_as_a_channel_is_not_banned_or_muted_and_nothing_is_written(
    served: Served,
) -> None:
    # A member posting in the group on behalf of their channel: `from` is Telegram's Channel_Bot and the
    # sender is the channel (a negative id). Telegram has no member to ban or mute.
    from proxy import mute_actions  # noqa: PLC0415

    world = served.world
    channel = {"id": -1009876543210, "type": "channel", "title": "Deals every day"}
    update = {
        "update_id": 4_000_001,
        "message": {
            "message_id": 77,
            "date": 1_700_000_000,
            "chat": {"id": world.group.id, "type": "supergroup", "title": "Shop chat"},
            "from": {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"},
            "sender_chat": channel,
            "text": "Best deals here",
        },
    }
    answer = await served.client.post(
        f"/callback/telegram/{world.bot.id}",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": served.community.callback_secret},
    )
    assert answer.status == 200
    conversation = await Conversation.get(community_id=served.community.id, channel="group")
    await conversation.fetch_related("author")
    assert conversation.author is not None and conversation.author.vk_id == channel["id"]
    before = (await JournalEntry.all().count(), await OutboxRow.all().count())
    settings, operator = served.settings, served.operator
    for act in (
        lambda: actions.ban_author(settings, operator, conversation.id, reason=1, comment="", until=None),
        lambda: actions.unban_author(settings, operator, conversation.id),
        lambda: mute_actions.mute_author(settings, operator, conversation.id, until=None),
    ):
        try:
            await act()
        except actions.ActionError as exc:
            assert "writes as a channel or as the group itself" in str(exc)
        else:
            raise AssertionError("queued an action on a chat writing as itself")
    assert (await JournalEntry.all().count(), await OutboxRow.all().count()) == before
