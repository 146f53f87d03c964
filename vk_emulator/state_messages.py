"""The emulator's community messages: dialogs, incoming and sent messages, edits, permission to write."""

from __future__ import annotations

from typing import Any

from .community import Conversation, Group, Message
from .state_core import StateCore
from .vk_basics import VkFault, bad_param


class MessagesState(StateCore):
    """Dialogs with peers: each change emits the event VK would send."""

    # --- messages ---------------------------------------------------------------------------

    def conversation(self, group: Group, peer_id: int) -> Conversation:
        """The dialog with a peer, created on first use."""
        conv = group.conversations.get(peer_id)
        if conv is None:
            conv = group.conversations[peer_id] = Conversation(peer_id)
        return conv

    def _add_message(self, group: Group, peer_id: int, **fields: Any) -> Message:
        conv = self.conversation(group, peer_id)
        message = Message(
            id=group.next_message_id,
            conversation_message_id=conv.next_cmid,
            date=self.now(),
            peer_id=peer_id,
            **fields,
        )
        group.next_message_id += 1
        conv.next_cmid += 1
        conv.message_ids.append(message.id)
        group.messages[message.id] = message
        return message

    def incoming_message(
        self, group: Group, user_id: int, text: str, attachments: list[dict[str, Any]] | None = None
    ) -> Message:
        """A user writes to the community: emits message_new and allows replies, as VK does. A member the
        community has blacklisted cannot write to it (error 902, no event)."""
        if group.is_banned(user_id, self.now()):
            raise VkFault(902)
        message = self._add_message(
            group, user_id, from_id=user_id, out=0, text=text, attachments=list(attachments or [])
        )
        group.messages_allowed[user_id] = True
        self.conversation(group, user_id).unanswered = True
        self.emit(
            group,
            "message_new",
            {
                "message": message.as_vk(),
                "client_info": {
                    "button_actions": ["text", "vkpay", "open_app", "location", "open_link"],
                    "keyboard": True,
                    "inline_keyboard": True,
                    "carousel": True,
                    "lang_id": 0,
                },
            },
        )
        return message

    def send_message(
        self,
        group: Group,
        peer_id: int,
        text: str,
        *,
        random_id: int,
        attachments: list[dict[str, Any]] | None = None,
        admin_author_id: int | None = None,
    ) -> Message:
        """The community writes to a peer: emits message_reply; a repeated random_id is a no-op."""
        if random_id:
            existing = group.sent_random_ids.get(random_id)
            if existing is not None:
                return group.messages[existing]
        if not text and not attachments:
            raise bad_param("message is empty")
        if group.is_banned(peer_id, self.now()):
            raise VkFault(900)
        if peer_id > 0 and not group.messages_allowed.get(peer_id, False):
            raise VkFault(901)
        message = self._add_message(
            group,
            peer_id,
            from_id=group.owner_id,
            out=1,
            text=text,
            attachments=list(attachments or []),
            random_id=random_id,
            admin_author_id=admin_author_id,
        )
        if random_id:
            group.sent_random_ids[random_id] = message.id
        self.conversation(group, peer_id).unanswered = False
        self.emit(group, "message_reply", message.as_vk())
        return message

    def edit_message(self, group: Group, message_id: int, text: str) -> Message:
        """Change a message's text and emit message_edit (the object is the message itself)."""
        message = group.messages[message_id]
        message.text = text
        message.update_time = self.now()
        self.emit(group, "message_edit", message.as_vk())
        return message

    def set_messages_allowed(self, group: Group, user_id: int, allowed: bool) -> None:
        """A user allows or denies messages from the community (message_allow / message_deny)."""
        group.messages_allowed[user_id] = allowed
        if allowed:
            self.emit(group, "message_allow", {"user_id": user_id, "key": ""})
        else:
            self.emit(group, "message_deny", {"user_id": user_id})
