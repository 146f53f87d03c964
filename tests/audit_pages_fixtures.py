"""A team's recorded past for the manager pages' tests (tests/test_audit_pages.py, tests/test_browser_audit.py).

Content and actions are recorded the way the proxy records them: actions through proxy/actions.py and the
outbox to the VK emulator, content as ingest would mirror it, and VK-side deletions as ingest stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from proxy import actions, local_actions
from proxy.audit import journal
from proxy.models import (
    ActorKind,
    Author,
    Community,
    Conversation,
    DeletedVia,
    Item,
    ItemTombstone,
    ItemVersion,
    Operator,
)
from tests.actions_fixtures import drain

__all__ = ["SPAM_TEXT", "Story", "delete_by_hand", "first_version", "make_story", "story"]

SPAM_TEXT = "Купите пылесос недорого, пишите в личку"


@dataclass
class Story:
    community: Community
    operator: Operator
    manager: Operator
    author: Author
    proxy_deleted: Item  # a wall comment deleted by the operator through the proxy
    vk_story: Item  # a wall comment edited twice, deleted by a community admin in VK, restored
    message: Item  # a message deleted by its author
    other_conversation: Conversation


async def delete_by_hand(item: Item, *, at: datetime, via: DeletedVia, vk_id: int | None = None) -> None:
    await Item.filter(id=item.id).update(is_deleted=True, deleted_at=at)
    await ItemTombstone.create(
        item_id=item.id, deleted_at=at, deleted_via=via, deleter_vk_id=vk_id, last_text=item.text
    )


async def first_version(item: Item) -> Item:
    """The mirror fixture writes the item only; ingest also keeps its first version (searched, shown)."""
    await ItemVersion.create(item_id=item.id, number=1, text=item.text, valid_from=item.created_at)
    return item


async def make_story(vk_settings, world, mirror, community, operator, manager) -> Story:
    """Content and actions the way the proxy records them: through the actions and the outbox, or as ingest would."""
    members = world.members
    _, spam, _ = await mirror.comment(members[0], world.post, "Купите пылесос недорого")
    # Written ten minutes ago and edited five minutes later, then deleted by the operator now.
    written = spam.created_at - timedelta(minutes=10)
    await Item.filter(id=spam.id).update(
        created_at=written, text=SPAM_TEXT, version_count=2, edited_at=written + timedelta(minutes=5)
    )
    await ItemVersion.create(item_id=spam.id, number=1, text=spam.text, valid_from=written)
    await ItemVersion.create(
        item_id=spam.id, number=2, text=SPAM_TEXT, valid_from=written + timedelta(minutes=5)
    )
    await actions.delete_comment(vk_settings, operator, spam.id)
    assert await drain(vk_settings) == 1  # the comment is deleted in VK; the tombstone names the operator

    conversation, story, _ = await mirror.comment(members[1], world.post, "Хлеб черствый")
    await first_version(story)
    base = story.created_at
    await ItemVersion.create(
        item_id=story.id,
        number=2,
        text="Хлеб черствый, верните деньги",
        valid_from=base + timedelta(minutes=10),
    )
    await Item.filter(id=story.id).update(text="Хлеб черствый, верните деньги", version_count=2)
    story = await Item.get(id=story.id)
    await delete_by_hand(
        story, at=base + timedelta(minutes=20), via=DeletedVia.VK_ADMIN, vk_id=world.group.admin_user_id
    )
    await ItemTombstone.filter(item_id=story.id).update(
        restored_at=base + timedelta(minutes=30), restored_by_id=manager.id
    )
    await Item.filter(id=story.id).update(is_deleted=False)
    await journal.record(
        "vk.delete", actor_kind=ActorKind.OUTSIDE, vk_user_id=world.group.admin_user_id, community_id=community.id,
        conversation_id=conversation.id, item_id=story.id, text="Хлеб черствый, верните деньги",
        at=base + timedelta(minutes=20),
    )  # fmt: skip

    dialog, message, _ = await mirror.message(members[2], "Пароль от карты 1234, удалите пожалуйста")
    await first_version(message)
    # Deleted as soon as written (VK's dates are whole seconds), before the manager's note about it.
    await delete_by_hand(message, at=message.created_at, via=DeletedVia.AUTHOR, vk_id=members[2].id)
    await local_actions.add_note(vk_settings, manager, dialog.id, "Автор прислал пароль, сообщение удалено")
    author = await Author.get(vk_id=members[1].id)
    return Story(
        community, operator, manager, author,
        await Item.get(id=spam.id), await Item.get(id=story.id), await Item.get(id=message.id), dialog,
    )  # fmt: skip


@pytest.fixture
async def story(vk_settings, world, mirror, community, operator, manager) -> Story:
    return await make_story(vk_settings, world, mirror, community, operator, manager)
