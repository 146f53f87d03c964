"""VK behind the connector interface (proxy/connectors/base.py): what the registry hands the core.

`VK` is the stateless connector: the Callback API route and handler, VK's rate limits, `plan`. `open`
makes the application's `VkNetworkClients`, which own the `VkRuntime` every client shares (limiters,
worker threads) until the app closes them, and make one community's `VkCommunityClient` from the tokens
the core gives.
"""

from __future__ import annotations

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
from proxy.events import DomainEvent, Network

from . import actions, check, fetch, parents, profiles
from .client import RATE_LIMITS, VkClient, VkRuntime
from .endpoint import make_callback_handler
from .longpoll import LongPollConsumer
from .transport import http_session


class VkCommunityClient:
    """One VK community's calls (proxy.connectors.base.CommunityClient)."""

    def __init__(self, clients: VkNetworkClients, account: CommunityAccount) -> None:
        self._clients = clients
        self.account = account

    def client(self, kind: TokenNeed = TokenNeed.COMMUNITY) -> VkClient:
        """The VK API client on the community token (messages, long poll, reads) or the admin user token."""
        token = self.account.admin_token if kind == TokenNeed.ADMIN else self.account.community_token
        if token is None:
            raise LookupError(f"no {kind} token was given for group {self.account.group_id}")
        return self._clients.client(token, kind)

    async def recent_items(self) -> list[tuple[dict[str, Any], DomainEvent]]:
        """Recent messages and comments as synthetic events (proxy/connectors/vk/fetch.py)."""
        return list(await fetch.recent_items(self.client(), self.account.group_id))

    def author_profiles(self, ids: Sequence[int]) -> AsyncIterator[tuple[int, AuthorProfile]]:
        """Names of users and communities (proxy/connectors/vk/profiles.py)."""
        return profiles.author_profiles(self.client(), ids)

    async def check_connection(self) -> list[Check]:
        """The checks of the tokens given (proxy/connectors/vk/check.py)."""
        checks = []
        if self.account.community_token is not None:
            checks += await check.community_checks(self.client(), self.account)
        if self.account.admin_token is not None:
            checks.append(await check.admin_check(self.client(TokenNeed.ADMIN), self.account))
        return checks

    async def connect(self, webhook_url: str | None, secret: str) -> list[Check]:
        """VK's Callback server and its secret are set in the community's settings in VK, not by a call."""
        return [Check("webhook", "warning", "set the Callback server in the community's settings in VK")]

    async def parents(self, refs: Sequence[ParentRef]) -> list[Parent]:
        """Posts, photos, videos, goods and topics comments hang on (proxy/connectors/vk/parents.py): on
        the admin's user token when given (VK serves photos, videos and goods by id to user tokens),
        else on the community token."""
        kind = TokenNeed.ADMIN if self.account.admin_token is not None else TokenNeed.COMMUNITY
        return await parents.fetch_parents(self.client(kind), self.account.group_id, refs)

    def long_poll(
        self, sink: LongPollSink, http: aiohttp.ClientSession, *, start_ts: str | None, wait: int
    ) -> LongPollConsumer:
        """The community's Bots Long Poll loop."""
        return LongPollConsumer(
            self.client(), self.account.group_id, http, sink, start_ts=start_ts, wait=wait
        )


class VkNetworkClients:
    """The application's VK clients (proxy.connectors.base.NetworkClients)."""

    def __init__(self, api_base: str | None) -> None:
        self.api_base = api_base
        self.runtime = VkRuntime()

    def client(self, token: str, kind: TokenNeed = TokenNeed.COMMUNITY) -> VkClient:
        """A VK API client of one token, on a session of its own."""
        vk_kind = "user" if kind == TokenNeed.ADMIN else "community"
        return self.runtime.client(token, kind=vk_kind, session=http_session(self.api_base))

    @contextmanager
    def performer(self) -> Iterator[actions.VkActions]:
        """Planned calls over one session, closed at the end of the round."""
        session = http_session(self.api_base)
        try:
            yield actions.VkActions(session, self.runtime)
        finally:
            session.close()

    def community(self, account: CommunityAccount) -> VkCommunityClient:
        return VkCommunityClient(self, account)

    def use_shared_limits(self, shared: SharedLimits | None) -> SharedLimits | None:
        return self.runtime.use_shared_limits(shared)

    def close(self) -> None:
        self.runtime.close()


@dataclass(frozen=True)
class VkConnector:
    """VK (proxy.connectors.base.Connector). Holds nothing: the clients it opens hold the state."""

    network: ClassVar[Network] = Network.VK
    name: ClassVar[str] = "VK"
    callback_route: ClassVar[str] = "/callback/vk/{group_id}"
    rate_limits: ClassVar[Mapping[TokenNeed, int]] = MappingProxyType(
        {TokenNeed.COMMUNITY: RATE_LIMITS["community"], TokenNeed.ADMIN: RATE_LIMITS["user"]}
    )

    methods: ClassVar[Mapping[ActionKind, frozenset[str]]] = actions.METHODS
    # VK lets a community delete a comment whenever.
    delete_window: ClassVar[timedelta | None] = None

    def parent_url(self, ref: ParentRef) -> str:
        return parents.parent_url(ref)

    def registration_id(self, token: str, secret: str) -> int | None:
        return None

    def parent_of_post(self, event: DomainEvent) -> Parent | None:
        return parents.parent_of_post(event)

    def callback_handler(self, sink: CallbackSink, limits: InboundLimits) -> Handler:
        return make_callback_handler(
            sink,
            max_bytes=limits.max_bytes,
            read_seconds=limits.read_seconds,
            refusal_delay=limits.refusal_delay,
        )

    def plan(self, request: ActionRequest) -> PlannedCall:
        return actions.plan(request)

    def open(self, api_base: str | None) -> VkNetworkClients:
        return VkNetworkClients(api_base)


VK = VkConnector()
