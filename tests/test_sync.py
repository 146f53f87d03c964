"""Catch-up sync: every kind of item read through the real VK client from the emulator, stored once."""

from __future__ import annotations

import argparse

from proxy import db as proxy_db
from proxy.models import Conversation, Direction, Item, ItemVersion, RawEvent
from proxy.sync import cmd_sync, sync_community
from tests import vk_fixtures
from tests.vk_fixtures import Wired

wired = vk_fixtures.wired


def populate(w: Wired) -> None:
    """A message dialog with an admin reply, and comments (with a thread reply) on every kind of target."""
    world, s, g = w.world, w.world.scenario, w.world.group
    anna, boris, vera = world.members
    s.member_writes_message(g, anna, "где заказ?")
    s.admin_replies_in_vk(g, anna, "уже в пути")
    top = s.member_comments(g, boris, world.post, "вопрос под постом")
    s.member_comments(g, vera, world.post, "ответ в ветке", reply_to=top)
    s.member_comments_photo(g, anna, world.photo, "про фото")
    s.member_comments_video(g, boris, world.video, "про видео")
    s.member_comments_market(g, vera, world.item, "про товар")
    s.member_posts_in_board(g, anna, world.topic, "в обсуждении")


async def test_sync_reads_every_kind_and_is_idempotent(wired: Wired) -> None:
    populate(wired)
    group = wired.world.group
    report = await sync_community(wired.settings, wired.community)
    assert (report.read, report.changed, report.unchanged) == (8, 8, 0)
    rows = await Item.all().order_by("key").values_list("key", "text", "direction")
    anna, boris, vera = (m.id for m in wired.world.members)
    owner = -group.id
    post, photo, video, item, topic = (
        wired.world.post.id,
        wired.world.photo.id,
        wired.world.video.id,
        wired.world.item.id,
        wired.world.topic.id,
    )
    comments = {c.text: c.id for c in group.comments.values()}
    assert sorted(rows) == sorted(
        [
            (f"message:{anna}:1", "где заказ?", Direction.IN),
            (f"message:{anna}:2", "уже в пути", Direction.OUT),
            (f"wall:{owner}_{post}:{comments['вопрос под постом']}", "вопрос под постом", Direction.IN),
            (f"wall:{owner}_{post}:{comments['ответ в ветке']}", "ответ в ветке", Direction.IN),
            (f"photo:{owner}_{photo}:{comments['про фото']}", "про фото", Direction.IN),
            (f"video:{owner}_{video}:{comments['про видео']}", "про видео", Direction.IN),
            (f"market:{owner}_{item}:{comments['про товар']}", "про товар", Direction.IN),
            (f"board:{owner}_{topic}:{comments['в обсуждении']}", "в обсуждении", Direction.IN),
        ]
    )
    # The thread reply lands in its top-level comment's conversation.
    reply = await Item.get(text="ответ в ветке")
    conversation = await Conversation.get(id=reply.conversation_id)
    assert conversation.key == f"wall:{owner}_{post}:{comments['вопрос под постом']}"
    assert reply.reply_to_key == f"wall:{owner}_{post}:{comments['вопрос под постом']}"
    raw_before = await RawEvent.all().count()
    again = await sync_community(wired.settings, wired.community)
    assert (again.read, again.changed) == (8, 0)
    assert (await RawEvent.all().count(), await Item.all().count()) == (raw_before, 8)


async def test_sync_after_events_duplicates_nothing_and_catches_missed_edits(wired: Wired) -> None:
    from proxy.connectors.vk.normalize import normalize
    from proxy.ingest import ingest

    populate(wired)
    for event in wired.state.events(wired.world.group.id):
        await ingest(wired.community, event, normalize(event), source="longpoll")
    items_before = await Item.all().count()
    report = await sync_community(wired.settings, wired.community)
    assert (report.read, report.changed, await Item.all().count()) == (8, 0, items_before)
    # An edit whose event was lost: the next sync sees the new text and records a version.
    comment = next(c for c in wired.world.group.comments.values() if c.text == "про фото")
    comment.text = "про фото (исправлено)"
    report = await sync_community(wired.settings, wired.community)
    assert report.changed == 1
    item = await Item.get(text="про фото (исправлено)")
    versions = await ItemVersion.filter(item_id=item.id).order_by("number").values_list("text", flat=True)
    assert versions == ["про фото", "про фото (исправлено)"]


async def test_sync_command(wired: Wired, capsys) -> None:  # type: ignore[no-untyped-def]
    populate(wired)
    group_id = wired.community.vk_group_id
    await proxy_db.close_database()  # the command opens the database itself
    try:
        assert await cmd_sync(argparse.Namespace(community=group_id), wired.settings) == 0
    finally:
        await proxy_db.open_database(wired.settings.database_url)
    out = capsys.readouterr().out
    assert (
        out
        == f"synced {wired.community.name} ({group_id}): 8 items read, 8 new or changed, 0 already stored\n"
    )
    assert await Item.all().count() == 8
