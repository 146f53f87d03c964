"""Simulated community members and admins (the demo's traffic: demo_traffic.py).

`Scenario` acts on the emulated VK as people do in VK itself: members write, comment, edit and delete;
community admins answer, delete and ban directly in VK (bypassing the proxy). Each action emits the
event VK would send.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .state import CallbackConfig, Comment, CommentKind, EmulatorState, Group, Message, Target, User

GroupRef = Group | int
UserRef = User | int
TargetRef = Target | int
CommentRef = Comment | int


class Scenario:
    """People acting on the emulated VK. Groups, users, targets and comments are objects or ids."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _group(self, group: GroupRef) -> Group:
        return group if isinstance(group, Group) else self.state.group(group)

    @staticmethod
    def _id(ref: User | Target | Comment | int) -> int:
        return ref if isinstance(ref, int) else ref.id

    # --- members: messages -----------------------------------------------------------------

    def member_writes_message(
        self, group: GroupRef, user: UserRef, text: str, attachments: list[dict[str, Any]] | None = None
    ) -> Message:
        """A member writes to the community (message_new)."""
        return self.state.incoming_message(self._group(group), self._id(user), text, attachments)

    def member_edits_message(self, group: GroupRef, message: Message | int, text: str) -> Message:
        """A member edits a message they sent (message_edit)."""
        message_id = message if isinstance(message, int) else message.id
        return self.state.edit_message(self._group(group), message_id, text)

    def member_denies_messages(self, group: GroupRef, user: UserRef) -> None:
        """A member forbids messages from the community (message_deny); messages.send then fails with 901."""
        self.state.set_messages_allowed(self._group(group), self._id(user), False)

    def member_allows_messages(self, group: GroupRef, user: UserRef) -> None:
        """A member allows messages from the community (message_allow)."""
        self.state.set_messages_allowed(self._group(group), self._id(user), True)

    # --- members: comments -----------------------------------------------------------------

    def member_comments(
        self,
        group: GroupRef,
        user: UserRef,
        post: TargetRef,
        text: str,
        reply_to: CommentRef | None = None,
        *,
        kind: CommentKind = "wall",
    ) -> Comment:
        """A member comments on a wall post (or on another kind of target), optionally replying."""
        return self.state.create_comment(
            self._group(group),
            kind,
            self._id(post),
            self._id(user),
            text,
            reply_to_comment=None if reply_to is None else self._id(reply_to),
        )

    def member_comments_photo(
        self, group: GroupRef, user: UserRef, photo: TargetRef, text: str, reply_to: CommentRef | None = None
    ) -> Comment:
        """A member comments on a photo (photo_comment_new)."""
        return self.member_comments(group, user, photo, text, reply_to, kind="photo")

    def member_comments_video(
        self, group: GroupRef, user: UserRef, video: TargetRef, text: str, reply_to: CommentRef | None = None
    ) -> Comment:
        """A member comments on a video (video_comment_new)."""
        return self.member_comments(group, user, video, text, reply_to, kind="video")

    def member_comments_market(
        self, group: GroupRef, user: UserRef, item: TargetRef, text: str, reply_to: CommentRef | None = None
    ) -> Comment:
        """A member comments on a market item (market_comment_new)."""
        return self.member_comments(group, user, item, text, reply_to, kind="market")

    def member_posts_in_board(self, group: GroupRef, user: UserRef, topic: TargetRef, text: str) -> Comment:
        """A member writes in a board topic (board_post_new)."""
        return self.member_comments(group, user, topic, text, kind="board")

    def member_edits(self, group: GroupRef, comment: Comment, text: str) -> Comment:
        """A member edits their comment of any kind (*_edit with the full object)."""
        return self.state.edit_comment(self._group(group), comment.kind, comment.id, text)

    def member_deletes(self, group: GroupRef, comment: Comment) -> bool:
        """A member deletes their own comment (*_delete with deleter_id = the author)."""
        return self.state.delete_comment(self._group(group), comment.kind, comment.id, comment.from_id)

    # --- community admins acting directly in VK --------------------------------------------

    def admin_replies_in_vk(self, group: GroupRef, peer: UserRef, text: str) -> Message:
        """An admin answers a dialog in VK's interface (message_reply with admin_author_id)."""
        g = self._group(group)
        rng_id = random.getrandbits(31)
        return self.state.send_message(
            g, self._id(peer), text, random_id=rng_id, admin_author_id=g.admin_user_id
        )

    def admin_comments_in_vk(
        self,
        group: GroupRef,
        target: TargetRef,
        text: str,
        reply_to: CommentRef | None = None,
        *,
        kind: CommentKind = "wall",
    ) -> Comment:
        """An admin comments as the community in VK (no admin id in the event, as VK does)."""
        g = self._group(group)
        return self.state.create_comment(
            g,
            kind,
            self._id(target),
            g.owner_id,
            text,
            reply_to_comment=None if reply_to is None else self._id(reply_to),
        )

    def admin_deletes_in_vk(self, group: GroupRef, comment: Comment) -> bool:
        """An admin deletes a comment in VK (*_delete with deleter_id = the admin)."""
        g = self._group(group)
        return self.state.delete_comment(g, comment.kind, comment.id, g.admin_user_id)

    def admin_restores_in_vk(self, group: GroupRef, comment: Comment) -> bool:
        """An admin restores a deleted comment in VK (*_restore)."""
        return self.state.restore_comment(self._group(group), comment.kind, comment.id)

    def admin_bans_in_vk(
        self, group: GroupRef, user: UserRef, *, comment: str = "", end_date: int = 0
    ) -> None:
        """An admin blacklists a member in VK (user_block)."""
        g = self._group(group)
        self.state.ban(g, self._id(user), g.admin_user_id, comment=comment, end_date=end_date)

    def admin_unbans_in_vk(self, group: GroupRef, user: UserRef) -> None:
        """An admin removes a member from the blacklist in VK (user_unblock)."""
        g = self._group(group)
        self.state.unban(g, self._id(user), g.admin_user_id)


# --- demo world ----------------------------------------------------------------------------------

DEMO_USERS: list[tuple[str, str]] = [
    ("Анна", "Смирнова"),
    ("Дмитрий", "Кузнецов"),
    ("Елена", "Попова"),
    ("Сергей", "Васильев"),
    ("Ольга", "Новикова"),
    ("Алексей", "Морозов"),
    ("Татьяна", "Волкова"),
    ("Иван", "Соколов"),
]

DEMO_MESSAGES: list[str] = [
    "Здравствуйте! Когда придёт мой заказ? Номер 48213.",
    "Добрый день, можно оформить возврат? Товар не подошёл по размеру.",
    "Подскажите, вы работаете в выходные?",
    "Оплатил картой, а статус заказа всё ещё «не оплачен».",
    "Курьер не приехал в назначенное время, что делать?",
    "Есть ли доставка в Казань?",
    "Хочу поменять адрес доставки, это возможно?",
    "Спасибо, всё получил, очень доволен!",
]

DEMO_COMMENTS: list[str] = [
    "А когда будет снова в наличии?",
    "Цена кусается, есть скидки для постоянных покупателей?",
    "Заказывал в прошлом месяце — качество отличное.",
    "Почему мне никто не отвечает в личных сообщениях?",
    "Какой размер выбрать при росте 175?",
    "Третий день жду ответа по гарантии.",
    "Классный пост, спасибо!",
    "Это есть в пунктах выдачи или только онлайн?",
]

DEMO_POSTS: list[str] = [
    "Новая коллекция уже в продаже! Делитесь впечатлениями в комментариях.",
    "Мы обновили условия доставки: теперь бесплатно от 3000 ₽.",
    "Розыгрыш! Оставьте комментарий и выиграйте подарочный сертификат.",
]


def build_demo_world(
    state: EmulatorState,
    *,
    name: str = "Магазин «Северный ветер»",
    callback: CallbackConfig | None = None,
    group_id: int | None = None,
) -> Group:
    """A community with members, posts, a photo, a video, a market item and a board topic."""
    group = state.add_group(name, group_id=group_id, callback=callback)
    for first, last in DEMO_USERS:
        state.add_user(first, last)
    for text in DEMO_POSTS:
        state.add_post(group, text)
    state.add_target(group, "photo", "Витрина магазина")
    state.add_target(group, "video", "Обзор новой коллекции")
    state.add_target(group, "market", "Куртка демисезонная")
    state.add_target(group, "board", "Вопросы о доставке")
    return group


@dataclass
class World:
    """A small ready-made world for tests: one community, three members, one target of each kind."""

    state: EmulatorState
    group: Group
    members: list[User]
    post: Target
    photo: Target
    video: Target
    item: Target
    topic: Target

    @property
    def scenario(self) -> Scenario:
        """People acting on this world."""
        return Scenario(self.state)

    @classmethod
    def create(cls, state: EmulatorState | None = None, *, callback: CallbackConfig | None = None) -> World:
        """Build the world in `state` (a new one by default)."""
        state = state or EmulatorState()
        group = state.add_group("Тестовое сообщество", callback=callback)
        members = [state.add_user(first, last) for first, last in DEMO_USERS[:3]]
        return cls(
            state,
            group,
            members,
            post=state.add_post(group, DEMO_POSTS[0]),
            photo=state.add_target(group, "photo", "Фото"),
            video=state.add_target(group, "video", "Видео"),
            item=state.add_target(group, "market", "Товар"),
            topic=state.add_target(group, "board", "Тема"),
        )
