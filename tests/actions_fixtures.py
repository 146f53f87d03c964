"""Fixtures for operator actions and the outbox: a VK emulator over HTTP, a community carrying its tokens,
operators, and conversations mirrored the way ingest would mirror them.

Import the fixtures into a test module with `from tests.actions_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from tortoise.transactions import in_transaction

from proxy import conversations, networks, outbox
from proxy.communities import add_community
from proxy.connectors.registry import Connections
from proxy.connectors.vk.normalize import normalize
from proxy.conversations import ThreadAddress
from proxy.ingest import ingest
from proxy.models import (
    Author,
    Channel,
    Community,
    Conversation,
    Direction,
    Item,
    JournalEntry,
    Operator,
    OutboxRow,
    Role,
)
from proxy.settings import Settings
from vk_emulator import Comment, Message, Target, User, World, create_emulator_app

__all__ = [
    "Feed",
    "Mirror",
    "community",
    "emulator",
    "manager",
    "mirror",
    "operator",
    "outsider",
    "vk_settings",
    "world",
]


@pytest.fixture
def world() -> World:
    return World.create()


@pytest.fixture
async def emulator(aiohttp_server: Any, world: World) -> TestServer:
    return await aiohttp_server(create_emulator_app(world.state))


@pytest.fixture
def vk_settings(settings: Settings, emulator: TestServer) -> Settings:
    """The test settings with VK calls routed to the emulator."""
    return dataclasses.replace(settings, vk_api_base=str(emulator.make_url("")).rstrip("/"))


@pytest.fixture
async def community(db: str, vk_settings: Settings, world: World) -> Community:
    return await add_community(
        vk_settings,
        vk_group_id=world.group.id,
        name=world.group.name,
        secret="callback-secret",
        confirmation="c0nf1rm",
        community_token=world.group.community_token,
        admin_token=world.group.admin_token,
        admin_vk_user_id=world.group.admin_user_id,
    )


async def _operator(login: str, role: Role, *communities: Community) -> Operator:
    operator = await Operator.create(login=login, display_name=login.title(), password_hash="x", role=role)
    for community in communities:
        await operator.communities.add(community)
    return operator


@pytest.fixture
async def operator(community: Community) -> Operator:
    """An operator assigned to the community."""
    return await _operator("olga", Role.OPERATOR, community)


@pytest.fixture
async def outsider(community: Community) -> Operator:
    """An operator of no community."""
    return await _operator("oleg", Role.OPERATOR)


@pytest.fixture
async def manager(community: Community) -> Operator:
    return await _operator("maria", Role.MANAGER)


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


class Feed:
    """Hands the emulator's new events to ingest, as the Callback endpoint would."""

    def __init__(self, world: World, community: Community) -> None:
        self.world = world
        self.community = community
        self.seen = 0

    async def __call__(self) -> list[dict[str, Any]]:
        events = self.world.state.events(self.world.group.id)[self.seen :]
        self.seen += len(events)
        for event in events:
            await ingest(self.community, event, normalize(event), source="callback")
        return events


class Mirror:
    """Puts what happened in the emulator into the store, as ingest would (conversation, author, item)."""

    def __init__(self, world: World, community: Community) -> None:
        self.world = world
        self.community = community
        self.owner_id = world.group.owner_id

    async def _author(self, user_id: int) -> Author:
        author, _ = await Author.get_or_create(vk_id=user_id, defaults={"name": f"user {user_id}"})
        return author

    async def _record(
        self, address: ThreadAddress, item_key: str, *, vk_id: int, from_id: int, text: str, date: int
    ) -> tuple[Conversation, Item]:
        author = await self._author(from_id)
        at = _at(date)
        async with in_transaction() as conn:
            conversation = await conversations.get_or_open(
                self.community, address, at=at, author_id=author.id, conn=conn
            )
            await conversations.author_wrote(conversation, at=at, preview=text, conn=conn)
            item = await Item.create(
                community_id=self.community.id,
                conversation_id=conversation.id,
                channel=address.channel,
                key=item_key,
                vk_id=vk_id,
                direction=Direction.IN,
                author_id=author.id,
                from_vk_id=from_id,
                text=text,
                created_at=at,
                using_db=conn,
            )
        return await Conversation.get(id=conversation.id), item

    async def message(self, member: User, text: str) -> tuple[Conversation, Item, Message]:
        """A member writes to the community."""
        message = self.world.scenario.member_writes_message(self.world.group, member, text)
        address = ThreadAddress(
            channel=Channel.MESSAGE, key=f"message:{member.id}", owner_id=self.owner_id, object_id=member.id
        )
        conversation, item = await self._record(
            address,
            f"message:{member.id}:{message.conversation_message_id}",
            vk_id=message.id,
            from_id=member.id,
            text=text,
            date=message.date,
        )
        return conversation, item, message

    async def comment(
        self, member: User, target: Target, text: str, *, reply_to: Comment | None = None
    ) -> tuple[Conversation, Item, Comment]:
        """A member comments on a post, photo, video, market item or board topic."""
        kind = target.kind
        comment = self.world.scenario.member_comments(
            self.world.group, member, target, text, reply_to, kind=kind
        )
        base = f"{kind}:{self.owner_id}_{target.id}"
        if kind == "board":
            address = ThreadAddress(
                channel=Channel.BOARD, key=base, owner_id=self.owner_id, object_id=target.id
            )
        else:
            root = comment.parents_stack[0] if comment.parents_stack else comment.id
            address = ThreadAddress(
                channel=Channel(kind),
                key=f"{base}:{root}",
                owner_id=self.owner_id,
                object_id=target.id,
                root_id=root,
            )
        conversation, item = await self._record(
            address, f"{base}:{comment.id}", vk_id=comment.id, from_id=member.id, text=text, date=comment.date
        )
        return conversation, item, comment


@pytest.fixture
async def mirror(world: World, community: Community) -> AsyncIterator[Mirror]:
    yield Mirror(world, community)


async def journal_of(action: str) -> list[JournalEntry]:
    return await JournalEntry.filter(action=action).order_by("id")


async def outbox_rows() -> list[OutboxRow]:
    return await OutboxRow.all().order_by("id")


async def drain(settings: Settings, opened: Connections | None = None) -> int:
    """Deliver until nothing is due (rows of one conversation go one per pass); how many were delivered."""
    total = 0
    # One set of clients for every pass, as the app's worker has: the token's limiter spans the passes.
    async with networks.connections(settings, opened) as current:
        while delivered := await outbox.deliver_due(settings, opened=current):
            total += delivered
    return total
