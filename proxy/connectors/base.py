"""The connector interface: what the core needs from a network, and what the network gives back.

Three parts, from the longest-lived to the shortest:

- `Connector`: the network itself, stateless, one per network in the registry
  (proxy/connectors/registry.py): its Callback endpoint, its rate limits, how an operator's action
  becomes a network call (`plan`), and `open`, which makes the application's clients;
- `NetworkClients`: what the application holds of one network while it runs (rate limiters, worker
  threads), opened once and closed with the app: performs planned calls (`performer`) and makes a
  community's client;
- `CommunityClient`: one community's calls with the tokens the core gave it: recent history for catch-up
  sync, authors' names, the connection check, the long-poll loop.

The core plans an action when the operator asks for it (so the outbox row records the exact call and
the token it needs before anything is sent), then performs the planned call later, from the outbox
worker. A connector never reads the store: the core gives it the tokens and the community's ids, and
takes events back through the sinks below (`CallbackSink`, `LongPollSink`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

import aiohttp
from aiohttp import web

from proxy.events import DomainEvent, Network

# What one callback body may weigh. A VK photo attachment with its size list is about 1.5 KB of JSON; a
# message carries up to 10 attachments and forwards up to 100 messages, each with attachments and
# forwards of its own, so a real message_new can pass 1 MiB. 4 MiB holds some 2,500 photo
# attachments while still bounding what an unauthenticated POST can make the server hold and parse
# before the secret is checked (the endpoint stops reading at this size and answers 413).
# PROXY_CALLBACK_MAX_BYTES changes it per instance (README, "Settings").
MAX_CALLBACK_BYTES = 4 * 1024 * 1024
# How long the whole body may take to arrive once the headers are in. A healthy sender delivers even
# MAX_CALLBACK_BYTES in well under a second; one that stalls would otherwise hold the request (and
# whatever it has sent) for as long as it likes. The network treats the 408 as a failed delivery and
# sends the event again. PROXY_CALLBACK_READ_SECONDS changes it per instance.
CALLBACK_READ_SECONDS = 10.0
# How long a refused request waits for its answer (proxy/connectors/vk/endpoint.py says why).
# PROXY_CALLBACK_REFUSAL_DELAY changes it.
CALLBACK_REFUSAL_DELAY = 1.0


class ActionKind(StrEnum):
    """The generic actions an operator can take on a network."""

    REPLY = "reply"
    DELETE_COMMENT = "delete_comment"
    RESTORE_COMMENT = "restore_comment"
    BAN = "ban"
    UNBAN = "unban"
    MARK_ANSWERED = "mark_answered"
    MARK_READ = "mark_read"
    MUTE = "mute"  # a member may no longer write (Telegram: restrictChatMember)


class TokenNeed(StrEnum):
    """Which of a community's tokens a call needs (stored as OutboxRow.token_kind)."""

    COMMUNITY = "community"
    ADMIN = "admin"  # a community admin's user token


@dataclass(frozen=True, kw_only=True)
class ActionRequest:
    """One action, addressed in the network's own ids.

    `channel` is a models.Channel value. `object_id` is what the comment hangs on (post, photo, video,
    market item, topic), or the peer for dialogs; `item_id` the comment to delete or restore;
    `reply_to` the comment (or message) to answer; `user_id` the author to ban or unban.
    """

    kind: ActionKind
    channel: str
    group_id: int
    owner_id: int | None = None
    object_id: int | None = None
    item_id: int | None = None
    reply_to: int | None = None
    user_id: int | None = None
    text: str = ""
    # Telegram's business_connection_id of a business chat (None elsewhere).
    connection: str | None = None
    # messages.send random_id (a positive int32 as a string) or *.createComment guid.
    idempotency_key: str | None = None
    reason: int = 0
    comment: str = ""
    until: datetime | None = None


@dataclass(frozen=True)
class PlannedCall:
    """The exact network call an action becomes; `params` are JSON-able and stored on the outbox row."""

    method: str
    params: dict[str, Any]
    token: TokenNeed


@dataclass(frozen=True)
class ActionResult:
    """What the network answered: its raw response, the ids it gave, and the created item's key."""

    response: Any
    vk_ids: dict[str, int] = field(default_factory=dict)
    # The store's key of the item the action created (a comment), e.g. "wall:-1_3:42".
    item_key: str | None = None
    # What the network will never send back as an event of its own (Telegram does not tell a bot of its
    # own messages): (raw, event) pairs the core ingests as delivered once the outcome is recorded.
    events: tuple[tuple[dict[str, Any], DomainEvent], ...] = ()


class ActionFailed(Exception):
    """A call the network refused or that did not get through.

    `transient`: trying again later may succeed. `operator_message`: plain words for the operator.
    """

    def __init__(
        self,
        operator_message: str,
        *,
        code: int | None,
        transient: bool,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.operator_message = operator_message
        self.code = code
        self.transient = transient
        self.detail = detail
        # Seconds the network asked to wait before the next try (Telegram's flood control), if it said.
        self.retry_after = retry_after
        super().__init__(detail or operator_message)


class UnsupportedAction(ValueError):
    """The network has no way to do this action on this channel."""


class NetworkError(Exception):
    """Any failure of a call to the network; `transient` says whether trying again later may succeed."""

    transient: bool = False

    @property
    def operator_message(self) -> str:
        """A short explanation for the operator."""
        return str(self)


class MalformedEvent(ValueError):
    """The input is not an event of the network at all (VK: not an object, no usable type, group_id or
    event_id; Telegram: not an object, no integer update_id). Each network's normalizer raises it and
    nothing else; its endpoint answers such input without storing it.

    ``reason`` is a short human-readable explanation.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- inbound: what the core gives a connector's endpoint and long-poll loop ----------------------------


@dataclass(frozen=True)
class InboundLimits:
    """The limits of a webhook endpoint (module constants above; PROXY_CALLBACK_* settings)."""

    max_bytes: int = MAX_CALLBACK_BYTES
    read_seconds: float = CALLBACK_READ_SECONDS
    refusal_delay: float = CALLBACK_REFUSAL_DELAY


@dataclass(frozen=True)
class CallbackTarget:
    """A served community as the endpoint needs it; ``context`` is the sink's own handle."""

    group_id: int
    secret: str
    confirmation: str
    context: Any = None


class CallbackSink(Protocol):
    """What a webhook endpoint needs from the core."""

    async def target(self, group_id: int) -> CallbackTarget | None:
        """The served community with this id on the network, or None."""

    def bad_secret(self, target: CallbackTarget, remote: str | None) -> None:
        """Count a request with a wrong or missing secret (in memory: a refusal writes nothing)."""

    async def accept(self, target: CallbackTarget, raw: dict[str, Any], event: DomainEvent) -> None:
        """Store the event durably (returns after commit); raise if it could not be stored."""

    def rejected(self, reason: str) -> None:
        """Count a refused request by reason (metrics)."""


class LongPollSink(Protocol):
    """What a long-poll loop needs from the core."""

    async def handle(self, batch: list[tuple[dict[str, Any], DomainEvent]], ts: str) -> None:
        """Store the events of one answer, then the ts to continue from."""

    async def catch_up(self, reason: str) -> None:
        """Fill a gap in the event history (catch-up sync)."""


class LongPoll(Protocol):
    """One community's long-poll loop."""

    async def run(self) -> None:
        """Receive events and hand them to the sink until cancelled."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- what the core gives a community's client, and what it answers -------------------------------------


@dataclass(frozen=True, kw_only=True)
class CommunityAccount:
    """A community as its client sees it: its id on the network and the tokens the core decrypted.

    A token the core did not give is None; the calls that need it are not made (`check_connection`) or
    are a programming error.
    """

    group_id: int
    # Never in a repr: an account may end up in a log line.
    community_token: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    # The network's id of the admin whose token `admin_token` is, as saved by an admin (or None).
    admin_user_id: int | None = None
    long_poll: bool = False
    # Group chats the proxy has seen the community in (Telegram: the connection check asks the bot's rights
    # in each).
    chats: tuple[int, ...] = ()


@dataclass(frozen=True)
class AuthorProfile:
    """An author's name as the network gives it; None leaves the stored value as it is."""

    name: str
    screen_name: str | None = None
    photo_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class ParentRef:
    """What a comment thread hangs on: a post, photo, video, product or board topic (`channel` as in
    `proxy.events.Channel`), by its owner and id on the network."""

    channel: str
    owner_id: int
    object_id: int


@dataclass(frozen=True, kw_only=True)
class Parent:
    """A thread's parent as the network shows it: its text (a title and a description joined), the
    address of its first image ("" when none) and when it was posted (None when the network does not say)."""

    ref: ParentRef
    text: str
    image_url: str = ""
    posted_at: datetime | None = None


CheckStatus = Literal["ok", "warning", "failed"]


@dataclass(frozen=True)
class Check:
    """One connection check's result: `message` is English with %(name)s placeholders (the translation
    key), `detail` the network's own words (an error code and message) when it refused.

    `name` is "community_token", "admin_token" or a check of the network's own (VK: "longpoll").
    """

    name: str
    status: CheckStatus
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def text(self) -> str:
        return self.message % self.params if self.params else self.message


class Limiter(Protocol):
    """What a client needs of a rate limiter: wait for the caller's turn to start a call."""

    async def acquire(self) -> None: ...


class SharedLimits(Protocol):
    """Rate limiters every instance shares (proxy/rate_limit.py on PostgreSQL), installed by the app."""

    def limiter(self, token: str, kind: str, limit: int, fallback: Limiter, *, period: float = 1.0) -> Limiter:
        """The limiter of a token (`kind` names the token's kind in the network's words, or what the
        token's calls are counted on: Telegram counts a bot's messages per chat too), `limit` calls in any
        `period` seconds; `fallback` paces this instance alone while the shared store is away."""
        ...


# --- the three parts of a connector ---------------------------------------------------------------------


class CommunityClient(Protocol):
    """One community's calls, with the tokens of its `CommunityAccount`."""

    async def recent_items(self) -> list[tuple[dict[str, Any], DomainEvent]]:
        """Recent messages and comments as (raw event, event), oldest first (catch-up sync)."""
        ...

    def author_profiles(self, ids: Sequence[int]) -> AsyncIterator[tuple[int, AuthorProfile]]:
        """A profile for every author id asked about, yielded as each answer comes (community token);
        raises NetworkError when a call fails as a whole."""
        ...

    async def check_connection(self) -> list[Check]:
        """Check the tokens given (community token checks first, the admin token last)."""
        ...

    async def connect(self, webhook_url: str | None, secret: str) -> list[Check]:
        """Tell the network where to deliver (None: nowhere, the proxy polls), where the network lets a
        client say so (Telegram's setWebhook; VK's Callback server is set in VK's own settings)."""
        ...

    async def parents(self, refs: Sequence[ParentRef]) -> list[Parent]:
        """The parents found of those asked about (community token); one the network no longer has is
        left out. Raises NetworkError when a call fails as a whole."""
        ...

    def long_poll(
        self, sink: LongPollSink, http: aiohttp.ClientSession, *, start_ts: str | None, wait: int
    ) -> LongPoll:
        """The community's long-poll loop (community token)."""
        ...


class ActionPerformer(Protocol):
    """Makes planned calls."""

    async def perform(self, call: PlannedCall, token: str) -> ActionResult:
        """Make the call with the token it needs; raises ActionFailed."""
        ...


class NetworkClients(Protocol):
    """The application's clients of one network: what they share lives here, until `close`."""

    def performer(self) -> AbstractContextManager[ActionPerformer]:
        """A performer for one round of outbox deliveries (its HTTP connections are reused within it)."""
        ...

    def community(self, account: CommunityAccount) -> CommunityClient:
        """A client of one community."""
        ...

    def use_shared_limits(self, shared: SharedLimits | None) -> SharedLimits | None:
        """New clients take their limiters from `shared` (None: this process's); returns the previous."""
        ...

    def close(self) -> None:
        """Release what the clients hold (worker threads)."""
        ...


class Connector(Protocol):
    """A network as the core sees it: stateless, one per network in the registry."""

    network: Network
    # The network's own name, as the journal's recorded outcomes say it ("VK accepted it", "Telegram error 403").
    name: str
    # The route of the network's webhook, mounted by proxy/inbound.py.
    callback_route: str
    # Calls a second the network allows per token of each kind.
    rate_limits: Mapping[TokenNeed, int]
    # The network's methods that `plan` turns each kind of action into: the core tells what a queued
    # call does by these (proxy/connectors/registry.py `methods_of`), never by a network's method name.
    methods: Mapping[ActionKind, frozenset[str]]
    # How long after it was written an item can still be deleted (None: always); the core refuses a
    # delete past it before queuing one the network would refuse.
    delete_window: timedelta | None

    def parent_url(self, ref: ParentRef) -> str:
        """The address of a thread's parent on the network, for people to open."""
        ...

    def registration_id(self, token: str, secret: str) -> int | None:
        """The community's id a registration's token names (a Telegram bot's token begins with the bot's
        id), or None when its tokens name none (VK: the admin types the group's id). Raises ValueError,
        in plain words, when the token or the secret cannot be the network's."""
        ...

    def parent_of_post(self, event: DomainEvent) -> Parent | None:
        """The parent an event carries whole (VK: a community's wall_post_new), or None."""
        ...

    def callback_handler(self, sink: CallbackSink, limits: InboundLimits) -> Handler:
        """The webhook's aiohttp handler: checks what was sent, normalizes it, hands it to `sink`."""
        ...

    def plan(self, request: ActionRequest) -> PlannedCall:
        """The call performing `request`; raises UnsupportedAction."""
        ...

    def open(self, api_base: str | None) -> NetworkClients:
        """The application's clients; `api_base` sends the calls to an emulator instead of the network."""
        ...
