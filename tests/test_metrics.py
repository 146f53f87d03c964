"""Every metric /metrics declares moves: actions performed or refused by VK, and HTTP latency by route."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from proxy import actions, metrics, outbox
from proxy.models import Operator
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Mirror
from vk_emulator import World


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_actions_vk_performed_and_refused_are_counted(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    sent_before = sample("proxy_outbox_sent_total", method="messages.send")
    failed_before = sample("proxy_outbox_failed_total", method="messages.send")
    willing, unwilling = world.members[0], world.members[1]
    answered, _, _ = await mirror.message(willing, "Где мой заказ?")
    refused, _, _ = await mirror.message(unwilling, "Не пишите мне")
    world.scenario.member_denies_messages(world.group, unwilling)

    await actions.reply(vk_settings, operator, answered.id, "Уже в пути")
    await actions.reply(vk_settings, operator, refused.id, "Хорошо")
    await outbox.deliver_due(vk_settings)

    assert sample("proxy_outbox_sent_total", method="messages.send") == sent_before + 1
    assert sample("proxy_outbox_failed_total", method="messages.send") == failed_before + 1  # error 901


async def test_http_latency_is_observed_by_route_not_by_address(client: TestClient) -> None:
    route = "/conversations/{id}"
    before = sample("proxy_http_request_seconds_count", route=route)
    for conversation_id in (1, 2, 3):  # three addresses, one route: the labels stay few
        await client.get(f"/conversations/{conversation_id}")
    assert sample("proxy_http_request_seconds_count", route=route) == before + 3
    healthz = sample("proxy_http_request_seconds_count", route="/healthz")
    await client.get("/healthz")
    assert sample("proxy_http_request_seconds_count", route="/healthz") == healthz + 1
