"""Manager pages live (issue 19): the statistics, the journal and the deleted archive hear one coalesced
`changed` notice per window, whatever the number of events, only about communities their viewer may see;
they re-fetch their own partial on it, and a page showing the past does not refresh at all."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from proxy import local_actions
from proxy.access import scope_of
from proxy.appkeys import LIVE
from proxy.clock import utcnow
from proxy.communities import add_community
from proxy.live import RESYNC_EVENT, LiveMessage
from proxy.models import Author, Channel, Conversation, Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from web.views import live
from web.views.manager_live import MANAGER_SIGNALS

GUARD_SECONDS = 10.0


async def _conversation(community: Any, key: str = "wall:1_1:1") -> Conversation:
    author, _ = await Author.get_or_create(vk_id=6001, defaults={"name": "Ivan"})
    now = utcnow()
    return await Conversation.create(
        community=community, channel=Channel.WALL, key=key, author=author, opened_at=now - timedelta(hours=1),
        waiting_since=now - timedelta(minutes=5), last_item_at=now - timedelta(minutes=5), preview="где заказ?",
    )  # fmt: skip


async def _second_community(vk_settings: Any) -> Any:
    return await add_community(
        vk_settings, vk_group_id=777_002, name="Другое сообщество", secret="s", confirmation="c",
        community_token="community-token-2", admin_token=None, admin_vk_user_id=None,
    )  # fmt: skip


async def _heard(signals: Any) -> None:
    """Let the signals' listener take in everything published so far (no clock involved)."""
    for _ in range(100):
        await asyncio.sleep(0)


async def test_one_notice_per_window_however_many_events(client_for, manager, community) -> None:
    client = await client_for(manager)
    signals = client.server.app[MANAGER_SIGNALS]
    signals.windows = {page: 3600.0 for page in signals.windows}  # only the test flushes
    conversation = await _conversation(community)
    async with signals.attach(await scope_of(manager), "stats") as stats, signals.attach(
        await scope_of(manager), "journal"
    ) as journal:
        for _ in range(200):
            await client.server.app[LIVE].publish(
                "item_created", {"community_id": community.id, "conversation_id": conversation.id}
            )
        await _heard(signals)
        assert await signals.flush("stats") == 1
        assert await signals.flush("stats") == 0  # nothing new since
        assert await signals.flush("journal") == 1
        assert (stats.notices, journal.notices) == (1, 1)
        # An outbox outcome names its conversation only: its community is found at the flush.
        await client.server.app[LIVE].publish("outbox_updated", {"conversation_id": conversation.id})
        await _heard(signals)
        stats.changed.clear()
        assert await signals.flush("stats") == 1
        assert stats.notices == 2


async def test_a_viewer_hears_nothing_of_a_community_outside_their_scope(
    client_for, operator, manager, community, vk_settings
) -> None:
    other = await _second_community(vk_settings)
    client = await client_for(manager)
    signals = client.server.app[MANAGER_SIGNALS]
    signals.windows = {page: 3600.0 for page in signals.windows}
    hidden = await _conversation(other, "wall:2_2:2")
    async with signals.attach(await scope_of(operator), "stats") as olga, signals.attach(
        await scope_of(manager), "stats"
    ) as maria:
        await client.server.app[LIVE].publish(
            "item_created", {"community_id": other.id, "conversation_id": hidden.id}
        )
        await client.server.app[LIVE].publish("outbox_updated", {"conversation_id": hidden.id})
        await _heard(signals)
        assert await signals.flush("stats") == 1
        assert (olga.notices, maria.notices) == (0, 1)
        # The LISTEN connection came back: what was missed is unknown, so everyone re-fetches.
        client.server.app[LIVE].deliver_locally(LiveMessage(RESYNC_EVENT, {}))
        await _heard(signals)
        await signals.flush("stats")
        assert olga.notices == 1


async def test_the_stream_carries_a_notice_and_refuses_the_archive_to_an_operator(
    client_for, operator, manager, community
) -> None:
    conversation = await _conversation(community)
    olga = await client_for(operator)
    refused = await olga.get("/live/manager", params={"page": "deleted"})
    assert refused.status == 403
    assert (await olga.get("/live/manager", params={"page": "inbox"})).status == 400

    client = await client_for(manager)
    signals = client.server.app[MANAGER_SIGNALS]
    signals.windows = {page: 3600.0 for page in signals.windows}
    stream = await client.get("/live/manager", params={"page": "journal"})
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert await stream.content.readuntil(b"\n\n") == b": connected\n\n"
    assert signals.stream_count("journal") == 1
    await client.server.app[LIVE].publish(
        "conversation_updated", {"community_id": community.id, "conversation_id": conversation.id}
    )
    await _heard(signals)
    assert await signals.flush("journal") == 1
    while True:
        raw = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), GUARD_SECONDS)).decode()
        if not raw.startswith(":"):
            break
    fields = dict(line.split(": ", 1) for line in raw.strip().split("\n"))
    assert fields["event"] == "changed" and json.loads(fields["data"])["page"] == "journal"
    stream.close()


async def test_a_report_of_the_past_has_no_live_marker(client_for, manager, community, settings) -> None:
    client = await client_for(manager)
    # The team's today: from 21:00 UTC Moscow is already a day ahead, and "today" in UTC is the past there.
    today = datetime.now(settings.tz).date()
    now_page = await (await client.get("/stats")).text()
    assert 'data-manager-live="stats"' in now_page and 'data-live-target="#report-figures"' in now_page
    assert "manager_live.js" in now_page
    past = await (await client.get("/stats", params={"from": "2025-01-01", "to": "2025-01-31"})).text()
    assert "data-manager-live" not in past
    partial = await (
        await client.get("/stats", params={"from": str(today), "to": str(today)}, headers={"HX-Request": "true"})
    ).text()
    assert 'id="report-figures"' in partial and 'data-manager-live="stats"' in partial

    journal = await (await client.get("/journal")).text()
    assert 'data-manager-live="journal"' in journal
    old = await (await client.get("/journal", params={"from": "2025-01-01", "to": "2025-01-31"})).text()
    assert "data-manager-live" not in old
    older_page = await (await client.get("/journal", params={"before": "1"})).text()
    assert "data-manager-live" not in older_page
    deleted = await (await client.get("/deleted")).text()
    assert 'data-manager-live="deleted"' in deleted
    old_deleted = await (await client.get("/deleted", params={"to": "2025-01-31"})).text()
    assert "data-manager-live" not in old_deleted


async def test_the_journal_shows_a_new_entry_after_a_notice(client_for, manager, community, vk_settings) -> None:
    client = await client_for(manager)
    signals = client.server.app[MANAGER_SIGNALS]
    signals.windows = {page: 3600.0 for page in signals.windows}
    conversation = await _conversation(community)
    before = await (await client.get("/journal", headers={"HX-Request": "true"})).text()
    assert "note.add" not in before
    async with signals.attach(await scope_of(manager), "journal") as journal:
        await local_actions.add_note(vk_settings, manager, conversation.id, "проверить возврат")
        await client.server.app[LIVE].publish(
            "conversation_updated", {"community_id": community.id, "conversation_id": conversation.id}
        )
        await _heard(signals)
        await signals.flush("journal")
        assert journal.changed.is_set()
    # What manager_live.js does on the notice: the page's own partial, with its own filters.
    after = await (await client.get("/journal", headers={"HX-Request": "true"})).text()
    assert "note.add" in after and 'data-manager-live="journal"' in after


async def test_an_operator_stream_for_the_stats_is_allowed(client_for, operator) -> None:
    # Operators see their own figures and journal live too (their scope limits what they hear).
    other = await Operator.create(login="petr", display_name="Petr", password_hash="x", role=Role.OPERATOR)
    client = await client_for(other)
    stream = await client.get("/live/manager", params={"page": "stats"})
    assert stream.status == 200
    stream.close()


async def test_disabling_ends_an_open_manager_stream(client_for, manager, monkeypatch) -> None:
    monkeypatch.setattr(live, "SESSION_CHECK_SECONDS", 0.1)
    client = await client_for(manager)
    stream = await client.get("/live/manager", params={"page": "stats"})
    assert (await stream.content.readany()).startswith(b": connected")
    await Operator.filter(id=manager.id).update(is_active=False)
    async with asyncio.timeout(30):  # a bound on a hang, not a timing assertion: it ends in 0.1 s
        while await stream.content.readany():
            pass
    assert stream.content.at_eof()
