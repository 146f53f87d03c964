"""The demo's traffic: members and community admins acting in the emulated VK at a steady pace.

The demo must show every feature of the proxy to someone who has just started it, within minutes: new
messages and comments, edits and deletions by their authors, spam, and what the community's admins do
directly in VK, behind the proxy's back (answers as the community, comment deletions, bans), which the
proxy notices and journals. So the traffic follows a fixed round (`DEMO_ROUND`) of every kind of action,
again and again, with the texts and the people drawn by a seeded random generator: one round takes
`len(DEMO_ROUND)` steps, at `per_minute` steps a minute (the demo sets it from PROXY_DEMO_STEP_SECONDS,
docs/guide.md "Trying it out: the demo").

Bans hold: a member blacklisted in the emulator (by an admin in VK, by the scenario, or by an operator
through the proxy's groups.ban) is never written as again; once a round the scenario lets the last banned
member try to comment, which VK refuses (`VkFault` 213, no event), as it would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable

from .community import Comment, Group, Target
from .scenario import DEMO_COMMENTS, DEMO_MESSAGES, Scenario
from .state import EmulatorState, User, VkFault

DEMO_SPAM: list[str] = [
    "Заработок от 5000 ₽ в день без вложений! Пишите в личку.",
    "Дешёвые подписчики и лайки, ссылка в профиле.",
    "Выиграй айфон: переходи по ссылке в профиле!",
]

# Spam that the demo community's moderation rules catch (proxy/demo_rules.py), by what gives it away: a
# link to a made-up casino site, money-for-nothing phrases, a phone number, one text posted again and again.
# Every text has Cyrillic in it: the demo's traffic is Russian throughout.
DEMO_RULE_SPAM: dict[str, list[str]] = {
    "link": [
        "Казино с бонусом 200% на первый депозит: https://lucky-spin-casino.example/ru",
        "Забирай фрибеты, пока дают: https://zolotoy-bonus.example/promo",
    ],
    "phrases": [
        "Заработок без вложений от 3000 ₽ в день, подробности в личке!",
        "Крипта растёт каждый день, подписывайтесь на канал и зарабатывайте с нами",
        "Лучшее онлайн казино, бонус за регистрацию",
    ],
    "phone": [
        "Отдам дешевле, чем в магазине, звоните: +7 912 345-67-89",
        "Продаю такую же куртку, пишите в WhatsApp 8 (921) 555-12-34",
    ],
    "repeated": [
        "Загляни ко мне на страницу, там подарок для каждого!",
        "Смотрите мой профиль, там всё самое интересное",
    ],
}
# A spammer of the repeated kind posts the same text this many times, one comment a comment step (the demo
# rule counts three within ten minutes; a round of the traffic takes under two at the default pace).
DEMO_REPEAT_COUNT = 3
# How often a member's comment step is a spammer's instead: the repeated kind posts three, so about one
# comment in eight is spam.
DEMO_RULE_SPAM_CHANCE = 1 / 12

DEMO_RULE_SPAMMERS: list[tuple[str, str]] = [
    ("Бонус", "Казино"),
    ("Лёгкий", "Заработок"),
    ("Выгодно", "Продам"),
    ("Подарки", "Всем"),
]

DEMO_SPAMMERS: list[tuple[str, str]] = [
    ("Заработок", "Онлайн"),
    ("Бонусы", "Каждый день"),
    ("Лайки", "Недорого"),
]

DEMO_ADMIN_REPLIES: list[str] = [
    "Здравствуйте! Уже проверяем ваш заказ, ответим в течение часа.",
    "Добрый день! Да, это возможно: напишите, пожалуйста, номер заказа.",
    "Спасибо, что написали! Передали вопрос в службу доставки.",
]

DEMO_ADMIN_COMMENTS: list[str] = [
    "Здравствуйте! Ответили вам в личных сообщениях.",
    "Спасибо за отзыв! Рады, что понравилось.",
    "Поступление ожидаем на следующей неделе.",
]

DEMO_EDIT_SUFFIXES: list[str] = [
    " (уточнение: заказ оформлял вчера)",
    " Upd: вопрос ещё актуален.",
    " (исправил)",
]

# One round: every kind of action, in an order a newcomer can follow in the inbox and the journal.
DEMO_ROUND: tuple[str, ...] = (
    "message",  # a member writes to the community
    "comment",  # a member comments on a post, a photo, a video, a good or a board topic
    "admin_reply",  # an admin answers a dialog in VK itself
    "reply_comment",  # a member answers another comment
    "message_edit",  # a member edits a message
    "spam",  # a spammer comments
    "admin_delete",  # an admin deletes the spam in VK
    "admin_ban",  # and blacklists the spammer in VK
    "comment_edit",  # a member edits a comment
    "banned_attempt",  # the banned spammer tries again: VK refuses
    "admin_comment",  # an admin answers a comment as the community in VK
    "member_delete",  # a member deletes their own comment
)

# What a step did, when its own kind had nothing to act on (no dialog to answer yet, no comment to edit).
FALLBACK = {"message_edit": "message", "admin_reply": "message", "admin_delete": "spam"}


class DemoTraffic:
    """Members and admins acting in the emulated VK: one action per `step`, a round of every kind."""

    def __init__(
        self,
        state: EmulatorState,
        group: Group,
        *,
        per_minute: float = 6.0,
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.group = group
        self.per_minute = per_minute
        self.rng = rng or random.Random()
        self.scenario = Scenario(state)
        self.steps = 0
        # What each step did, by kind ("refused": a banned member's attempt VK turned down).
        self.done: Counter[str] = Counter()
        self._spam: Comment | None = None
        self._spammer: User | None = None
        self._spammer_ids: set[int] = set()
        # The spam the rules catch, as posted (DEMO_RULE_SPAM), and the repeated kind's campaign under way.
        self.rule_spam: list[Comment] = []
        self._rule_spam_round = 0
        self._repeating: tuple[User, str, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._kinds: dict[str, Callable[[], str | None]] = {
            "message": self._message,
            "comment": self._comment,
            "reply_comment": self._reply_comment,
            "message_edit": self._message_edit,
            "comment_edit": self._comment_edit,
            "member_delete": self._member_delete,
            "spam": self._spam_comment,
            "banned_attempt": self._banned_attempt,
            "admin_reply": self._admin_reply,
            "admin_comment": self._admin_comment,
            "admin_delete": self._admin_delete,
            "admin_ban": self._admin_ban,
        }

    # --- who may act --------------------------------------------------------------------------

    def _banned(self, user_id: int) -> bool:
        return self.group.is_banned(user_id, self.state.now())

    def _members(self) -> list[User]:
        """The members the traffic writes as: never the admin, a spammer or anyone blacklisted."""
        return [
            u
            for u in self.state.users.values()
            if u.id != self.group.admin_user_id and u.id not in self._spammer_ids and not self._banned(u.id)
        ]

    def _posts(self) -> list[Target]:
        return [t for t in self.group.targets.values() if t.kind == "wall"] or list(
            self.group.targets.values()
        )

    def _live_member_comments(self, *, of: User | None = None) -> list[Comment]:
        return [
            c
            for c in self.group.comments.values()
            if not c.deleted
            and c.from_id > 0
            and not self._banned(c.from_id)
            and (of is None or c.from_id == of.id)
            and c is not self._spam
            and c.from_id not in self._spammer_ids
        ]

    # --- one action ---------------------------------------------------------------------------

    def step(self) -> str:
        """Perform the round's next action now; returns what was done."""
        kind = DEMO_ROUND[self.steps % len(DEMO_ROUND)]
        self.steps += 1
        done = self._kinds[kind]()
        while done is None:
            kind = FALLBACK.get(kind, "comment")
            done = self._kinds[kind]()
        self.done[done] += 1
        return done

    def _message(self) -> str | None:
        members = self._members()
        if not members:
            return "idle"
        self.scenario.member_writes_message(
            self.group, self.rng.choice(members), self.rng.choice(DEMO_MESSAGES)
        )
        return "message"

    def _comment(self, *, reply: bool = False) -> str | None:
        members = self._members()
        targets = list(self.group.targets.values())
        if not members or not targets:
            return "idle" if not reply else None
        if self._rule_spam_comment(targets):
            return "reply_comment" if reply else "comment"
        parent = None
        if reply:
            parents = [c for c in self._live_member_comments() if c.kind != "board"]
            if not parents:
                return None
            parent = self.rng.choice(parents)
            members = [u for u in members if u.id != parent.from_id] or members
            target = self.group.targets[(parent.kind, parent.target_id)]
        else:
            target = self.rng.choice(targets)
        self.scenario.member_comments(
            self.group,
            self.rng.choice(members),
            target,
            self.rng.choice(DEMO_COMMENTS),
            parent,
            kind=target.kind,
        )
        return "reply_comment" if reply else "comment"

    def _rule_spam_comment(self, targets: list[Target]) -> bool:
        """Now and then, from the second round on, a spammer's comment instead of a member's
        (DEMO_RULE_SPAM, in turn by kind); a repeated campaign under way goes on first. Whether it posted."""
        if self.steps <= len(DEMO_ROUND):  # the first round shows every kind of action, the reply included
            return False
        if self._repeating is None and self.rng.random() >= DEMO_RULE_SPAM_CHANCE:
            return False
        if self._repeating is not None:
            spammer, text, left = self._repeating
            self._repeating = (spammer, text, left - 1) if left > 1 else None
            if self._banned(spammer.id):  # an operator banned them through the proxy: the campaign ends
                self._repeating = None
                return False
        else:
            kind = list(DEMO_RULE_SPAM)[self._rule_spam_round % len(DEMO_RULE_SPAM)]
            first, last = DEMO_RULE_SPAMMERS[self._rule_spam_round % len(DEMO_RULE_SPAMMERS)]
            self._rule_spam_round += 1
            spammer = self.state.add_user(first, last)
            self._spammer_ids.add(spammer.id)
            text = self.rng.choice(DEMO_RULE_SPAM[kind])
            if kind == "repeated":
                self._repeating = (spammer, text, DEMO_REPEAT_COUNT - 1)
        target = self.rng.choice(targets)
        self.rule_spam.append(
            self.scenario.member_comments(self.group, spammer, target, text, kind=target.kind)
        )
        return True

    def _reply_comment(self) -> str | None:
        return self._comment(reply=True)

    def _message_edit(self) -> str | None:
        mine = [
            m
            for m in self.group.messages.values()
            if m.out == 0 and not self._banned(m.from_id) and m.from_id in {u.id for u in self._members()}
        ]
        if not mine:
            return None
        message = mine[-1]
        self.scenario.member_edits_message(
            self.group, message, message.text + self.rng.choice(DEMO_EDIT_SUFFIXES)
        )
        return "message_edit"

    def _comment_edit(self) -> str | None:
        own = [c for c in self._live_member_comments() if c.from_id in {u.id for u in self._members()}]
        if not own:
            return None
        comment = self.rng.choice(own)
        self.scenario.member_edits(self.group, comment, comment.text + self.rng.choice(DEMO_EDIT_SUFFIXES))
        return "comment_edit"

    def _member_delete(self) -> str | None:
        own = [c for c in self._live_member_comments() if c.from_id in {u.id for u in self._members()}]
        if not own:
            return None
        self.scenario.member_deletes(self.group, self.rng.choice(own))
        return "member_delete"

    def _spam_comment(self) -> str | None:
        posts = self._posts()
        if not posts:
            return "idle"
        first, last = DEMO_SPAMMERS[len(self._spammer_ids) % len(DEMO_SPAMMERS)]
        # A fresh account each round, as spammers do: the one banned last round stays banned.
        spammer = self.state.add_user(first, last)
        self._spammer_ids.add(spammer.id)
        target = self.rng.choice(posts)
        self._spammer = spammer
        self._spam = self.scenario.member_comments(
            self.group, spammer, target, self.rng.choice(DEMO_SPAM), kind=target.kind
        )
        return "spam"

    def _banned_attempt(self) -> str | None:
        if self._spammer is None or not self._banned(self._spammer.id):
            return None
        posts = self._posts()
        if not posts:
            return None
        target = self.rng.choice(posts)
        try:
            self.scenario.member_comments(
                self.group, self._spammer, target, self.rng.choice(DEMO_SPAM), kind=target.kind
            )
        except VkFault:
            return "refused"
        return "spam"

    # --- community admins, directly in VK -----------------------------------------------------

    def _admin_reply(self) -> str | None:
        waiting = [
            c.peer_id
            for c in self.group.conversations.values()
            if c.unanswered
            and c.peer_id > 0
            and not self._banned(c.peer_id)
            and self.group.messages_allowed.get(c.peer_id)
        ]
        if not waiting:
            return None
        self.scenario.admin_replies_in_vk(self.group, waiting[0], self.rng.choice(DEMO_ADMIN_REPLIES))
        return "admin_reply"

    def _admin_comment(self) -> str | None:
        questions = [c for c in self._live_member_comments() if c.kind != "board"]
        if not questions:
            return None
        question = questions[-1]
        self.scenario.admin_comments_in_vk(
            self.group, question.target_id, self.rng.choice(DEMO_ADMIN_COMMENTS), question, kind=question.kind
        )
        return "admin_comment"

    def _admin_delete(self) -> str | None:
        if self._spam is None or self._spam.deleted:
            return None
        self.scenario.admin_deletes_in_vk(self.group, self._spam)
        return "admin_delete"

    def _admin_ban(self) -> str | None:
        if self._spammer is None or self._banned(self._spammer.id):
            return None
        self.scenario.admin_bans_in_vk(self.group, self._spammer, comment="Спам")
        return "admin_ban"

    # --- pace ---------------------------------------------------------------------------------

    async def run(self, max_actions: int | None = None) -> None:
        """One step every 60/per_minute seconds (give or take a third), until cancelled or after
        `max_actions`."""
        done = 0
        interval = 60.0 / self.per_minute
        while max_actions is None or done < max_actions:
            await asyncio.sleep(interval * self.rng.uniform(0.67, 1.33))
            self.step()
            done += 1

    def start(self) -> None:
        """Run in the background on the current loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="vk-emulator-demo-traffic")

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
