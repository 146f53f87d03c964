"""Demo mode: an emulated VK community with live traffic, so `make run` shows a working inbox at once.

When the service runs with PROXY_DEMO and no community has real VK tokens, this starts the VK emulator
in-process (on PROXY_DEMO_EMULATOR_PORT), builds the demo world, registers (or refreshes) the demo
community in callback mode pointing at this service, gives it a few moderation rules in dry run
(proxy/demo_rules.py), and lets simulated members and community admins
act in it, one action every PROXY_DEMO_STEP_SECONDS (vk_emulator/demo_traffic.py: a round of every kind
of action, admins acting directly in VK included). Everything then flows as it would from VK: Callback
API POSTs, ingest, inbox, journal. The pages say the community is emulated (proxy/emulation.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from proxy.crypto import encrypt_token
from proxy.demo_rules import ensure_demo_rules
from proxy.emulation import DEMO_BOT_ID, DEMO_BOT_TOKEN, DEMO_GROUP_ID
from proxy.models import Channel, Community, CommunityMode, Item, Network
from proxy.networks import community_account, connections
from proxy.settings import Settings
from tg_emulator import DemoTraffic as TgDemoTraffic
from tg_emulator import DemoWorld as TgDemoWorld
from tg_emulator import RunningTgEmulator, TgState, start_tg_emulator
from tg_emulator import build_demo_world as build_tg_demo_world
from tg_emulator import play_round as play_tg_round
from vk_emulator import (
    CallbackConfig,
    DemoTraffic,
    EmulatorState,
    Group,
    RunningEmulator,
    build_demo_world,
    start_emulator,
)

__all__ = ["DEMO_GROUP_ID", "has_real_community", "start_demo", "warm_up_then_run"]

log = logging.getLogger(__name__)

DEMO_NAME = "Демо: магазин «Северный ветер»"
# Actions right after start-up, so the inbox is not empty for the first minute.
DEMO_WARM_UP_ACTIONS = 4
# Faster than VK's schedule, so events sent while the service starts arrive within seconds.
DEMO_RETRY_SCHEDULE = (2.0, 10.0, 60.0, 180.0, 600.0)


async def has_real_community() -> bool:
    """Whether a community other than the demo ones has a token (then no demo runs)."""
    return (
        await Community.filter(community_token_enc__isnull=False)
        .exclude(network=Network.VK, vk_group_id=DEMO_GROUP_ID)
        .exclude(network=Network.TELEGRAM, vk_group_id=DEMO_BOT_ID)
        .exists()
    )


async def _continue_numbering(state: EmulatorState, group: Group, community: Community | None) -> None:
    """Start the new emulator's comment and message numbers after the ones already stored, so items of
    an earlier demo run keep their keys to themselves."""
    if community is None:
        return
    for channel in (Channel.WALL, Channel.PHOTO, Channel.VIDEO, Channel.MARKET, Channel.BOARD):
        last = (
            await Item.filter(community_id=community.id, channel=channel, vk_id__isnull=False)
            .order_by("-vk_id")
            .first()
        )
        if last is not None and last.vk_id is not None:
            counter = "wall" if channel == Channel.WALL else f"{channel.value}_comment"
            group.next_ids[counter] = max(group.next_ids.get(counter, 1), last.vk_id + 1)
    keys = await Item.filter(community_id=community.id, channel=Channel.MESSAGE).values_list("key", flat=True)
    for key in keys:
        _, peer, cmid = str(key).split(":")
        conversation = state.conversation(group, int(peer))
        conversation.next_cmid = max(conversation.next_cmid, int(cmid) + 1)
    last_message = (
        await Item.filter(community_id=community.id, channel=Channel.MESSAGE, vk_id__isnull=False)
        .order_by("-vk_id")
        .first()
    )
    if last_message is not None and last_message.vk_id is not None:
        group.next_message_id = max(group.next_message_id, last_message.vk_id + 1)


async def _register(settings: Settings, group: Group, secret: str, confirmation: str) -> Community:
    values = {
        "name": DEMO_NAME,
        "mode": CommunityMode.CALLBACK,
        "callback_secret": secret,
        "confirmation_code": confirmation,
        "community_token_enc": encrypt_token(settings.secret_key, group.community_token),
        "admin_token_enc": encrypt_token(settings.secret_key, group.admin_token),
        "admin_vk_user_id": group.admin_user_id,
        "is_active": True,
    }
    community, created = await Community.get_or_create(
        defaults=values, network=Network.VK, vk_group_id=group.id
    )
    if not created:
        await community.update_from_dict(values).save()
    return community


async def start_demo(settings: Settings) -> tuple[RunningEmulator, DemoTraffic]:
    """Start the emulator with the demo world and register the demo community; traffic not started."""
    state = EmulatorState()
    secret = secrets.token_urlsafe(16)
    confirmation = secrets.token_hex(4)
    url = f"{settings.public_url.rstrip('/')}/callback/vk/{DEMO_GROUP_ID}"
    group = build_demo_world(
        state, name=DEMO_NAME, callback=CallbackConfig(url, secret, confirmation), group_id=DEMO_GROUP_ID
    )
    existing = await Community.get_or_none(network=Network.VK, vk_group_id=DEMO_GROUP_ID)
    await _continue_numbering(state, group, existing)
    emulator = await start_emulator(
        state, port=settings.demo_emulator_port, retry_schedule=DEMO_RETRY_SCHEDULE
    )
    community = await _register(settings, group, secret, confirmation)
    await ensure_demo_rules(community)
    return emulator, DemoTraffic(state, group, per_minute=60.0 / settings.demo_step_seconds)


DEMO_BOT_NAME = "Демо: бот поддержки в Telegram"
# Seconds between two rounds of the demo bot's traffic (each round: a private message, a group message
# and a reply, a comment under a channel post, a business chat message, an admin's ban and unban).
DEMO_BOT_ROUND_SECONDS = 45.0


# Where the demo bot's update ids and every chat's message ids start. The emulator forgets everything when
# the service stops, the proxy keeps what it stored (and deduplicates on the update id, keys items on chat
# and message id), and real Telegram never reuses a bot's update id nor a message id in a chat: so each run
# starts its ids above anything an earlier run could have used, from the wall clock at start,
# base = (unix seconds - DEMO_BOT_ID_EPOCH) * DEMO_BOT_IDS_PER_SECOND; a run's first ids are base + 1.
# - Collisions: a run uses at most 23 update ids and 9 message ids in a chat at start (the world, the
#   two rounds at once), then about 7 update ids and 3 message ids in a chat per round (one per
#   DEMO_BOT_ROUND_SECONDS, 0.16 and 0.07 a second), plus what people do by hand at human pace. A run that
#   started T seconds after the one before it starts 4T higher, which is above the earlier run's last ids
#   whenever 4T > 23 + 0.16T, that is from T = 6 s (message ids: T = 3 s), however long it ran: traffic
#   never catches up, 4 a second against 0.16. `make run` starts three processes (migrate, bootstrap,
#   serve) before the emulator, so a restart takes seconds of its own; only one within 6 s of the previous
#   start could meet that start's last few update ids (which the proxy would take for duplicates).
# - Range: Telegram's message ids are positive 32-bit integers, and update ids are too in practice (the Bot
#   API states no wider range for them), so ids stay below 2**31: the base reaches it at
#   1_700_000_000 + 2**31 / 4 = 2_236_870_912 (November 2040); a year of traffic adds about 5 million ids,
#   two weeks of the base's growth. A larger factor shortens that (10 a second: September 2030), a smaller
#   one needs slower restarts (2 a second: 12 s, until 2057).
# - The epoch (14 November 2023) is before any demo database: a base now (about 385 million) is above the
#   ids of runs before this numbering (update ids from 100_001_001, message ids from 1). A clock set before
#   the epoch gives 0, the emulator's own deterministic numbering.
DEMO_BOT_ID_EPOCH = 1_700_000_000
DEMO_BOT_IDS_PER_SECOND = 4


def demo_bot_id_base(unix_seconds: float) -> int:
    """The demo bot's id base for a run started at `unix_seconds` (see DEMO_BOT_ID_EPOCH)."""
    return max(0, int(unix_seconds) - DEMO_BOT_ID_EPOCH) * DEMO_BOT_IDS_PER_SECOND


def build_demo_bot_world(clock: Callable[[], float] = time.time) -> TgDemoWorld:
    """The demo bot's emulated Telegram, as every start of the demo makes it: its ids above any earlier run's."""
    state = TgState(clock=clock, id_base=demo_bot_id_base(clock()))
    return build_tg_demo_world(state, bot_token=DEMO_BOT_TOKEN)


async def start_demo_bot(settings: Settings) -> tuple[RunningTgEmulator, TgDemoTraffic]:
    """The emulated Telegram Bot API with the demo bot, registered (or refreshed) in webhook mode and
    connected to this service through the connector's own connect step; traffic not started."""
    world = build_demo_bot_world()
    emulator = await start_tg_emulator(world.state, port=settings.demo_telegram_port)
    secret = secrets.token_urlsafe(16)
    values = {
        "name": DEMO_BOT_NAME,
        "mode": CommunityMode.CALLBACK,
        "callback_secret": secret,
        "confirmation_code": "",
        "community_token_enc": encrypt_token(settings.secret_key, DEMO_BOT_TOKEN),
        "is_active": True,
    }
    community, created = await Community.get_or_create(
        defaults=values, network=Network.TELEGRAM, vk_group_id=DEMO_BOT_ID
    )
    if not created:
        await community.update_from_dict(values).save()
    url = f"{settings.public_url.rstrip('/')}/callback/telegram/{DEMO_BOT_ID}"
    async with connections(settings) as opened:
        account = community_account(community, community_token=DEMO_BOT_TOKEN)
        await opened.community(Network.TELEGRAM, account).connect(url, secret)
    traffic = TgDemoTraffic(world, seconds_per_round=DEMO_BOT_ROUND_SECONDS)
    # Two rounds at once, delivered as soon as the service listens (Telegram retries a failed delivery).
    for _ in range(2):
        play_tg_round(world, traffic.rng)
    return emulator, traffic


async def warm_up_then_run(traffic: DemoTraffic) -> None:
    """A few actions at once, then the demo traffic's steady pace, forever."""
    # The service starts listening once every cleanup context has started: wait a moment first.
    await asyncio.sleep(1.0)
    for _ in range(DEMO_WARM_UP_ACTIONS):
        traffic.step()
        await asyncio.sleep(0.5)
    await traffic.run()
