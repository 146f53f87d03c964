"""A restarted demo goes on as real Telegram would: the demo bot's emulated Telegram starts each run's
update ids and every chat's message ids above anything an earlier run could have used (the proxy keeps
what it stored across restarts, deduplicates on the update id and keys items on chat and message id)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from proxy.demo import DEMO_BOT_ROUND_SECONDS, build_demo_bot_world
from tg_emulator import Chat, DemoWorld, play_round

# Start moments of a first run, in unix seconds.
DECEMBER_2026 = 1_796_000_000.0
JANUARY_2040 = 2_208_988_800.0


def _run(start: float, seconds: float) -> DemoWorld:
    """A demo run begun at `start` that lasted `seconds`: the world, the two rounds played at once, then a
    round every DEMO_BOT_ROUND_SECONDS, as proxy/demo.py plays them."""
    now = [start]
    world = build_demo_bot_world(lambda: now[0])
    rng = random.Random(1)
    for _ in range(2):
        play_round(world, rng)
    while now[0] + DEMO_BOT_ROUND_SECONDS <= start + seconds:
        now[0] += DEMO_BOT_ROUND_SECONDS
        play_round(world, rng)
    return world


def _chats(world: DemoWorld) -> Iterator[tuple[tuple[object, ...], Chat]]:
    """Every chat with its identity across runs: groups and channels, private chats, business chats."""
    state = world.state
    yield from ((("chat", chat.id), chat) for chat in state.chats.values())
    yield from ((("private", *key), chat) for key, chat in state.private_chats.items())
    for connection in state.business_connections.values():
        yield from ((("business", connection.id, c), chat) for c, chat in connection.chats.items())


@pytest.mark.parametrize(
    ("lasted", "gap"),
    [
        (0.0, 10.0),  # stopped at once, started again ten seconds after the first start
        (3600.0, 10.0),  # an hour's traffic, then a quick restart
        (86_400.0, 5.0),  # a day's traffic
    ],
)
def test_a_restarted_demo_bot_never_reuses_an_update_id_or_a_message_id(lasted: float, gap: float) -> None:
    first = _run(DECEMBER_2026, lasted)
    second = _run(DECEMBER_2026 + lasted + gap, 0.0)
    last_update = first.bot.next_update_id
    first_update = min(update["update_id"] for update in second.bot.pending)
    assert first_update > last_update
    earlier = {key: max(chat.messages) for key, chat in _chats(first) if chat.messages}
    later = {key: min(chat.messages) for key, chat in _chats(second) if chat.messages}
    assert later.keys() & earlier.keys() == later.keys()
    for key, first_id in later.items():
        assert first_id > earlier[key], key


def test_the_demo_bots_ids_stay_inside_telegrams_32_bit_range_for_years() -> None:
    world = _run(JANUARY_2040, 86_400.0)
    assert 0 < world.bot.next_update_id < 2**31
    assert all(0 < max(chat.messages) < 2**31 for _, chat in _chats(world) if chat.messages)
