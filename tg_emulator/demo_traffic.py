"""The demo Telegram bot's world and its traffic: one round of every kind of thing the proxy should see.

`build_demo_world` makes a bot that administers a supergroup and a channel's discussion group, with a
few users; `play_round` has them write to the bot, write in the group, reply, comment under a fresh
channel post, and has the group's admin ban someone in Telegram (and lift it, so the next round has the
same people). `DemoTraffic` plays rounds at a steady pace inside a running loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

from .basics import Bot, BusinessConnection, Chat, Message, TgUser
from .people import People
from .state import TgState

DEMO_PRIVATE = ("Здравствуйте! Когда будет доставка?", "Можно поменять размер заказа?", "Спасибо за помощь!")
DEMO_GROUP = ("Всем привет! Кто был на встрече вчера?", "Подскажите, где посмотреть расписание?")
DEMO_REPLIES = ("Да, я был, всё понравилось.", "Расписание в закреплённом сообщении.")
DEMO_POSTS = ("Новости недели: открыли второй пункт выдачи.", "Сегодня скидка 10% на всё до полуночи.")
DEMO_COMMENTS = ("Отличная новость!", "А в субботу работаете?", "Спасибо, очень удобно.")


@dataclass
class DemoWorld:
    state: TgState
    bot: Bot
    admin: TgUser
    users: list[TgUser]
    group: Chat
    channel: Chat
    discussion: Chat
    rounds: int = 0
    made: list[Message] = field(default_factory=list)
    # The admin's business account, connected to the bot in the first round.
    business: BusinessConnection | None = None


def build_demo_world(state: TgState | None = None, *, bot_token: str | None = None) -> DemoWorld:
    state = state or TgState()
    people = People(state)
    bot = state.add_bot("demo_moderation_bot", "Демо-бот", token=bot_token)
    admin = state.add_user("Ольга", "Админова", username="olga_admin")
    users = [
        state.add_user("Анна", "Смирнова", username="anna_s"),
        state.add_user("Борис", "Кузнецов"),
        state.add_user("Вера", "Попова", username="vera_p"),
    ]
    group = state.add_chat("supergroup", "Демо-чат сообщества", creator=admin)
    channel = state.add_chat("channel", "Демо-канал", creator=admin, username="demo_channel")
    discussion = state.add_chat("supergroup", "Обсуждение Демо-канала", creator=admin)
    state.link_discussion(channel, discussion)
    for chat in (group, discussion):
        people.adds_bot(chat, bot, admin=True, by=admin)
        for user in users:
            people.joins(user, chat)
    return DemoWorld(state, bot, admin, users, group, channel, discussion)


def play_round(world: DemoWorld, rng: random.Random) -> list[Message]:
    """One round: a private message, a group message, a reply to it, a discussion comment, an admin ban."""
    people = People(world.state)
    writer, replier, commenter = rng.sample(world.users, 3)
    made = [
        people.writes_to_bot(writer, world.bot, rng.choice(DEMO_PRIVATE)),
        question := people.writes_in_group(writer, world.group, rng.choice(DEMO_GROUP)),
        people.writes_in_group(replier, world.group, rng.choice(DEMO_REPLIES), reply_to=question),
    ]
    post, _ = people.channel_posts(world.channel, rng.choice(DEMO_POSTS))
    made.append(people.comments(commenter, world.channel, post.message_id, rng.choice(DEMO_COMMENTS)))
    if world.business is None:
        world.business = people.connects_business(world.admin, world.bot)
    made.append(people.business_message(world.business, writer, rng.choice(DEMO_PRIVATE)))
    people.admin_acts(world.admin, world.group, "ban", replier)
    # Lifted at once so the next round has the same people in the group.
    people.admin_acts(world.admin, world.group, "unban", replier)
    people.joins(replier, world.group)
    world.rounds += 1
    return made


class DemoTraffic:
    """Plays a round every `seconds_per_round` until stopped."""

    def __init__(self, world: DemoWorld, *, seconds_per_round: float = 30.0, seed: int = 1) -> None:
        self.world = world
        self.seconds_per_round = seconds_per_round
        self.rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tg-emulator-demo-traffic")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds_per_round)
            play_round(self.world, self.rng)
