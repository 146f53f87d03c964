"""An author's name is asked for as soon as an item arrives (the live hub's item_created), not at the next
interval only, and the pages open on their conversations are pushed again with it."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from proxy import author_profiles
from proxy.live import LiveHub
from proxy.models import Author, Channel, Community, Conversation, ConversationStatus
from proxy.networks import connections
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403

WAIT_SECONDS = 15


async def test_a_new_item_starts_a_naming_round_at_once(
    vk_settings: Settings, community: Community, world, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the new item can start the second round within the test.
    monkeypatch.setattr(author_profiles, "INTERVAL_SECONDS", 3600.0)
    waiting = asyncio.Event()
    wait = author_profiles._new_item_or_interval

    async def waits(queue):  # type: ignore[no-untyped-def]
        waiting.set()
        await wait(queue)

    monkeypatch.setattr(author_profiles, "_new_item_or_interval", waits)
    hub = LiveHub()
    member = world.members[0]
    async with connections(vk_settings) as opened, hub.subscribe() as published:
        worker = asyncio.create_task(author_profiles.keep_names_filled(vk_settings, opened, hub))
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await waiting.wait()  # the first round found nobody to name
            author = await Author.create(vk_id=member.id)
            conversation = await Conversation.create(
                community=community,
                channel=Channel.MESSAGE,
                key=f"message:{member.id}",
                author=author,
                status=ConversationStatus.OPEN,
                opened_at=datetime.now(UTC),
                awaiting_first_reaction=True,
            )
            await hub.publish(
                "item_created", {"community_id": community.id, "conversation_id": conversation.id}
            )
            async with asyncio.timeout(WAIT_SECONDS):
                while True:
                    message = await published.get()
                    if message.name == "author_changed":
                        break
            assert message.data == {"community_id": community.id, "conversation_id": conversation.id}
            assert (await Author.get(id=author.id)).name == f"{member.first_name} {member.last_name}"
        finally:
            worker.cancel()
            async with asyncio.timeout(WAIT_SECONDS):  # a worker that ignored its cancel fails, not hangs
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
