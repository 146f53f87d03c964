"""The emulator's in-memory Telegram: bots, users, chats, messages, members and each bot's pending updates.

Plain data (basics.py) plus the operations every caller shares: creating things, posting messages,
changing a member's standing, and queueing the updates Telegram would produce. Who does what (a user
writes, an admin bans) is people.py; what a bot may do is methods.py. The state is not thread-safe:
use it from the event loop that serves the emulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .basics import (
    FULL_ADMIN_RIGHTS,
    PRESENT_STATUSES,
    Bot,
    BusinessConnection,
    Chat,
    ChatMember,
    Message,
    TgUser,
    find_entities,
    new_token,
)
from .faults import FaultPlan
from .rates import RateViolation, Send, SendLog

UpdateListener = Callable[[Bot], None]


class TgState:
    """The whole emulated Telegram; `advance_clock` moves its time forward (message ages, until dates)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, id_base: int = 0) -> None:
        """`id_base`: every chat's first message id is id_base + 1, and so is every bot's first update id
        (with 0, the default, a bot's first update id is 100_000_000 + bot_id % 1000 * 1000 + 1). A restarted
        emulator whose clients keep what they saw passes a base above anything an earlier run used, as
        Telegram never reuses a bot's update id nor a message id in a chat (proxy/demo.py does)."""
        if id_base < 0:
            raise ValueError("id_base must not be negative")
        self.clock = clock
        self.id_base = id_base
        self.clock_offset = 0.0
        self.bots: dict[int, Bot] = {}
        self.tokens: dict[str, Bot] = {}
        self.users: dict[int, TgUser] = {}
        self.chats: dict[int, Chat] = {}
        self.private_chats: dict[tuple[int, int], Chat] = {}
        self.business_connections: dict[str, BusinessConnection] = {}
        self.blocked: set[tuple[int, int]] = set()
        self.faults = FaultPlan()
        self.send_log = SendLog()
        self.enforce_rate_limits = False
        self._listeners: list[UpdateListener] = []
        self._next_bot_id = 7_000_000_001
        self._next_user_id = 500_000_001
        self._next_group_id = 1
        self._next_business_id = 1

    # --- time ------------------------------------------------------------------------------------

    def time(self) -> float:
        return self.clock() + self.clock_offset

    def now(self) -> int:
        """Unix time as Telegram puts it in `date` fields."""
        return int(self.time())

    def advance_clock(self, seconds: float) -> int:
        self.clock_offset += seconds
        return self.now()

    # --- setup -----------------------------------------------------------------------------------

    def add_bot(
        self,
        username: str | None = None,
        first_name: str = "Test bot",
        *,
        bot_id: int | None = None,
        token: str | None = None,
    ) -> Bot:
        bot_id = bot_id or self._next_bot_id
        self._next_bot_id = max(self._next_bot_id, bot_id + 1)
        user = TgUser(bot_id, first_name, username=username or f"test{bot_id}_bot", is_bot=True)
        first_update_id = self.id_base or 100_000_000 + bot_id % 1000 * 1000
        bot = Bot(user, token or new_token(bot_id), next_update_id=first_update_id)
        self.bots[bot_id] = bot
        self.users[bot_id] = user
        self.tokens[bot.token] = bot
        return bot

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        *,
        username: str | None = None,
        user_id: int | None = None,
    ) -> TgUser:
        user_id = user_id or self._next_user_id
        self._next_user_id = max(self._next_user_id, user_id + 1)
        user = TgUser(user_id, first_name, last_name, username)
        self.users[user_id] = user
        return user

    def add_chat(
        self,
        chat_type: str,
        title: str,
        *,
        is_forum: bool = False,
        username: str | None = None,
        creator: TgUser | None = None,
        chat_id: int | None = None,
    ) -> Chat:
        """A group, supergroup or channel; a supergroup or channel id is -100..., a group's plain negative."""
        if chat_type not in ("group", "supergroup", "channel"):
            raise ValueError("chat_type must be group, supergroup or channel")
        if is_forum and chat_type != "supergroup":
            raise ValueError("only a supergroup can be a forum")
        if chat_id is None:
            serial = self._next_group_id
            self._next_group_id += 1
            chat_id = -(1_002_000_000_000 + serial) if chat_type != "group" else -(4_000_000_000 + serial)
        chat = Chat(
            chat_id,
            chat_type,
            title,
            username=username,
            is_forum=is_forum,
            next_message_id=self.id_base + 1,
        )
        if creator is not None:
            chat.members[creator.id] = ChatMember(creator, "creator")
        self.chats[chat_id] = chat
        return chat

    def link_discussion(self, channel: Chat, group: Chat) -> None:
        if channel.type != "channel" or group.type != "supergroup":
            raise ValueError("a channel's discussion group is a supergroup")
        channel.linked_chat_id = group.id
        group.linked_chat_id = channel.id

    def add_topic(self, chat: Chat, name: str, creator: TgUser) -> int:
        """Open a forum topic; its id is the id of the service message that created it, as in Telegram."""
        if not chat.is_forum:
            raise ValueError("topics exist in forum supergroups only")
        message = self.add_message(chat, creator, None, service={"forum_topic_created": {"name": name}})
        message.message_thread_id = message.message_id
        chat.topics[message.message_id] = name
        return message.message_id

    def private_chat(self, bot: Bot, user: TgUser) -> Chat:
        """The chat between a bot and a user (its id is the user's id, as in Telegram)."""
        key = (bot.id, user.id)
        if key not in self.private_chats:
            self.private_chats[key] = Chat(user.id, "private", user=user, next_message_id=self.id_base + 1)
        return self.private_chats[key]

    def add_business_connection(
        self, bot: Bot, user: TgUser, *, can_reply: bool = True
    ) -> BusinessConnection:
        connection_id = f"bc{self._next_business_id:08d}"
        self._next_business_id += 1
        connection = BusinessConnection(connection_id, bot.id, user, self.now(), can_reply)
        self.business_connections[connection_id] = connection
        return connection

    def business_chat(self, connection: BusinessConnection, customer: TgUser) -> Chat:
        if customer.id not in connection.chats:
            chat = Chat(customer.id, "private", user=customer, next_message_id=self.id_base + 1)
            connection.chats[customer.id] = chat
        return connection.chats[customer.id]

    # --- lookups ---------------------------------------------------------------------------------

    def find_chat(self, bot: Bot, chat_id: int | str) -> Chat | None:
        """A chat as the bot names it: a group's id or @username, a user's id for the private chat."""
        if isinstance(chat_id, str):
            return next((c for c in self.chats.values() if c.username and f"@{c.username}" == chat_id), None)
        if chat_id in self.chats:
            return self.chats[chat_id]
        return self.private_chats.get((bot.id, chat_id))

    # --- messages --------------------------------------------------------------------------------

    def add_message(
        self,
        chat: Chat,
        author: TgUser | None,
        text: str | None,
        *,
        reply_to: Message | None = None,
        thread_id: int | None = None,
        sender_chat: Chat | None = None,
        business_connection_id: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        service: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Message:
        message = Message(
            chat.next_message_id,
            chat,
            self.now(),
            author,
            text,
            entities if entities is not None else (find_entities(text) if text else None),
            sender_chat=sender_chat,
            reply_to=reply_to,
            message_thread_id=thread_id,
            business_connection_id=business_connection_id,
            service=service or {},
            **extra,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def visible_message(self, chat: Chat, message_id: int) -> Message | None:
        message = chat.messages.get(message_id)
        return None if message is None or message.deleted else message

    def record_send(self, bot: Bot, chat: Chat) -> None:
        self.send_log.record(bot.id, Send(self.time(), chat.id, chat.is_group))

    def rate_violations(self, bot_id: int | None = None) -> list[RateViolation]:
        """Sends over Telegram's stated limits (rates.py), for every bot or one."""
        return self.send_log.violations(bot_id)

    # --- members ---------------------------------------------------------------------------------

    def change_member(
        self,
        chat: Chat,
        user: TgUser,
        status: str,
        *,
        actor: TgUser,
        until_date: int = 0,
        permissions: dict[str, bool] | None = None,
        rights: dict[str, bool] | None = None,
    ) -> tuple[ChatMember, ChatMember]:
        """Set a member's standing and send the chat_member (or, for a bot, my_chat_member) update."""
        old = chat.member(user).copy()
        new = ChatMember(user, status, until_date, dict(permissions or {}), dict(rights or {}))
        if status == "administrator" and not new.rights:
            new.rights = dict(FULL_ADMIN_RIGHTS)
        if status == "restricted":
            new.is_member = old.status in PRESENT_STATUSES
        chat.members[user.id] = new
        change = {
            "chat": chat.as_api(),
            "from": actor.as_api(),
            "date": self.now(),
            "old_chat_member": old.as_api(),
            "new_chat_member": new.as_api(),
        }
        if user.id in self.bots:
            self.emit(self.bots[user.id], "my_chat_member", change)
        # Telegram sends chat_member only to bots that administer the chat.
        for bot in self.bots_in(chat, admins_only=True):
            if bot.id != user.id:
                self.emit(bot, "chat_member", change)
        return old, new

    def bots_in(self, chat: Chat, *, admins_only: bool = False) -> list[Bot]:
        wanted = {"creator", "administrator"} if admins_only else PRESENT_STATUSES
        return [
            self.bots[member.user.id]
            for member in chat.members.values()
            if member.user.id in self.bots and member.status in wanted
        ]

    # --- updates ---------------------------------------------------------------------------------

    def add_listener(self, listener: UpdateListener) -> None:
        """Call `listener(bot)` after every update queued for any bot."""
        self._listeners.append(listener)

    def remove_listener(self, listener: UpdateListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, bot: Bot, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update for a bot; a kind outside its allowed_updates is never produced (as in Telegram,
        which applies the list to updates created after it was set)."""
        if not bot.allows(kind):
            return None
        bot.next_update_id += 1
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.pending.append(update)
        self.notify(bot)
        return update

    def notify(self, bot: Bot) -> None:
        """Tell the listeners a bot's updates or webhook changed."""
        for listener in list(self._listeners):
            listener(bot)

    def emit_message(self, kind: str, message: Message) -> None:
        """A message (or its edit) reaches every bot in its chat, except the bot that wrote it."""
        if message.chat.type == "private":
            return
        for bot in self.bots_in(message.chat):
            if message.from_user is None or message.from_user.id != bot.id:
                self.emit(bot, kind, message.as_api())

    def take_updates(self, bot: Bot, offset: int, limit: int) -> list[dict[str, Any]]:
        """getUpdates: confirm the updates below `offset`; a negative offset keeps the last -offset."""
        if offset < 0:
            while len(bot.pending) > -offset:
                bot.pending.popleft()
        elif offset:
            while bot.pending and bot.pending[0]["update_id"] < offset:
                bot.pending.popleft()
        return list(bot.pending)[:limit]

    def pending_updates(self, bot_id: int) -> list[dict[str, Any]]:
        return list(self.bots[bot_id].pending)
