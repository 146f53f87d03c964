"""A Telegram bot's two buttons on the admin pages: "Connect" (tell Telegram where to deliver) and "Test
the connection" (ask Telegram whether the token works and where it delivers), in words an admin can act on.

The sibling of proxy/admin_vk_check.py, which tests a VK community's two tokens: a bot has one token and
no admin user token, and its connection is set by the proxy (setWebhook) rather than pasted into the
network's settings. Both steps are journaled ("community.connect", "community.test"; done or failed)
without the token or the webhook secret.

In demo mode the bot's Telegram is the emulator the demo starts, so a first line says so: "Telegram
accepts the token" of an emulator's answer would tell an admin that a real bot is connected when none is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from proxy.admin_access import require_admin
from proxy.audit import journal
from proxy.communities import CommunityError, MissingToken, community_token
from proxy.connectors.base import Check, CommunityClient
from proxy.connectors.registry import Connections
from proxy.crypto import SecretError
from proxy.models import ActorKind, Community, CommunityMode, Network, Operator, Outcome
from proxy.networks import community_account, connections
from proxy.settings import Settings

__all__ = ["EMULATOR_CHECK", "check_bot", "connect_bot", "webhook_url"]

EMULATOR_CHECK = "emulator"


def webhook_url(settings: Settings, community: Community) -> str | None:
    """Where Telegram is to post the bot's updates; None for a polling bot (the proxy asks instead)."""
    if community.mode != CommunityMode.CALLBACK:
        return None
    return f"{settings.public_url.rstrip('/')}/callback/telegram/{community.vk_group_id}"


async def _bot(community_id: int) -> Community:
    community = await Community.get_or_none(id=community_id, network=Network.TELEGRAM)
    if community is None:
        raise CommunityError("this community does not exist")
    return community


def _no_token(exc: Exception) -> Check:
    if isinstance(exc, SecretError):
        return Check(
            "community_token",
            "failed",
            "The saved token cannot be decrypted (was PROXY_SECRET_KEY changed?). Save the token again.",
        )
    return Check("community_token", "failed", "No bot token is saved: paste BotFather's token and save.")


def _said_where(settings: Settings, checks: list[Check]) -> list[Check]:
    if not settings.demo:
        return checks
    first = Check(
        EMULATOR_CHECK,
        "warning",
        "These answers come from the Telegram emulator at %(address)s, not from Telegram: no real bot is "
        "connected.",
        {"address": settings.telegram_api_base or ""},
    )
    return [first, *checks]


async def _journal(action: str, by: Operator | None, community: Community, checks: list[Check]) -> None:
    failed = [c for c in checks if c.status == "failed"]
    await journal.record(
        action,
        actor_kind=ActorKind.OPERATOR if by is not None else ActorKind.SYSTEM,
        operator_id=by.id if by is not None else None,
        community_id=community.id,
        params={
            "network": Network.TELEGRAM.value,
            "bot_id": community.vk_group_id,
            "mode": str(community.mode),
            "results": {c.name: c.status for c in checks},
        },
        outcome=Outcome.FAILED if failed else Outcome.DONE,
        outcome_detail="; ".join(f"{c.name}: {c.detail or c.text}" for c in failed) or None,
    )


async def connect_bot(
    settings: Settings, community_id: int, *, by: Operator | None, opened: Connections | None = None
) -> list[Check]:
    """Set the bot's webhook to this proxy with its secret, or remove it for a polling bot (admins only;
    `by` None is the command line); journaled as "community.connect"."""

    async def connect(client: CommunityClient, community: Community) -> list[Check]:
        return await client.connect(webhook_url(settings, community), community.callback_secret)

    return await _ask_telegram(settings, community_id, "community.connect", connect, by=by, opened=opened)


async def check_bot(
    settings: Settings, community_id: int, *, by: Operator | None, opened: Connections | None = None
) -> list[Check]:
    """Ask Telegram about the bot's token and webhook (admins only, `by` None is the command line; nothing
    is changed there); journaled as "community.test"."""

    async def check(client: CommunityClient, _community: Community) -> list[Check]:
        return await client.check_connection()

    return await _ask_telegram(settings, community_id, "community.test", check, by=by, opened=opened)


async def _ask_telegram(
    settings: Settings,
    community_id: int,
    action: str,
    ask: Callable[[CommunityClient, Community], Awaitable[list[Check]]],
    *,
    by: Operator | None,
    opened: Connections | None,
) -> list[Check]:
    """One of the two steps with the bot's own token, said where the answers come from, and journaled."""
    if by is not None:
        await require_admin(by, action=action, target=f"community:{community_id}")
    community = await _bot(community_id)
    try:
        token = community_token(settings, community)
    except (MissingToken, SecretError) as exc:
        checks = [_no_token(exc)]
    else:
        account = community_account(community, community_token=token)
        async with connections(settings, opened) as current:
            checks = await ask(current.community(community.network, account), community)
    checks = _said_where(settings, checks)
    await _journal(action, by, community, checks)
    return checks
