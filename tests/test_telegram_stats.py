"""docs/metrics.md, "Telegram", examples 1 and 2, on both databases: Telegram's updates (in the Bot API's
shape) through the real normalizer and ingest, the operators' replies through the real outbox (queued
with proxy.actions.reply, delivered by `outbox._deliver_one` to a Telegram that answers sendMessage as the
Bot API does), and the figures read through the statistics' exports with the network filter.

The day is 2026-03-02, Moscow time; the SLA is 900 s. A VK community has one reaction that day, so that
each filter leaves something out.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from proxy import actions, communities, outbox
from proxy.connectors.base import ActionResult, PlannedCall
from proxy.connectors.telegram.actions import interpret
from proxy.connectors.telegram.normalize import normalize_all
from proxy.ingest import ingest
from proxy.models import (
    Author,
    Channel,
    Community,
    Conversation,
    ConversationStatus,
    Direction,
    Item,
    JournalEntry,
    Network,
    Operator,
    OutboxStatus,
    ReactionSample,
    Role,
)
from proxy.settings import Settings
from proxy.stats import parse_period
from proxy.stats.drill import drill
from proxy.stats.where import CommunityFilter
from tests.stats_fixtures import make_operator
from tests.test_stats_csv import _log_in

MSK = ZoneInfo("Europe/Moscow")
DAY = "from=2026-03-02&to=2026-03-02"
BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BOT = 7000000001
GROUP = -1001500000001
CONNECTION = "BuSiNeSs-connection-1"
OWNER = 6001  # the business account's Telegram user, linked to boris
ANONYMOUS_ADMIN = 1087968824  # Telegram's GroupAnonymousBot: the group writing as itself
HEADER = (
    "operator,replies,replies_outside_proxy,handled,reaction_count,reaction_avg_s,reaction_median_s,"
    "reaction_p90_s,reaction_min_s,reaction_max_s,first_reaction_avg_s,closed_with_reply,"
    "closed_without_reply,deleted,restored,bans,sla_met_pct,dialog_avg_s"
)


def msk(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=MSK).astimezone(UTC)


def person(user_id: int, name: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name}


GROUP_CHAT = {"id": GROUP, "title": "Shop chat", "type": "supergroup"}
BOT_USER = {"id": BOT, "is_bot": True, "first_name": "Shop help", "username": "shop_help_bot"}


class Telegram:
    """Both ends of the bot's traffic in the Bot API's shapes: the updates people send, numbered, and
    the answer to the proxy's sendMessage (the sent Message, dated by the test's clock)."""

    def __init__(self) -> None:
        self.update_id = 100
        self.message_id = 200
        self.now = msk(0, 0)
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}

    def message(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str, **extra: Any
    ) -> dict[str, Any]:
        self.message_id += 1
        message = {
            "message_id": self.message_id,
            "from": sender,
            "chat": chat,
            "date": int(self.now.timestamp()),
            "text": text,
            **extra,
        }
        self.messages[chat["id"], self.message_id] = message
        return message

    def update(self, kind: str, message: dict[str, Any]) -> dict[str, Any]:
        self.update_id += 1
        return {"update_id": self.update_id, kind: message}

    async def perform(self, call: PlannedCall, token: str) -> ActionResult:
        assert call.method == "sendMessage" and token == BOT_TOKEN, call
        params = call.params
        chat_id = params["chat_id"]
        chat = (
            GROUP_CHAT if chat_id == GROUP else {"id": chat_id, "type": "private", "first_name": "Customer"}
        )
        extra: dict[str, Any] = {}
        if "reply_parameters" in params:
            extra["reply_to_message"] = self.messages[chat_id, params["reply_parameters"]["message_id"]]
        if "business_connection_id" in params:
            extra["business_connection_id"] = params["business_connection_id"]
        return interpret(BOT, call, self.message(chat, BOT_USER, params["text"], **extra))


class Scenario:
    def __init__(self, settings: Settings, bot: Community, monkeypatch: pytest.MonkeyPatch) -> None:
        self.settings, self.bot, self.telegram = settings, bot, Telegram()
        # The moment the outbox records Telegram's acceptance, which ends the wait.
        monkeypatch.setattr(outbox, "utcnow", lambda: self.telegram.now)

    def at(self, hour: int, minute: int) -> None:
        self.telegram.now = msk(hour, minute)

    async def arrives(self, kind: str, message: dict[str, Any]) -> None:
        update = self.telegram.update(kind, message)
        for event in normalize_all(BOT, update):
            await ingest(self.bot, update, event, source="callback", received_at=self.telegram.now)

    async def writes_in_group(self, user: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
        message = self.telegram.message(GROUP_CHAT, user, text, **extra)
        await self.arrives("message", message)
        return message

    async def replies_through_the_proxy(
        self, operator: Operator, conversation: Conversation, text: str
    ) -> None:
        queued = await actions.reply(self.settings, operator, conversation.id, text)
        # Queued at the real time: claimed as due now, whatever the scenario's clock says.
        [row_id] = await outbox.claim(now=datetime.now(UTC))
        assert row_id == queued.id
        await outbox._deliver_one(
            self.settings, {Network.TELEGRAM: self.telegram}, row_id, self.telegram.now, None
        )
        await queued.refresh_from_db()
        assert queued.status == OutboxStatus.SENT, queued.error_message


async def _conversation_of(message: dict[str, Any]) -> Conversation:
    item = await Item.get(vk_id=message["message_id"]).prefetch_related("conversation")
    return item.conversation  # type: ignore[no-any-return]


async def _vk_reaction(anna: Operator) -> Community:
    """The VK community's one reaction that day: Petr writes at 12:00, anna answers through the proxy
    at 12:04 (240 s), as the worked example's rows are written (tests/stats_fixtures.py)."""
    shop = await Community.create(vk_group_id=1001, name="Shop VK", sla_seconds=900)
    await anna.communities.add(shop)
    petr = await Author.create(vk_id=13, name="Petr")
    dialog = await Conversation.create(
        community=shop, channel=Channel.MESSAGE, key="message:13", author=petr, opened_at=msk(12, 0),
        status=ConversationStatus.OPEN,
    )  # fmt: skip
    for n, (direction, at, sent_by) in enumerate(
        [(Direction.IN, msk(12, 0), None), (Direction.OUT, msk(12, 4), anna)], start=1
    ):
        await Item.create(
            community=shop, conversation=dialog, channel=Channel.MESSAGE, key=f"message:13:{n}", vk_id=n,
            direction=direction, author=petr if direction == Direction.IN else None, created_at=at, sent_by=sent_by,
        )  # fmt: skip
    await ReactionSample.create(
        community=shop, conversation=dialog, channel=Channel.MESSAGE, operator=anna, outside_proxy=False,
        ended_by="reply", is_first=True, started_at=msk(12, 0), ended_at=msk(12, 4), seconds=240.0,
    )  # fmt: skip
    return shop


async def _rows(client: TestClient, path: str) -> list[str]:
    response = await client.get(path)
    text = await response.text()
    assert response.status == 200, text
    lines = text.split("\r\n")
    return lines[1:-1]


async def test_telegram_examples_through_the_network_filter(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await communities.add_bot(settings, name="Shop help", bot_token=BOT_TOKEN, secret="hook-secret_1")
    assert (bot.network, bot.vk_group_id, bot.sla_seconds) == (Network.TELEGRAM, BOT, 900)
    anna = await make_operator("anna")
    boris = await Operator.create(
        login="boris", display_name="Boris", password_hash="x", role=Role.OPERATOR, telegram_user_id=OWNER
    )
    await anna.communities.add(bot)
    await boris.communities.add(bot)
    await make_operator("maria", Role.MANAGER)
    await _vk_reaction(anna)
    world = Scenario(settings, bot, monkeypatch)

    # Example 1, a group. 10:00 member 5001 writes: G1 waits.
    world.at(10, 0)
    first = await world.writes_in_group(person(5001, "Ivan"), "Где мой заказ?")
    g1 = await _conversation_of(first)
    assert g1.waiting_since == msk(10, 0)
    # 10:02 member 5002 replies to it: the same conversation, still waiting since 10:00.
    world.at(10, 2)
    second = await world.writes_in_group(person(5002, "Petr"), "У меня тоже", reply_to_message=first)
    assert (await _conversation_of(second)).id == g1.id
    await g1.refresh_from_db()
    assert g1.waiting_since == msk(10, 0)
    # 10:06 anna replies through the proxy: 360 s.
    world.at(10, 6)
    await world.replies_through_the_proxy(anna, g1, "Заказ в пути")
    # 10:30 member 5001 writes a message that answers nothing: G2 waits.
    world.at(10, 30)
    third = await world.writes_in_group(person(5001, "Ivan"), "А можно поменять адрес?")
    g2 = await _conversation_of(third)
    assert g2.id != g1.id and g2.waiting_since == msk(10, 30)
    # 10:40 an anonymous admin answers it, the group writing as itself: 600 s, nobody's.
    world.at(10, 40)
    await world.writes_in_group(
        {"id": ANONYMOUS_ADMIN, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"},
        "Да, напишите новый адрес",
        sender_chat=GROUP_CHAT,
        reply_to_message=third,
    )

    # Example 2. 11:00 customer 7001 writes to the bot; 11:05 anna replies (300 s).
    world.at(11, 0)
    private = world.telegram.message(
        {"id": 7001, "type": "private", "first_name": "Olga"}, person(7001, "Olga"), "Здравствуйте"
    )
    await world.arrives("message", private)
    world.at(11, 5)
    await world.replies_through_the_proxy(anna, await _conversation_of(private), "Добрый день")
    # 11:10 customer 7002 writes to the business account; 11:30 its owner (boris) answers in Telegram.
    business_chat = {"id": 7002, "type": "private", "first_name": "Dina"}
    world.at(11, 10)
    question = world.telegram.message(
        business_chat, person(7002, "Dina"), "Синяя ещё есть?", business_connection_id=CONNECTION
    )
    await world.arrives("business_message", question)
    world.at(11, 30)
    answer = world.telegram.message(
        business_chat, person(OWNER, "Boris"), "Да, есть", business_connection_id=CONNECTION
    )
    await world.arrives("business_message", answer)

    samples = await ReactionSample.filter(community_id=bot.id).order_by("ended_at")
    assert [(s.seconds, s.operator_id, s.outside_proxy, s.is_first) for s in samples] == [  # type: ignore[attr-defined]
        (360.0, anna.id, False, True),
        (600.0, None, True, True),
        (300.0, anna.id, False, True),
        (1200.0, boris.id, True, True),
    ]

    manager = await Operator.get(login="maria")
    await _log_in(client, manager.login)
    exports_before = await JournalEntry.filter(action="export.csv").count()

    # "Telegram": four reactions, anna's two through the proxy, boris's outside it, and nobody's.
    assert await _rows(client, f"/stats/operators.csv?{DAY}&network=telegram") == [
        "anna,2,0,2,2,330,330,354,300,360,330,0,0,0,0,0,100,",
        "boris,0,1,1,1,1200,1200,1200,1200,1200,1200,0,0,0,0,0,0,",
        "(outside the proxy),0,1,1,1,600,600,600,600,600,600,0,0,0,0,0,100,",
    ]
    communities_csv = await (await client.get(f"/stats/communities.csv?{DAY}&network=telegram")).text()
    [telegram] = list(csv.DictReader(io.StringIO(communities_csv)))
    assert (telegram["community"], telegram["network"]) == ("Shop help", "telegram")
    # Median of [300, 360, 600, 1200] = (360 + 600) / 2; SLA met by three of four.
    assert (telegram["reaction_count"], telegram["reaction_median_s"], telegram["sla_met_pct"]) == (
        "4",
        "480",
        "75",
    )
    period = parse_period("2026-03-02", "2026-03-02", MSK)
    reactions = await drill(period, "reactions", within=CommunityFilter(network=Network.TELEGRAM))
    assert [row.seconds for row in reactions.rows] == [1200.0, 600.0, 360.0, 300.0]

    # "VK": only the VK reaction; boris, who has no VK community, has no row.
    assert await _rows(client, f"/stats/operators.csv?{DAY}&network=vk") == [
        "anna,1,0,1,1,240,240,240,240,240,240,0,0,0,0,0,100,",
    ]
    vk_communities = await _rows(client, f"/stats/communities.csv?{DAY}&network=vk")
    # community, network, incoming, replies, handled, touches, reaction_count
    assert [line.split(",")[:7] for line in vk_communities] == [["Shop VK", "vk", "1", "1", "1", "1", "1"]]

    # No filter: all five.
    assert await _rows(client, f"/stats/operators.csv?{DAY}") == [
        "anna,3,0,3,3,300,300,348,240,360,300,0,0,0,0,0,100,",
        "boris,0,1,1,1,1200,1200,1200,1200,1200,1200,0,0,0,0,0,0,",
        "(outside the proxy),0,1,1,1,600,600,600,600,600,600,0,0,0,0,0,100,",
    ]
    both = await drill(period, "reactions")
    assert both.total_rows == 5

    # The page shows the filter and each community's network; its figures follow the filter.
    page = await (await client.get(f"/stats?{DAY}&network=telegram")).text()
    assert '<select name="network"' in page and '<option value="telegram" selected>' in page
    # Replies outside the proxy are Telegram's here: no column says "in VK".
    assert "in VK" not in page and "в VK" not in page
    assert (
        'data-col="network" data-value="telegram"' in page
        and "Shop VK" not in page.split('id="communities-table"')[1]
    )
    # The community select offers the chosen network's communities only.
    choices = page.split('<select name="community"')[1].split("</select>")[0]
    assert "Shop help" in choices and "Shop VK" not in choices
    vk_page = await (await client.get(f"/stats?{DAY}&network=vk")).text()
    choices = vk_page.split('<select name="community"')[1].split("</select>")[0]
    assert "Shop VK" in choices and "Shop help" not in choices
    conversations = await _rows(client, f"/stats/conversations.csv?{DAY}&network=telegram")
    assert {line.split(",")[2] for line in conversations} == {"telegram"} and len(conversations) == 4

    # Anything else is refused with the reason, and nothing is exported.
    for path in ("/stats/operators.csv", "/stats/drill", "/stats/series.json"):
        response = await client.get(f"{path}?{DAY}&network=facebook&metric=reactions")
        assert response.status == 400, path
        assert "network must be one of: vk, telegram, got 'facebook'" in await response.text()
    page_response = await client.get(f"/stats?{DAY}&network=facebook")
    assert page_response.status == 400
    assert await JournalEntry.filter(action="export.csv").count() == exports_before + 6
