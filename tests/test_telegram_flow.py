"""A Telegram bot end to end: updates delivered by the Telegram emulator to the proxy's webhook over real
HTTP, mirrored once, answered and moderated through the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from proxy import actions, mute_actions
from proxy.appkeys import CONNECTIONS
from proxy.clock import utcnow
from proxy.models import (
    Author,
    Ban,
    Channel,
    Community,
    Conversation,
    Direction,
    Item,
    ItemTombstone,
    ItemVersion,
    JournalEntry,
    Network,
    OutboxRow,
    OutboxStatus,
    RawEvent,
    ReactionSample,
)
from proxy.networks import client_for_check
from proxy.rules import store as rules_store
from proxy.rules import worker as rules_worker
from proxy.rules.worker import CompiledRules, evaluate_due
from proxy.settings import Settings
from tests.telegram_flow_fixtures import *  # noqa: F403
from tests.telegram_flow_fixtures import SECRET, Served, wait_for


async def test_a_private_message_is_mirrored_once_and_answered_through_the_bot(served: Served) -> None:
    world = served.world
    world.people.writes_to_bot(world.member, world.bot, "Where is my order?")
    await served.delivered()

    conversation = await Conversation.get(community_id=served.community.id)
    assert conversation.channel == Channel.MESSAGE and conversation.waiting_since is not None
    author = await Author.get(id=conversation.author_id)  # type: ignore[attr-defined]
    assert (author.network, author.vk_id, author.name) == (Network.TELEGRAM, world.member.id, "Ivan Petrov")

    await actions.reply(served.settings, served.operator, conversation.id, "It leaves today")
    assert await served.send_outbox() == 1

    sent = [
        m
        for m in world.state.private_chat(world.bot, world.member).messages.values()
        if m.from_user is not None and m.from_user.id == world.bot.id
    ]
    assert [m.text for m in sent] == ["It leaves today"]
    row = await OutboxRow.get(community_id=served.community.id)
    assert (row.method, row.status) == ("sendMessage", OutboxStatus.SENT)
    reply = await Item.get(conversation_id=conversation.id, direction=Direction.OUT)
    assert (reply.text, reply.sent_by_id, reply.vk_id) == (
        "It leaves today",
        served.operator.id,
        sent[0].message_id,
    )  # type: ignore[attr-defined]
    conversation = await Conversation.get(id=conversation.id)
    assert conversation.waiting_since is None
    sample = await ReactionSample.get(conversation_id=conversation.id)
    assert sample.operator_id == served.operator.id  # type: ignore[attr-defined]
    entry = await JournalEntry.get(action="reply.send")
    assert entry.outcome == "done"


async def test_the_same_update_delivered_twice_changes_nothing_the_second_time(served: Served) -> None:
    world = served.world
    world.people.writes_to_bot(world.member, world.bot, "hello")
    update = dict(world.bot.pending[-1]) if world.bot.pending else None
    await served.delivered()
    assert update is None or update["update_id"]
    raw = await RawEvent.filter(community_id=served.community.id).first()
    assert raw is not None
    again = await served.client.post(
        f"/callback/telegram/{world.bot.id}",
        data=raw.payload if isinstance(raw.payload, str) else json.dumps(raw.payload),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert (again.status, await again.text()) == (200, "ok")
    assert await Item.filter(community_id=served.community.id).count() == 1
    assert await RawEvent.filter(community_id=served.community.id).count() == 1


async def test_a_wrong_or_missing_secret_is_refused_and_writes_nothing(served: Served) -> None:
    body = json.dumps(
        {
            "update_id": 5,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": False, "first_name": "X"},
                "text": "hi",
            },
        }
    )
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "not-it"}):
        response = await served.client.post(
            f"/callback/telegram/{served.world.bot.id}", data=body, headers=headers
        )
        assert response.status == 403
    unknown = await served.client.post(
        "/callback/telegram/42", data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert unknown.status == 404
    assert await RawEvent.all().count() == 0
    assert await Item.all().count() == 0


async def test_a_group_reply_joins_the_thread_and_spam_is_deleted_and_its_author_banned(
    served: Served,
) -> None:
    world = served.world
    question = world.people.writes_in_group(world.member, world.group, "Is the shop open on Sunday?")
    world.people.writes_in_group(world.other, world.group, "Good question", reply_to=question)
    await served.delivered()
    conversations = await Conversation.filter(community_id=served.community.id)
    assert len(conversations) == 1 and conversations[0].channel == Channel.GROUP
    assert await Item.filter(conversation_id=conversations[0].id).count() == 2

    spam = world.people.writes_in_group(world.other, world.group, "Cheap followers at spam.example")
    await served.delivered()
    item = await Item.get(community_id=served.community.id, text="Cheap followers at spam.example")
    await actions.delete_comment(served.settings, served.operator, item.id)
    await served.send_outbox()
    assert world.group.messages[spam.message_id].deleted
    assert await ItemTombstone.filter(item_id=item.id).exists()

    spam_thread = await Conversation.get(id=item.conversation_id)  # type: ignore[attr-defined]
    await actions.ban_author(
        served.settings, served.operator, spam_thread.id, reason=1, comment="", until=None
    )
    await served.send_outbox()
    assert world.group.member(world.other).status == "kicked"
    assert await Ban.filter(community_id=served.community.id, lifted_at__isnull=True).count() == 1
    # Telegram's chat_member update for the bot's own ban is recognised as the proxy's action.
    await served.delivered()
    assert not await JournalEntry.filter(action="vk.ban").exists()


async def test_a_business_chat_is_answered_with_its_connection(served: Served) -> None:
    world = served.world
    connection = world.people.connects_business(world.owner, world.bot)
    world.people.business_message(connection, world.member, "Do you deliver to Kazan?")
    await served.delivered()
    conversation = await Conversation.get(community_id=served.community.id, channel=Channel.BUSINESS)
    assert conversation.connection == connection.id

    await actions.reply(served.settings, served.operator, conversation.id, "Yes, in two days")
    await served.send_outbox()
    chat = world.state.business_chat(connection, world.member)
    answer = [m for m in chat.messages.values() if m.text == "Yes, in two days"]
    assert answer and answer[0].business_connection_id == connection.id
    await wait_for(lambda: Item.filter(conversation_id=conversation.id, direction=Direction.OUT).exists())


async def test_a_ban_by_an_admin_in_telegram_is_journaled_as_theirs(served: Served) -> None:
    world = served.world
    world.people.writes_in_group(world.other, world.group, "rude words")
    world.people.admin_acts(world.owner, world.group, "ban", world.other)
    await served.delivered()
    ban = await Ban.get(community_id=served.community.id)
    assert ban.admin_vk_id == world.owner.id and ban.banned_by_id is None  # type: ignore[attr-defined]
    entry = await JournalEntry.get(action="vk.ban")
    assert entry.vk_user_id == world.owner.id


async def test_a_moderation_rule_deletes_telegram_spam_and_bans_its_author(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules_worker, "STAMP_SECONDS", 0.0)
    world = served.world
    rule = await rules_store.create_rule(
        None,
        community_id=served.community.id,
        mode="on",
        name="Casino",
        conditions={"words": ["casino"]},
        actions=[{"do": "delete"}, {"do": "ban", "days": 7}],
    )
    spam = world.people.writes_in_group(world.other, world.group, "Best casino bonus here")
    world.people.writes_in_group(world.member, world.group, "When do you open?")
    await served.delivered()

    result = await evaluate_due(served.settings, CompiledRules(), now=utcnow() + timedelta(seconds=1))
    assert (result.checked, result.hits) == (2, 1)
    await served.send_outbox()
    await served.send_outbox()
    assert world.group.messages[spam.message_id].deleted
    assert world.group.member(world.other).status == "kicked"
    item = await Item.get(community_id=served.community.id, text="Best casino bonus here")
    tombstone = await ItemTombstone.get(item_id=item.id)
    assert (tombstone.deleted_by_id, tombstone.deleted_by_rule_id) == (None, rule.id)  # type: ignore[attr-defined]
    await served.delivered()  # Telegram's chat_member update for the rule's own ban
    assert not await JournalEntry.filter(action="vk.ban").exists()


async def test_a_mute_through_the_proxy_and_one_by_an_admin_in_telegram(served: Served) -> None:
    world = served.world
    world.people.writes_in_group(world.other, world.group, "SHOUTING")
    await served.delivered()
    thread = await Conversation.get(community_id=served.community.id)
    await mute_actions.mute_author(served.settings, served.operator, thread.id, until=None)
    await served.send_outbox()
    member = world.group.member(world.other)
    assert member.status == "restricted" and member.permissions.get("can_send_messages") is False
    await served.delivered()  # Telegram's chat_member update for the proxy's own mute
    assert not await JournalEntry.filter(action="vk.restrict").exists()
    assert await JournalEntry.filter(action="author.mute", outcome="done").exists()

    world.people.admin_acts(
        world.owner, world.group, "restrict", world.member, permissions={"can_send_messages": False}
    )
    await served.delivered()
    entry = await JournalEntry.get(action="vk.restrict")
    assert (entry.vk_user_id, entry.params["user_id"]) == (world.owner.id, world.member.id)


async def test_a_vk_community_has_no_mute(served: Served, settings: Settings) -> None:
    # The same conversation shape on VK: its connector plans no mute; nothing is written.
    world = served.world
    world.people.writes_in_group(world.other, world.group, "hello")
    await served.delivered()
    thread = await Conversation.get(community_id=served.community.id)
    await Community.filter(id=served.community.id).update(network=Network.VK)
    before = await JournalEntry.all().count()
    with pytest.raises(actions.ActionError):
        await mute_actions.mute_author(served.settings, served.operator, thread.id, until=None)
    assert await JournalEntry.all().count() == before
    assert not await OutboxRow.filter(community_id=served.community.id).exists()


async def test_closing_a_telegram_chat_is_the_proxys_own_and_sends_nothing(served: Served) -> None:
    world = served.world
    world.people.writes_to_bot(world.member, world.bot, "Thanks, all good")
    await served.delivered()
    conversation = await Conversation.get(community_id=served.community.id)
    assert await actions.mark_read(served.settings, served.operator, conversation.id) is None
    closing = await actions.close_conversation(
        served.settings, served.operator, conversation.id, reason="no_answer_needed"
    )
    assert closing.kind == "without_reply"
    assert not await OutboxRow.filter(community_id=served.community.id).exists()
    entry = await JournalEntry.get(action="conversation.close")
    assert entry.params["vk_mark_answered"] is False


async def test_edits_are_versions_and_business_deletions_are_kept_with_their_text(served: Served) -> None:
    world = served.world
    group_message = world.people.writes_in_group(world.member, world.group, "Price is 100")
    await served.delivered()
    world.people.edits(group_message, "Price is 120")
    connection = world.people.connects_business(world.owner, world.bot)
    first = world.people.business_message(connection, world.member, "My card number is 1234")
    second = world.people.business_message(connection, world.member, "Sorry, ignore that")
    await served.delivered()
    world.people.deletes_business_messages(connection, world.member, [first.message_id, second.message_id])
    await served.delivered()

    edited = await Item.get(community_id=served.community.id, channel=Channel.GROUP)
    assert (edited.text, edited.version_count) == ("Price is 120", 2)
    versions = await ItemVersion.filter(item_id=edited.id).order_by("number").values_list("text", flat=True)
    assert versions == ["Price is 100", "Price is 120"]
    business = await Item.filter(community_id=served.community.id, channel=Channel.BUSINESS).order_by("id")
    assert [(i.text, i.is_deleted) for i in business] == [
        ("My card number is 1234", True),
        ("Sorry, ignore that", True),
    ]
    tombstones = await ItemTombstone.filter(item_id__in=[i.id for i in business])
    assert sorted(t.last_text for t in tombstones) == ["My card number is 1234", "Sorry, ignore that"]


async def test_the_connection_check_asks_the_bots_rights_in_each_group_seen(served: Served) -> None:
    world = served.world
    world.people.writes_in_group(world.member, world.group, "hi all")
    await served.delivered()
    client = await client_for_check(served.settings, served.client.app[CONNECTIONS], served.community)
    checks = await client.check_connection()
    assert [(c.name, c.status) for c in checks] == [
        ("community_token", "ok"),
        ("webhook", "ok"),
        ("rights", "ok"),
    ]
    assert world.group.id == checks[2].params["chat"]

    world.people.admin_acts(world.owner, world.group, "demote", world.bot.user)
    checks = await client.check_connection()
    assert (checks[2].name, checks[2].status) == ("rights", "warning")
