"""What people do in the emulated Telegram, each with the updates Telegram would send the bots.

Users write, reply, edit, join and leave; admins ban, restrict and promote members in the Telegram apps
(behind the bot's back: the update's `from` is that admin, or GroupAnonymousBot for an anonymous one);
a channel's posts are forwarded into its discussion group, where users comment; a business account
connects to a bot and chats with its customers; a user blocks the bot.
"""

from __future__ import annotations

from typing import Any

from .basics import (
    GROUP_ANONYMOUS_BOT,
    PRESENT_STATUSES,
    TELEGRAM_SERVICE_USER,
    Bot,
    BusinessConnection,
    Chat,
    Message,
    TgUser,
)
from .state import TgState

UserRef = TgUser | int
ChatRef = Chat | int


class People:
    """Acts on a TgState as Telegram users, admins, channels and business accounts."""

    def __init__(self, state: TgState) -> None:
        self.state = state

    def _user(self, ref: UserRef) -> TgUser:
        return ref if isinstance(ref, TgUser) else self.state.users[ref]

    def _chat(self, ref: ChatRef) -> Chat:
        return ref if isinstance(ref, Chat) else self.state.chats[ref]

    def _bot(self, ref: Bot | int) -> Bot:
        return ref if isinstance(ref, Bot) else self.state.bots[ref]

    @staticmethod
    def _replied(chat: Chat, reply_to: Message | int | None) -> Message | None:
        if reply_to is None or isinstance(reply_to, Message):
            return reply_to
        message = chat.messages.get(reply_to)
        if message is None or message.deleted:
            raise KeyError(f"no message {reply_to} in chat {chat.id}")
        return message

    # --- messages ----------------------------------------------------------------------------------

    def writes_to_bot(
        self, user: UserRef, bot: Bot | int, text: str, *, reply_to: Message | int | None = None
    ) -> Message:
        """A private message to the bot."""
        bot = self._bot(bot)
        chat = self.state.private_chat(bot, self._user(user))
        message = self.state.add_message(chat, chat.user, text, reply_to=self._replied(chat, reply_to))
        self.state.emit(bot, "message", message.as_api())
        return message

    def writes_in_group(
        self,
        user: UserRef,
        chat: ChatRef,
        text: str,
        *,
        reply_to: Message | int | None = None,
        thread_id: int | None = None,
    ) -> Message:
        """A message in a group, in a forum topic (`thread_id`), or a reply (the reply's thread is kept)."""
        chat = self._chat(chat)
        author = self._user(user)
        if chat.member(author).status not in PRESENT_STATUSES:
            raise PermissionError(f"user {author.id} is not a member of chat {chat.id}")
        replied = self._replied(chat, reply_to)
        if replied is not None and thread_id is None:
            thread_id = replied.message_thread_id
        if thread_id is not None and chat.is_forum and thread_id not in chat.topics:
            raise KeyError(f"no topic {thread_id} in chat {chat.id}")
        if chat.is_forum and thread_id is not None and replied is None:
            # In a topic, a message without an explicit reply answers the topic's creation message.
            replied = chat.messages[thread_id]
        message = self.state.add_message(chat, author, text, reply_to=replied, thread_id=thread_id)
        self.state.emit_message("message", message)
        return message

    def edits(self, message: Message, text: str) -> Message:
        """The author edits a message: edited_message (edited_business_message in a business chat)."""
        message.text = text
        message.edit_date = self.state.now()
        message.entities = None
        if message.business_connection_id:
            connection = self.state.business_connections[message.business_connection_id]
            self.state.emit(self._bot(connection.bot_id), "edited_business_message", message.as_api())
        elif message.chat.type == "private":
            bot = self._bot(next(b for (b, u), c in self.state.private_chats.items() if c is message.chat))
            self.state.emit(bot, "edited_message", message.as_api())
        else:
            self.state.emit_message("edited_message", message)
        return message

    # --- channels and discussion groups -------------------------------------------------------------

    def channel_posts(self, channel: ChatRef, text: str) -> tuple[Message, Message | None]:
        """A channel post, and its automatic forward into the linked discussion group (if any)."""
        channel = self._chat(channel)
        post = self.state.add_message(channel, None, text, sender_chat=channel)
        for bot in self.state.bots_in(channel):
            self.state.emit(bot, "channel_post", post.as_api())
        if channel.linked_chat_id is None:
            return post, None
        group = self.state.chats[channel.linked_chat_id]
        forward = self.state.add_message(
            group,
            TELEGRAM_SERVICE_USER,
            text,
            sender_chat=channel,
            is_automatic_forward=True,
            forward_origin={
                "type": "channel",
                "chat": channel.as_api(),
                "message_id": post.message_id,
                "date": post.date,
            },
        )
        self.state.emit_message("message", forward)
        return post, forward

    def comments(self, user: UserRef, channel: ChatRef, post_id: int, text: str) -> Message:
        """A comment under a channel post: a reply to its forward, in the forward's thread."""
        channel = self._chat(channel)
        if channel.linked_chat_id is None:
            raise KeyError(f"channel {channel.id} has no discussion group")
        group = self.state.chats[channel.linked_chat_id]
        forward = next(
            (
                m
                for m in group.messages.values()
                if m.is_automatic_forward and m.forward_origin and m.forward_origin["message_id"] == post_id
            ),
            None,
        )
        if forward is None:
            raise KeyError(f"post {post_id} was not forwarded into chat {group.id}")
        author = self._user(user)
        if group.member(author).status not in PRESENT_STATUSES:
            self.state.change_member(group, author, "member", actor=author)
        message = self.state.add_message(group, author, text, reply_to=forward, thread_id=forward.message_id)
        self.state.emit_message("message", message)
        return message

    # --- membership --------------------------------------------------------------------------------

    def joins(self, user: UserRef, chat: ChatRef) -> Message:
        chat = self._chat(chat)
        user = self._user(user)
        self.state.change_member(chat, user, "member", actor=user)
        message = self.state.add_message(
            chat,
            user,
            None,
            service={
                "new_chat_participant": user.as_api(),
                "new_chat_member": user.as_api(),
                "new_chat_members": [user.as_api()],
            },
        )
        self.state.emit_message("message", message)
        return message

    def leaves(self, user: UserRef, chat: ChatRef) -> Message:
        chat = self._chat(chat)
        user = self._user(user)
        self.state.change_member(chat, user, "left", actor=user)
        message = self.state.add_message(
            chat,
            user,
            None,
            service={"left_chat_participant": user.as_api(), "left_chat_member": user.as_api()},
        )
        self.state.emit_message("message", message)
        return message

    def admin_acts(
        self,
        admin: UserRef | None,
        chat: ChatRef,
        action: str,
        user: UserRef,
        *,
        until_date: int = 0,
        permissions: dict[str, bool] | None = None,
        rights: dict[str, bool] | None = None,
    ) -> dict[str, Any]:
        """An admin bans, unbans, restricts or promotes a member in the Telegram apps; `admin` None is an
        anonymous admin, who appears as GroupAnonymousBot."""
        chat = self._chat(chat)
        actor = GROUP_ANONYMOUS_BOT if admin is None else self._user(admin)
        target = self._user(user)
        if action == "ban":
            old, new = self.state.change_member(chat, target, "kicked", actor=actor, until_date=until_date)
        elif action == "unban":
            old, new = self.state.change_member(chat, target, "left", actor=actor)
        elif action == "restrict":
            old, new = self.state.change_member(
                chat, target, "restricted", actor=actor, until_date=until_date, permissions=permissions
            )
        elif action == "promote":
            old, new = self.state.change_member(chat, target, "administrator", actor=actor, rights=rights)
        elif action == "demote":
            old, new = self.state.change_member(chat, target, "member", actor=actor)
        else:
            raise ValueError("action must be ban, unban, restrict, promote or demote")
        return {"old_chat_member": old.as_api(), "new_chat_member": new.as_api()}

    def adds_bot(
        self, chat: ChatRef, bot: Bot | int, *, admin: bool = False, by: UserRef | None = None
    ) -> None:
        """Add the bot to a chat (or make it an admin); the bot gets my_chat_member from `by` (the creator)."""
        chat = self._chat(chat)
        bot = self._bot(bot)
        actor = self._user(by) if by is not None else self._creator(chat)
        self.state.change_member(chat, bot.user, "administrator" if admin else "member", actor=actor)

    def _creator(self, chat: Chat) -> TgUser:
        creator = next((m.user for m in chat.members.values() if m.status == "creator"), None)
        return creator or GROUP_ANONYMOUS_BOT

    def blocks_bot(self, user: UserRef, bot: Bot | int) -> None:
        """The user blocks the bot: my_chat_member in the private chat, the bot now kicked."""
        self._private_standing(user, bot, blocked=True)

    def unblocks_bot(self, user: UserRef, bot: Bot | int) -> None:
        self._private_standing(user, bot, blocked=False)

    def _private_standing(self, user: UserRef, bot: Bot | int, *, blocked: bool) -> None:
        bot = self._bot(bot)
        user = self._user(user)
        chat = self.state.private_chat(bot, user)
        was_blocked = (bot.id, user.id) in self.state.blocked
        if blocked:
            self.state.blocked.add((bot.id, user.id))
        else:
            self.state.blocked.discard((bot.id, user.id))
        old = {"user": bot.user.as_api(), "status": "kicked", "until_date": 0} if was_blocked else None
        new = {"user": bot.user.as_api(), "status": "kicked", "until_date": 0} if blocked else None
        member = {"user": bot.user.as_api(), "status": "member"}
        self.state.emit(
            bot,
            "my_chat_member",
            {
                "chat": chat.as_api(),
                "from": user.as_api(),
                "date": self.state.now(),
                "old_chat_member": old or member,
                "new_chat_member": new or member,
            },
        )

    # --- business ----------------------------------------------------------------------------------

    def connects_business(
        self, user: UserRef, bot: Bot | int, *, can_reply: bool = True
    ) -> BusinessConnection:
        bot = self._bot(bot)
        connection = self.state.add_business_connection(bot, self._user(user), can_reply=can_reply)
        self.state.emit(bot, "business_connection", connection.as_api())
        return connection

    def business_message(
        self,
        connection: BusinessConnection | str,
        customer: UserRef,
        text: str,
        *,
        from_owner: bool = False,
        reply_to: Message | int | None = None,
    ) -> Message:
        """A customer writes to the business account (or the owner answers): business_message."""
        connection = self._connection(connection)
        customer = self._user(customer)
        chat = self.state.business_chat(connection, customer)
        message = self.state.add_message(
            chat,
            connection.user if from_owner else customer,
            text,
            reply_to=self._replied(chat, reply_to),
            business_connection_id=connection.id,
        )
        self.state.emit(self._bot(connection.bot_id), "business_message", message.as_api())
        return message

    def deletes_business_messages(
        self, connection: BusinessConnection | str, customer: UserRef, message_ids: list[int]
    ) -> None:
        connection = self._connection(connection)
        chat = self.state.business_chat(connection, self._user(customer))
        for message_id in message_ids:
            if message_id in chat.messages:
                chat.messages[message_id].deleted = True
        self.state.emit(
            self._bot(connection.bot_id),
            "deleted_business_messages",
            {
                "business_connection_id": connection.id,
                "chat": chat.as_api(),
                "message_ids": list(message_ids),
            },
        )

    def _connection(self, ref: BusinessConnection | str) -> BusinessConnection:
        return ref if isinstance(ref, BusinessConnection) else self.state.business_connections[ref]
