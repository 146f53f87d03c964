"""The admin page's "test connection": ask the network whether a community's tokens work, in words an
admin can act on.

The core decrypts the tokens (a missing or undecryptable one is reported here without a call) and the
community's connector makes the checks (VK: proxy/connectors/vk/check.py). The result is journaled
("community.test", done or failed) without any token.

An emulated community (proxy/emulation.py) is checked against the emulator, so the result says so: a
first line naming the emulator it talked to, and "the VK emulator accepts" where VK's answer would be
"VK accepts". Saying "VK accepts the key" of an emulator's answer would tell an admin that a real
community is connected when none is.
"""

from __future__ import annotations

import dataclasses

from proxy.admin_access import require_admin
from proxy.audit import journal
from proxy.communities import CommunityError, MissingToken, admin_token, community_token
from proxy.connectors.base import Check
from proxy.connectors.registry import Connections
from proxy.crypto import SecretError
from proxy.emulation import is_emulated
from proxy.models import ActorKind, Community, Operator, Outcome
from proxy.networks import community_account, connections
from proxy.settings import Settings

__all__ = ["EMULATOR_CHECK", "Check", "check_connection"]

EMULATOR_CHECK = "emulator"

# The connector's words for VK's own answers -> the same said of the emulator.
_SAID_OF_THE_EMULATOR: dict[str, str] = {
    "VK accepts the community token of %(name)s.": "The VK emulator accepts the community token of %(name)s.",
    "Bots Long Poll is on.": "Bots Long Poll is on in the VK emulator.",
    "VK accepts the admin token of %(name)s (id %(user_id)s), who manages this community.": (
        "The VK emulator accepts the admin token of %(name)s (id %(user_id)s), who manages this emulated "
        "community."
    ),
    "VK accepts the admin token of %(name)s (id %(user_id)s), but the admin's VK id saved below is "
    "%(saved)s: set it to %(user_id)s so that deletions through the proxy are recognised.": (
        "The VK emulator accepts the admin token of %(name)s (id %(user_id)s), but the admin's VK id saved "
        "below is %(saved)s: set it to %(user_id)s so that deletions through the proxy are recognised."
    ),
    "VK could not be reached. Check that this server can open connections to VK, then try again.": (
        "The VK emulator could not be reached: it runs inside the service in demo mode (PROXY_DEMO)."
    ),
}


def _from_the_emulator(settings: Settings, checks: list[Check]) -> list[Check]:
    """The checks as answers of the emulator, after a line saying where they came from."""
    first = Check(
        EMULATOR_CHECK,
        "warning",
        "These answers come from the VK emulator at %(address)s, not from VK: no real VK community is "
        "connected.",
        {"address": settings.vk_api_base or ""},
    )
    said = [dataclasses.replace(c, message=_SAID_OF_THE_EMULATOR.get(c.message, c.message)) for c in checks]
    return [first, *said]


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
    settings: Settings, community_id: int, *, by: Operator | None, opened: Connections | None = None
) -> list[Check]:
    """Run the checks of a community's tokens against its network (admins only; `by` None is the command
    line); journaled, never a token in it. `opened`: the application's connections (without, the check
    opens its own)."""
    if by is not None:
        await require_admin(by, action="community.test", target=f"community:{community_id}")
    community = await Community.get_or_none(id=community_id)
    if community is None:
        raise CommunityError("this community does not exist")
    async with connections(settings, opened) as current:
        checks = await _checks(settings, community, current)
    if is_emulated(settings, community):
        checks = _from_the_emulator(settings, checks)
    failed = [c for c in checks if c.status == "failed"]
    await journal.record(
        "community.test",
        actor_kind=ActorKind.OPERATOR if by is not None else ActorKind.SYSTEM,
        operator_id=by.id if by is not None else None,
        community_id=community.id,
        params={"vk_group_id": community.vk_group_id, "results": {c.name: c.status for c in checks}},
        outcome=Outcome.FAILED if failed else Outcome.DONE,
        outcome_detail="; ".join(f"{c.name}: {c.detail or c.text}" for c in failed) or None,
    )
    return checks
