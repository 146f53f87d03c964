"""The connector of each network, and the application's open clients of them all.

The only module outside a connector's own package that imports it: the core finds a community's
connector here by `Community.network` (tests/test_import_rules.py keeps it so). A new network adds its
connector to `CONNECTORS` (docs/architecture.md, "Adding a network").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from types import MappingProxyType

from proxy.connectors.base import (
    ActionKind,
    ActionPerformer,
    CommunityAccount,
    CommunityClient,
    Connector,
    NetworkClients,
    SharedLimits,
    TokenNeed,
)
from proxy.connectors.telegram.connector import TELEGRAM
from proxy.connectors.vk.connector import VK
from proxy.events import Network

CONNECTORS: Mapping[Network, Connector] = MappingProxyType({Network.VK: VK, Network.TELEGRAM: TELEGRAM})


class UnknownNetwork(LookupError):
    """No connector serves this network."""


def connector_for(network: Network | str) -> Connector:
    """The connector of a network (a `Community.network`)."""
    try:
        return CONNECTORS[Network(network)]
    except (KeyError, ValueError):
        raise UnknownNetwork(f"no connector for the network {network!r}") from None


def methods_of(*kinds: ActionKind) -> frozenset[str]:
    """Every network's methods performing one of these kinds of action (an outbox row's `method`)."""
    return frozenset(
        method for c in CONNECTORS.values() for kind in kinds for method in c.methods.get(kind, ())
    )


def kind_of(method: str) -> ActionKind | None:
    """The kind of action a network's method performs; None for one no connector plans."""
    for connector in CONNECTORS.values():
        for kind, methods in connector.methods.items():
            if method in methods:
                return kind
    return None


def network_name_of(method: str) -> str:
    """The name of the network whose method this is ("VK", "Telegram"), for what the journal records of its
    answer; "the network" for a method no connector plans."""
    for connector in CONNECTORS.values():
        if any(method in methods for methods in connector.methods.values()):
            return connector.name
    return "the network"


def slowest_rate(kind: TokenNeed) -> int:
    """The fewest calls a second any network allows a token of this kind."""
    return min(
        connector.rate_limits[kind] for connector in CONNECTORS.values() if kind in connector.rate_limits
    )


class Connections:
    """The application's clients of every network, opened together and closed together (the app owns
    one, under `appkeys.CONNECTIONS`; a command or a test without an app opens one for its call).

    `api_bases` sends a network's calls to an emulator instead (the demo, the tests, the benchmarks).
    """

    def __init__(self, api_bases: Mapping[Network, str | None] | None = None) -> None:
        bases = api_bases or {}
        self._clients: dict[Network, NetworkClients] = {
            network: connector.open(bases.get(network)) for network, connector in CONNECTORS.items()
        }
        self._shared: SharedLimits | None = None

    def network(self, network: Network | str) -> NetworkClients:
        """The clients of one network."""
        connector_for(network)  # the same error for a network nobody serves
        return self._clients[Network(network)]

    def community(self, network: Network | str, account: CommunityAccount) -> CommunityClient:
        """A client of one community on its network."""
        return self.network(network).community(account)

    @contextmanager
    def performers(self) -> Iterator[Mapping[Network, ActionPerformer]]:
        """Each network's performer for one round of outbox deliveries."""
        with ExitStack() as stack:
            yield {
                network: stack.enter_context(clients.performer())
                for network, clients in self._clients.items()
            }

    def use_shared_limits(self, shared: SharedLimits | None) -> SharedLimits | None:
        """Every network's new clients take their limiters from `shared`; returns the previous."""
        previous, self._shared = self._shared, shared
        for clients in self._clients.values():
            clients.use_shared_limits(shared)
        return previous

    def close(self) -> None:
        for clients in self._clients.values():
            clients.close()
