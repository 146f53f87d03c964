"""The deleted-content archive: deleted items with who deleted them, filters, and an item's whole story."""

from __future__ import annotations

from proxy.audit.archive import (
    ArchiveFilter,
    ArchiveState,
    StateKind,
    deleted_items,
    item_history,
    iter_deleted_items,
)
from proxy.models import Channel, DeletedVia, Direction, Item, ItemTombstone, ItemVersion
from tests.audit_fixtures import (
    VK_ADMIN_ID,
    Base,
    at,
    fill_every_table,
    make_base,
    make_deleted_comment_story,
)


async def _message(
    base: Base, n: int, text: str, via: DeletedVia, day: int, *, restored: bool = False
) -> Item:
    item = await Item.create(
        community=base.community,
        conversation=base.conversation,
        channel=Channel.MESSAGE,
        key=f"message:{base.author.vk_id}:{n}",
        direction=Direction.IN,
        author=base.author,
        from_vk_id=base.author.vk_id,
        text=text,
        created_at=at(day, 8),
        is_deleted=not restored,
        deleted_at=None if restored else at(day, 9),
    )
    await ItemVersion.create(item=item, number=1, text=text, valid_from=at(day, 8))
    await ItemTombstone.create(
        item=item,
        deleted_at=at(day, 9),
        deleted_via=via,
        deleter_vk_id=base.author.vk_id if via == DeletedVia.AUTHOR else VK_ADMIN_ID,
        last_text=text,
        restored_at=at(day, 10) if restored else None,
    )
    return item


async def test_story_has_every_state(db: str) -> None:
    base = await make_base()
    item = await make_deleted_comment_story(base)
    states = await item_history(item.id)
    assert [(s.kind, s.at, s.text, s.version) for s in states] == [
        (StateKind.CREATED, at(2, 9), "Хлеб черствый", 1),
        (StateKind.EDITED, at(2, 9, 10), "Хлеб черствый, верните деньги", 2),
        (StateKind.EDITED, at(2, 9, 20), "Хлеб черствый, верните деньги!!!", 3),
        (StateKind.DELETED, at(2, 10), "Хлеб черствый, верните деньги!!!", None),
        (StateKind.RESTORED, at(2, 11), "Хлеб черствый, верните деньги!!!", None),
    ]
    deleted, restored = states[3], states[4]
    # Deleted by a community admin in VK, who is linked to the operator "olga".
    assert (deleted.via, deleted.vk_user_id, deleted.operator_login) == ("vk_admin", VK_ADMIN_ID, "olga")
    assert (restored.via, restored.operator_login) == ("proxy", "max")
    assert states[0].vk_user_id == base.author.vk_id and states[0].operator_id is None
    assert await item_history(10**9) == []


async def test_deleted_items_newest_deletion_first(db: str) -> None:
    base = await make_base()
    story = await make_deleted_comment_story(base)
    by_author = await _message(base, 1, "передумал", DeletedVia.AUTHOR, 5)
    by_admin = await _message(base, 2, "Грубость и SPAM", DeletedVia.VK_ADMIN, 6, restored=True)
    page = await deleted_items(ArchiveFilter())
    assert [d.item_id for d in page] == [by_admin.id, by_author.id, story.id]
    first = page[0]
    assert (first.text, first.is_deleted, first.deletions, first.last_deleted_at) == (
        "Грубость и SPAM",
        False,
        1,
        at(6, 9),
    )
    assert (first.community_name, first.author_name, first.author_vk_id) == ("Пекарня", "Иван Петров", 7001)

    # Keyset pages give the same order without repeats.
    assert [d.item_id async for d in iter_deleted_items(ArchiveFilter(), page_size=2)] == [
        d.item_id for d in page
    ]
    second = await deleted_items(ArchiveFilter(), limit=2)
    assert [d.item_id for d in await deleted_items(ArchiveFilter(), after=second[-1].cursor)] == [story.id]


async def test_archive_filters(db: str) -> None:
    base = await make_base()
    story = await make_deleted_comment_story(base)
    by_author = await _message(base, 1, "передумал", DeletedVia.AUTHOR, 5)
    by_admin = await _message(base, 2, "Грубость и SPAM", DeletedVia.VK_ADMIN, 6, restored=True)

    async def ids(**kwargs) -> list[int]:
        return [d.item_id for d in await deleted_items(ArchiveFilter(**kwargs))]

    assert await ids(deleted_via=DeletedVia.AUTHOR) == [by_author.id]
    assert await ids(deleted_via=DeletedVia.VK_ADMIN) == [by_admin.id, story.id]
    assert await ids(channel=Channel.WALL) == [story.id]
    assert await ids(since=at(5, 0), until=at(6, 0)) == [by_author.id]
    assert await ids(state=ArchiveState.DELETED) == [by_author.id]
    assert await ids(state=ArchiveState.RESTORED) == [by_admin.id, story.id]
    assert await ids(community_ids=()) == []
    assert await ids(community_ids=(base.community.id,), author_id=base.author.id) == [
        by_admin.id,
        by_author.id,
        story.id,
    ]
    assert await ids(author_id=base.author.id + 1) == []
    # Text search reaches earlier versions, and ignores case for Cyrillic at a sentence start.
    assert await ids(text="верните") == [story.id]
    assert await ids(text="грубость") == [by_admin.id]
    assert await ids(text="spam") == [by_admin.id]
    assert await ids(text="100%") == []


async def test_placeholder_deleted_before_its_text_arrived(db: str) -> None:
    # A deletion VK reported for an item the proxy never saw: no versions, text unknown.
    base = await make_base()
    await fill_every_table(base)
    placeholder = await Item.create(
        community=base.community,
        conversation=base.conversation,
        channel=Channel.WALL,
        key="wall:-1_10:999",
        direction=Direction.IN,
        text="",
        created_at=at(7, 9),
        version_count=0,
        is_deleted=True,
        deleted_at=at(7, 9),
    )
    await ItemTombstone.create(item=placeholder, deleted_at=at(7, 9), deleted_via=DeletedVia.UNKNOWN)
    newest = (await deleted_items(ArchiveFilter(), limit=1))[0]
    assert (newest.item_id, newest.text, newest.created_at, newest.author_name) == (
        placeholder.id,
        "",
        None,
        "",
    )
    assert [(s.kind, s.via) for s in await item_history(placeholder.id)] == [(StateKind.DELETED, "unknown")]
