"""The client's address, for the log in throttle and the journal.

Behind a load balancer every request comes from the balancer's address, so the throttle would count the
whole team as one client. X-Forwarded-For names the client, but anybody can send it: it is read only
when the request comes from a proxy listed in PROXY_TRUSTED_PROXIES, and then from the right, skipping
the listed proxies, so the first address no trusted proxy vouches for is the client's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request, trusted_proxies: tuple[Network, ...]) -> str | None:
    """The address of whoever sent the request, as far as this service can tell."""
    remote = request.remote
    if not remote or not trusted_proxies or not _trusted(remote, trusted_proxies):
        return remote
    hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", []) for hop in header.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # A hop a trusted proxy would not write: the proxy nearest to it is the last one known.
            return remote
        if not _trusted(hop, trusted_proxies):
            return hop
        remote = hop
    return remote
