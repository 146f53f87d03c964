"""Communities the proxy serves: add, configure, read their tokens."""

from __future__ import annotations

from proxy.audit import journal
from proxy.crypto import decrypt_token, encrypt_token
from proxy.models import ActorKind, Community, CommunityMode, Operator
from proxy.settings import Settings


class CommunityError(Exception):
    """A community cannot be added or used as asked; the message says why."""


class MissingToken(CommunityError):
    """An action needs a VK token the community does not have."""


async def add_community(
    settings: Settings,
    *,
    vk_group_id: int,
    name: str,
    secret: str,
    confirmation: str,
    mode: CommunityMode = CommunityMode.CALLBACK,
    community_token: str | None = None,
    admin_token: str | None = None,
    admin_vk_user_id: int | None = None,
    sla_seconds: int = 900,
    created_by: Operator | None = None,
) -> Community:
    """Register a community and journal it; tokens are stored encrypted."""
    if vk_group_id <= 0:
        raise CommunityError("the VK group id is a positive number (the digits of club123456)")
    if not name.strip():
        raise CommunityError("a community needs a name")
    if mode == CommunityMode.CALLBACK and not (secret and confirmation):
        raise CommunityError("callback mode needs both the secret and the confirmation string from VK")
    if mode == CommunityMode.LONGPOLL and not community_token:
        raise CommunityError("long poll mode needs the community token")
    if await Community.filter(vk_group_id=vk_group_id).exists():
        raise CommunityError(f"community {vk_group_id} is already served")
    community = await Community.create(
        vk_group_id=vk_group_id,
        name=name.strip(),
        mode=mode,
        callback_secret=secret,
        confirmation_code=confirmation,
        community_token_enc=encrypt_token(settings.secret_key, community_token) if community_token else None,
        admin_token_enc=encrypt_token(settings.secret_key, admin_token) if admin_token else None,
        admin_vk_user_id=admin_vk_user_id,
        sla_seconds=sla_seconds,
    )
    await journal.record(
        "community.add",
        actor_kind=ActorKind.OPERATOR if created_by else ActorKind.SYSTEM,
        operator_id=created_by.id if created_by else None,
        community_id=community.id,
        params={
            "vk_group_id": vk_group_id,
            "name": community.name,
            "mode": str(mode),
            "community_token": bool(community_token),
            "admin_token": bool(admin_token),
        },
    )
    return community


def community_token(settings: Settings, community: Community) -> str:
    if not community.community_token_enc:
        raise MissingToken(
            f"community {community.name} has no community token: add it in the admin pages "
            "(VK: community settings, API usage, access tokens)"
        )
    return decrypt_token(settings.secret_key, community.community_token_enc)


def admin_token(settings: Settings, community: Community) -> str:
    if not community.admin_token_enc:
        raise MissingToken(
            f"community {community.name} has no admin user token: deleting and restoring comments and "
            "banning need a VK user token of a community admin"
        )
    return decrypt_token(settings.secret_key, community.admin_token_enc)
