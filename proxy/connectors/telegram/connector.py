"""Telegram bots behind the connector interface (proxy/connectors/base.py): what the registry hands the core.

A "community" is one bot; its id is the number before the colon of its token, and its token is the
community token. `TELEGRAM` is the stateless connector; `open` makes the application's
`TelegramNetworkClients`, which hold the limiters of every bot and chat (pacing.py) until the app closes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar

import aiohttp

from proxy.connectors.base import (
    ActionKind,
    ActionRequest,
    ActionResult,
    AuthorProfile,
    CallbackSink,
    Check,
    CommunityAccount,
    Handler,
    InboundLimits,
    LongPollSink,
    Parent,
    ParentRef,
    PlannedCall,
    SharedLimits,
    TokenNeed,
)
from proxy.events import DomainEvent, Network, WallPostCreated

from . import actions, bot_api, check
from .bot_api import API_BASE, TelegramError
from .endpoint import make_webhook_handler
from .pacing import TelegramPacing
from .polling import TelegramPolling

# A bot token as BotFather gives it; the webhook secret as setWebhook accepts it.
# Matched whole (fullmatch: "$" would let a trailing newline through). Telegram takes a secret of up to 256
# characters; the proxy stores 255 (Community.callback_secret).
_TOKEN = re.compile(r"[0-9]{1,18}:[A-Za-z0-9_-]{20,100}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,255}")


def bot_id_of(token: str) -> int | None:
    """The bot's id: the digits before the colon of its token (None when the token has no such part)."""
    head, _, rest = token.partition(":")
    return int(head) if head.isascii() and head.isdigit() and rest and len(head) <= 18 else None


class TelegramActions:
    """Performs planned Bot API calls (proxy.connectors.base.ActionPerformer) within Telegram's limits."""

    def __init__(self, clients: TelegramNetworkClients) -> None:
        self._clients = clients

    async def perform(self, call: PlannedCall, token: str) -> ActionResult:
        chat_id = call.params.get("chat_id")
        await self._clients.pacing.acquire(token, call.method, chat_id if isinstance(chat_id, int) else None)
        try:
            async with aiohttp.ClientSession() as http:
                response = await bot_api.call(http, self._clients.base, token, call.method, dict(call.params))
        except TelegramError as exc:
            failed = actions.failure(call, exc)
            if failed is None:
                return ActionResult({"already_done": exc.description})
            raise failed from exc
        return actions.interpret(bot_id_of(token) or 0, call, response)


class TelegramCommunityClient:
    """One bot's calls (proxy.connectors.base.CommunityClient)."""

    def __init__(self, clients: TelegramNetworkClients, account: CommunityAccount) -> None:
        self._clients = clients
        self.account = account

    @property
    def token(self) -> str:
        if self.account.community_token is None:
            raise LookupError(f"no token was given for bot {self.account.group_id}")
        return self.account.community_token

    async def recent_items(self) -> list[tuple[dict[str, Any], DomainEvent]]:
        # The Bot API keeps no history a bot could read back: what was missed stays with Telegram until
        # the webhook or getUpdates receives it (Telegram keeps undelivered updates for 24 hours).
        return []

    async def author_profiles(self, ids: Sequence[int]) -> AsyncIterator[tuple[int, AuthorProfile]]:
        # Every Telegram update names its sender: ingest stores the name as it comes (ItemCreated.author_name).
        for _ in ():
            yield _

    async def check_connection(self) -> list[Check]:
        return await check.check(self._clients.base, self.token, groups=self.account.chats)

    async def connect(self, webhook_url: str | None, secret: str) -> list[Check]:
        return await check.connect(self._clients.base, self.token, webhook_url=webhook_url, secret=secret)

    async def parents(self, refs: Sequence[ParentRef]) -> list[Parent]:
        # A channel post reaches its discussion group as an automatic forward, which ingest keeps whole.
        return []

    def long_poll(
        self, sink: LongPollSink, http: aiohttp.ClientSession, *, start_ts: str | None, wait: int
    ) -> TelegramPolling:
        return TelegramPolling(
            base=self._clients.base,
            token=self.token,
            bot_id=self.account.group_id,
            http=http,
            sink=sink,
            start_ts=start_ts,
            wait=wait,
        )


class TelegramNetworkClients:
    """The application's Telegram clients (proxy.connectors.base.NetworkClients)."""

    def __init__(self, api_base: str | None) -> None:
        self.base = api_base or API_BASE
        self.pacing = TelegramPacing()

    @contextmanager
    def performer(self) -> Iterator[TelegramActions]:
        yield TelegramActions(self)

    def community(self, account: CommunityAccount) -> TelegramCommunityClient:
        return TelegramCommunityClient(self, account)

    def use_shared_limits(self, shared: SharedLimits | None) -> SharedLimits | None:
        return self.pacing.use_shared_limits(shared)

    def close(self) -> None:
        """Nothing is held between calls (each call's HTTP session is its own)."""


@dataclass(frozen=True)
class TelegramConnector:
    """Telegram (proxy.connectors.base.Connector)."""

    network: ClassVar[Network] = Network.TELEGRAM
    name: ClassVar[str] = "Telegram"
    callback_route: ClassVar[str] = "/callback/telegram/{group_id}"
    rate_limits: ClassVar[Mapping[TokenNeed, int]] = MappingProxyType({TokenNeed.COMMUNITY: 30})
    methods: ClassVar[Mapping[ActionKind, frozenset[str]]] = actions.METHODS
    # A message older than this cannot be deleted by a bot.
    delete_window: ClassVar[timedelta | None] = actions.DELETE_WINDOW

    def parent_url(self, ref: ParentRef) -> str:
        # A channel post's address needs the channel's public name, which the discussion group's copy
        # does not carry; the post itself is shown from the copy.
        return ""

    def registration_id(self, token: str, secret: str) -> int:
        bot_id = bot_id_of(token)
        # A bot's id is positive: bot 0's webhook would refuse every update (normalize.py's envelope).
        if not bot_id or not _TOKEN.fullmatch(token):
            raise ValueError(
                "this does not look like a bot token: paste BotFather's token whole (digits, a colon, the rest)"
            )
        if not _SECRET.fullmatch(secret):
            raise ValueError(
                "the secret is 1 to 255 characters: Latin letters, digits, _ and - (Telegram's rule)"
            )
        return bot_id

    def parent_of_post(self, event: DomainEvent) -> Parent | None:
        if not isinstance(event, WallPostCreated):
            return None
        ref = ParentRef(channel="group", owner_id=event.owner_id, object_id=event.post_id)
        image = ""
        return Parent(ref=ref, text=event.text, image_url=image, posted_at=event.created_at)

    def callback_handler(self, sink: CallbackSink, limits: InboundLimits) -> Handler:
        return make_webhook_handler(sink, limits)

    def plan(self, request: ActionRequest) -> PlannedCall:
        return actions.plan(request)

    def open(self, api_base: str | None) -> TelegramNetworkClients:
        return TelegramNetworkClients(api_base)


TELEGRAM = TelegramConnector()
