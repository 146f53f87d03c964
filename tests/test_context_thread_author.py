"""The author of a comment conversation is the author of its top-level comment, whatever order VK's events
come in: a reply seen first (VK delivered it first, or the top-level comment was deleted before the proxy
saw it and restored later) must not leave its writer on the author card of someone else's thread."""

from __future__ import annotations

import pytest

from proxy.models import Community, Conversation, Item, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.vk_callbacks import Delivery, post_event


@pytest.mark.parametrize("kind", ["post", "photo", "video", "item"])
async def test_a_reply_delivered_before_its_top_level_comment_does_not_become_the_author(
    client_for, world, community: Community, operator: Operator, kind: str
) -> None:
    client = await client_for(operator)
    deliver = Delivery(world, client)
    asker, other = world.members[0], world.members[1]
    target = getattr(world, kind)
    top = world.scenario.member_comments(world.group, asker, target, "Где мой заказ?", kind=target.kind)
    world.scenario.member_comments(world.group, other, target, "У меня тоже", top, kind=target.kind)
    question, reply = world.state.events(world.group.id)[deliver.seen :]
    deliver.seen += 2
    await post_event(client, reply)
    await post_event(client, question)

    conversation = await Conversation.get().select_related("author")
    assert await Item.filter(conversation_id=conversation.id).count() == 2
    assert conversation.author.vk_id == asker.id


async def test_a_video_thread_whose_top_comment_was_deleted_unseen_gets_its_author_when_restored(
    client_for, world, community: Community, operator: Operator
) -> None:
    """video_comment_delete names no author (tests/fixtures/vk/video_comment_delete-1.json), so the
    placeholder of a top-level comment deleted before the proxy saw it has none; the reply under it
    opened the conversation and named its own writer."""
    client = await client_for(operator)
    deliver = Delivery(world, client)
    asker, other = world.members[0], world.members[1]
    top = world.scenario.member_comments(world.group, asker, world.video, "Где мой заказ?", kind="video")
    world.scenario.member_comments(world.group, other, world.video, "У меня тоже", top, kind="video")
    world.scenario.admin_deletes_in_vk(world.group, top)
    _lost, reply, deleted = world.state.events(world.group.id)[deliver.seen :]
    deliver.seen += 3
    for event in (deleted, reply):
        await post_event(client, event)
    world.scenario.admin_restores_in_vk(world.group, top)
    await deliver()

    conversation = await Conversation.get().select_related("author")
    assert await Item.filter(conversation_id=conversation.id).count() == 2
    assert conversation.author.vk_id == asker.id
