"""Each rule's figures (proxy/stats/rules.py) from hits written directly, so they do not depend on the
engine: hits apart by mode, actions, undos, the false-positive rate, p50/p90 from arrival to queuing
and to VK's acceptance; the period in team time; a constant number of queries however many rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from proxy import actions
from proxy.models import ModerationRule, Operator, OutboxRow, OutboxStatus, Role, RuleHit, RuleMode
from proxy.rules import store
from proxy.settings import Settings
from proxy.stats.period import Period
from proxy.stats.rules import EMPTY, marked_parts, rule_figures, rule_hits
from tests.actions_fixtures import *  # noqa: F403
from tests.test_ingest_callback_path import StatementCounter

MOSCOW = ZoneInfo("Europe/Moscow")
DAY = date(2026, 3, 10)
# Noon in Moscow on DAY.
NOON = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PERIOD = Period(first_day=DAY, last_day=DAY, tz=MOSCOW)


@pytest.fixture
async def admin(community: Any) -> Operator:
    return await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)


async def _rule(admin: Operator, name: str = "Sales") -> ModerationRule:
    return await store.create_rule(admin, name=name, community_id=None, mode="on",
                                   conditions={"words": ["скидка"]}, actions=["delete"])  # fmt: skip


async def _hit(rule: ModerationRule, item: Any, *, at: datetime, queued_after: float, mode: RuleMode = RuleMode.ON,
               acted: bool = True, undone: bool = False, outbox_id: int | None = None) -> RuleHit:  # fmt: skip
    done = (
        [{"do": "delete", "queued": True, "outbox_id": outbox_id or 1}]
        if acted
        else [{"do": "flag", "queued": True}]
    )
    return await RuleHit.create(
        rule_id=rule.id, rule_version=1, mode=mode, community_id=item.community_id, item_id=item.id,
        conversation_id=item.conversation_id, matched="words: скидка", actions=done,
        item_recorded_at=at - timedelta(seconds=queued_after), created_at=at,
        undone_at=at + timedelta(minutes=5) if undone else None,
    )  # fmt: skip


async def _items(mirror: Any, world: Any, n: int) -> list[Any]:
    out = []
    for i in range(n):
        _, item, _ = await mirror.comment(world.members[i % len(world.members)], world.post, f"скидка {i}")
        out.append(item)
    return out


async def test_counts_rate_and_percentiles(admin: Operator, mirror: Any, world: Any) -> None:
    rule, other = await _rule(admin), await _rule(admin, "Other")
    items = await _items(mirror, world, 8)
    # Five hits in "on" that acted, queued after 1..5 s; one undone.
    for n, item in enumerate(items[:5]):
        await _hit(rule, item, at=NOON + timedelta(minutes=n), queued_after=n + 1, undone=n == 0)
    # One in "on" that only flagged, two in dry run: hits, not actions.
    await _hit(rule, items[5], at=NOON, queued_after=1, acted=False)
    await _hit(rule, items[6], at=NOON, queued_after=1, mode=RuleMode.DRY_RUN)
    await _hit(rule, items[7], at=NOON, queued_after=1, mode=RuleMode.DRY_RUN)
    # Outside the period (the day before, team time: 23:30 Moscow is 20:30 UTC).
    await _hit(other, items[0], at=datetime(2026, 3, 9, 20, 30, tzinfo=UTC), queued_after=1)
    figures = await rule_figures(PERIOD)
    f = figures[rule.id]
    assert (f.hits_dry_run, f.hits_on, f.acted, f.undone, f.hits) == (2, 6, 5, 1, 8)
    assert f.false_positive_rate == pytest.approx(0.2)
    # 1, 2, 3, 4, 5 s: the median 3, p90 at 4.6 (linear interpolation, as the stats figures).
    assert f.queued_p50 == pytest.approx(3.0, abs=1e-3) and f.queued_p90 == pytest.approx(4.6, abs=1e-3)
    assert f.accepted_p50 is None  # nothing sent to VK yet
    assert other.id not in figures
    # The day before holds the other rule's hit only: the period is in team time.
    before = await rule_figures(Period(first_day=date(2026, 3, 9), last_day=date(2026, 3, 9), tz=MOSCOW))
    assert set(before) == {other.id} and before[other.id].acted == 1
    assert EMPTY.false_positive_rate is None and EMPTY.hits == 0


async def test_time_to_vk_acceptance(admin: Operator, mirror: Any, world: Any, vk_settings: Settings) -> None:
    rule = await _rule(admin)
    items = await _items(mirror, world, 3)
    for n, item in enumerate(items):
        row = await actions.delete_comment(vk_settings, admin, item.id)
        at = NOON + timedelta(minutes=n)
        # VK accepted the deletion 10, 20, 30 s after the item arrived (it arrived 1 s before the hit).
        await OutboxRow.filter(id=row.id).update(rule_id=rule.id, status=OutboxStatus.SENT,
                                                 sent_at=at - timedelta(seconds=1) + timedelta(seconds=10 * (n + 1)))  # fmt: skip
        await _hit(rule, item, at=at, queued_after=1, outbox_id=row.id)
    # A row not sent yet is not a sample.
    _, pending_item, _ = await mirror.comment(world.members[0], world.post, "скидка ещё")
    pending = await actions.delete_comment(vk_settings, admin, pending_item.id)
    await OutboxRow.filter(id=pending.id).update(rule_id=rule.id)
    await _hit(rule, pending_item, at=NOON, queued_after=1, outbox_id=pending.id)
    f = (await rule_figures(PERIOD))[rule.id]
    assert f.accepted_p50 == pytest.approx(20.0, abs=1e-3) and f.accepted_p90 == pytest.approx(28.0, abs=1e-3)


async def test_the_figures_take_the_same_queries_for_one_rule_or_many(
    admin: Operator, mirror: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [await _rule(admin, f"r{n}") for n in range(30)]
    items = await _items(mirror, world, 2)
    await _hit(rules[0], items[0], at=NOON, queued_after=1)
    counter = StatementCounter(monkeypatch)
    await rule_figures(PERIOD)
    few = len(counter.statements)
    for rule in rules:
        for item in items:
            await _hit(rule, item, at=NOON, queued_after=2) if not (
                rule is rules[0] and item is items[0]
            ) else None
    counter.statements.clear()
    figures = await rule_figures(PERIOD)
    assert len(counter.statements) == few == 3
    assert all(figures[r.id].hits_on == 2 for r in rules)


async def test_the_hits_page_of_a_rule(admin: Operator, mirror: Any, world: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    rule = await _rule(admin)
    items = await _items(mirror, world, 5)
    hits = [
        await _hit(rule, item, at=NOON + timedelta(minutes=n), queued_after=1) for n, item in enumerate(items)
    ]
    counter = StatementCounter(monkeypatch)
    page, next_before = await rule_hits(rule.id, limit=3)
    assert [row.hit.id for row in page] == [h.id for h in reversed(hits)][:3]
    assert next_before == hits[2].id
    # One query for the hits and one per related table and the outbox: not one per hit.
    assert len(counter.statements) <= 6
    rest, after = await rule_hits(rule.id, before=next_before, limit=3)
    assert [row.hit.id for row in rest] == [hits[1].id, hits[0].id] and after is None


def test_the_matched_part_is_marked() -> None:
    assert marked_parts("Огромная СКИДКА тут", "words: скидка") == [
        ("Огромная ", False),
        ("СКИДКА", True),
        (" тут", False),
    ]
    assert marked_parts("see spam.example/x and spam.example", "link: spam.example") == [
        ("see ", False),
        ("spam.example", True),
        ("/x and ", False),
        ("spam.example", True),
    ]
    assert marked_parts("nothing here", "pattern: b[uy]{2}") == [("nothing here", False)]
    assert marked_parts("", "words: a") == []
