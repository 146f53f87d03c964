"""The admin page's "test connection": ask the network whether a community's tokens work, in words an
admin can act on.

The core decrypts the tokens (a missing or undecryptable one is reported here without a call) and the
community's connector makes the checks (VK: proxy/connectors/vk/check.py). The result is journaled
("community.test", done or failed) without any token.
"""

from __future__ import annotations

from proxy.admin_access import require_admin
from proxy.audit import journal
from proxy.communities import CommunityError, MissingToken, admin_token, community_token
from proxy.connectors.base import Check
from proxy.connectors.registry import Connections
from proxy.crypto import SecretError
from proxy.models import ActorKind, Community, Operator, Outcome
from proxy.networks import community_account, connections
from proxy.settings import Settings

__all__ = ["Check", "check_connection"]


def _no_token(name: str, exc: Exception) -> Check:
    if isinstance(exc, SecretError):
        return Check(
            name,
            "failed",
            "The saved token cannot be decrypted (was PROXY_SECRET_KEY changed?). Save the token again.",
        )
    if name == "community_token":
        return Check(
            name,
            "failed",
            "No community token is saved: replies, marking dialogs read and long poll will not work.",
        )
    return Check(
        name,
        "failed",
        "No admin user token is saved: deleting and restoring comments and banning will not work.",
    )


async def _checks(settings: Settings, community: Community, opened: Connections) -> list[Check]:
    """The connector's checks of the tokens there are, with the missing ones where their checks would be."""
    missing_community: list[Check] = []
    missing_admin: list[Check] = []
    try:
        community_secret: str | None = community_token(settings, community)
    except (MissingToken, SecretError) as exc:
        community_secret = None
        missing_community.append(_no_token("community_token", exc))
    try:
        admin_secret: str | None = admin_token(settings, community)
    except (MissingToken, SecretError) as exc:
        admin_secret = None
        missing_admin.append(_no_token("admin_token", exc))
    account = community_account(community, community_token=community_secret, admin_token=admin_secret)
    checked = await opened.community(community.network, account).check_connection()
    return [*missing_community, *checked, *missing_admin]


async def check_connection(
    settings: Settings, community_id: int, *, by: Operator, opened: Connections | None = None
) -> list[Check]:
    """Run the checks of a community's tokens against its network (admins only); journaled, never a
    token in it. `opened`: the application's connections (without, the check opens its own)."""
    await require_admin(by, action="community.test", target=f"community:{community_id}")
    community = await Community.get_or_none(id=community_id)
    if community is None:
        raise CommunityError("this community does not exist")
    async with connections(settings, opened) as current:
        checks = await _checks(settings, community, current)
    failed = [c for c in checks if c.status == "failed"]
    await journal.record(
        "community.test",
        actor_kind=ActorKind.OPERATOR,
        operator_id=by.id,
        community_id=community.id,
        params={"vk_group_id": community.vk_group_id, "results": {c.name: c.status for c in checks}},
        outcome=Outcome.FAILED if failed else Outcome.DONE,
        outcome_detail="; ".join(f"{c.name}: {c.detail or c.text}" for c in failed) or None,
    )
    return checks
