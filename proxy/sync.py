"""Catch-up sync: read recent messages and comments through the community's connector and ingest what is
missing.

Runs after a long-poll gap (``failed`` 1 or 3), when a long-poll consumer starts, and on demand
(``proxy sync COMMUNITY``). What events already brought is found by its key and left alone (see
proxy/ingest/), so sync never duplicates an item.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from proxy.connectors.registry import Connections
from proxy.ingest import ingest
from proxy.live import LiveHub
from proxy.models import Community, Network
from proxy.networks import community_client, connections
from proxy.settings import Settings

__all__ = ["SyncReport", "register", "sync_community"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncReport:
    """How many items sync read, how many it stored anew or changed, how many were known already."""

    read: int
    changed: int
    unchanged: int


async def sync_community(
    settings: Settings,
    community: Community,
    *,
    live: LiveHub | None = None,
    opened: Connections | None = None,
) -> SyncReport:
    """Fill what the community's event history is missing; publishes changes to ``live`` if given.

    `opened`: the application's connections (without, the sync opens its own)."""
    async with connections(settings, opened) as current:
        found = await community_client(settings, current, community).recent_items()
    changed = 0
    for raw, event in found:
        result = await ingest(community, raw, event, source="sync")
        if result.changed:
            changed += 1
            if live is not None and result.to_publish:
                await live.publish(result.name, result.live_data())
    report = SyncReport(read=len(found), changed=changed, unchanged=len(found) - changed)
    log.info(
        "catch-up sync of community %s: %d items read, %d new or changed",
        community.vk_group_id,
        report.read,
        report.changed,
    )
    return report


async def find_community(reference: int) -> Community | None:
    """A community by its VK group id, else by its id in the proxy."""
    return await Community.get_or_none(
        network=Network.VK, vk_group_id=reference
    ) or await Community.get_or_none(id=reference)


async def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from proxy import db
    from proxy.cli_errors import CommandError
    from proxy.communities import MissingToken
    from proxy.connectors.base import NetworkError

    async with db.database(settings.database_url):
        community = await find_community(args.community)
        if community is None:
            raise CommandError(f"no community with group id or id {args.community}")
        try:
            report = await sync_community(settings, community)
        except MissingToken as exc:
            raise CommandError(str(exc)) from None
        except NetworkError as exc:
            raise CommandError(f"{community.network.value.upper()}: {exc.operator_message} ({exc})") from None
    print(
        f"synced {community.name} ({community.vk_group_id}): {report.read} items read, "
        f"{report.changed} new or changed, {report.unchanged} already stored"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``proxy sync COMMUNITY`` to the command line."""
    parser = sub.add_parser("sync", help="fetch recent messages and comments of a community from VK")
    parser.add_argument("community", type=int, help="the VK group id (or the community's id in the proxy)")
    parser.set_defaults(func=cmd_sync)
