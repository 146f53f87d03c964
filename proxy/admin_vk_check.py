"""The admin page's "test connection": ask VK whether a community's tokens work, in words an admin can act on.

Three checks, each a real VK call through the community's clients (proxy/vk_clients.py):

- community token: ``groups.getById`` answers the token's own community, which must be this one;
- Bots Long Poll (long-poll mode only): ``groups.getLongPollServer`` works only when it is enabled;
- admin user token: ``users.get`` names the token's user, and ``groups.getBanned`` of the community works
  only for a user who manages it (the right that deleting comments and banning need).

The result is journaled ("community.test", done or failed) without any token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from proxy.admin_access import require_admin
from proxy.audit import journal
from proxy.communities import CommunityError, MissingToken
from proxy.connectors.vk.client import VkApiError, VkClient, VkError
from proxy.crypto import SecretError
from proxy.models import ActorKind, Community, CommunityMode, Operator, Outcome
from proxy.settings import Settings
from proxy.vk_clients import admin_client, community_client

CheckName = Literal["community_token", "longpoll", "admin_token"]
Status = Literal["ok", "warning", "failed"]


@dataclass(frozen=True)
class Check:
    """One check's result: `message` is English with %(name)s placeholders (the translation key),
    `detail` VK's own words (an error code and message) when VK refused."""

    name: CheckName
    status: Status
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def text(self) -> str:
        return self.message % self.params if self.params else self.message


# What an admin can do about a VK error, by code; the rest get VK's own message.
_EXPLANATIONS: dict[int, str] = {
    5: "VK does not accept this token: it is wrong, expired or was revoked. Create a new token in VK and "
    "save it here.",
    6: "VK asked to slow down (too many requests per second). Try again in a minute.",
    7: "The token lacks an access right this needs. Create the token again with the rights the guide lists.",
    9: "VK asked to slow down (flood control). Try again in a minute.",
    10: "VK had an internal error. Try again in a minute.",
    15: "VK denied access: the token has no access to this community.",
    27: "This is a community token, but this needs a user token of a community admin.",
    28: "VK does not accept this application's token: create the token again.",
    29: "VK's daily limit for this request is reached. Try again tomorrow.",
}


def _refused(name: CheckName, exc: VkError, secret: str) -> Check:
    detail = str(exc).replace(secret, "***") if secret else str(exc)
    if isinstance(exc, VkApiError):
        message = _EXPLANATIONS.get(exc.code, "VK refused the request.")
        if name == "admin_token" and exc.code == 15:
            message = (
                "VK denied access: the token's user does not manage this community (they must be its "
                "administrator or moderator), or the token lacks the right to manage communities."
            )
        return Check(name, "failed", message, detail=detail)
    return Check(
        name,
        "failed",
        "VK could not be reached. Check that this server can open connections to VK, then try again.",
        detail=detail,
    )


def _no_token(name: CheckName, exc: Exception) -> Check:
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


def _first_group(answer: Any) -> dict[str, Any] | None:
    # Since API 5.194 groups.getById answers {"groups": [...]}; earlier versions a bare list.
    groups = answer.get("groups") if isinstance(answer, dict) else answer
    return groups[0] if isinstance(groups, list) and groups and isinstance(groups[0], dict) else None


async def _community_checks(settings: Settings, community: Community) -> list[Check]:
    try:
        client: VkClient = community_client(settings, community)
    except (MissingToken, SecretError) as exc:
        return [_no_token("community_token", exc)]
    try:
        group = _first_group(await client.call("groups.getById"))
    except VkError as exc:
        return [_refused("community_token", exc, client.token)]
    if group is None:
        return [Check("community_token", "failed", "VK did not say which community this token belongs to.")]
    if group.get("id") != community.vk_group_id:
        return [
            Check(
                "community_token",
                "failed",
                "This token belongs to another community: %(other)s (id %(other_id)s).",
                {"other": str(group.get("name", "")), "other_id": group.get("id")},
            )
        ]
    checks = [
        Check(
            "community_token",
            "ok",
            "VK accepts the community token of %(name)s.",
            {"name": str(group.get("name", ""))},
        )
    ]
    if community.mode == CommunityMode.LONGPOLL:
        try:
            await client.call("groups.getLongPollServer", group_id=community.vk_group_id)
        except VkError as exc:
            refused = _refused("longpoll", exc, client.token)
            checks.append(
                Check(
                    "longpoll",
                    "failed",
                    "Bots Long Poll does not answer: turn it on in VK (Manage, API usage, Long Poll API) "
                    "with API version 5.199.",
                    detail=refused.detail,
                )
            )
        else:
            checks.append(Check("longpoll", "ok", "Bots Long Poll is on."))
    return checks


async def _admin_check(settings: Settings, community: Community) -> Check:
    try:
        client = admin_client(settings, community)
    except (MissingToken, SecretError) as exc:
        return _no_token("admin_token", exc)
    try:
        users = await client.call("users.get")
    except VkError as exc:
        return _refused("admin_token", exc, client.token)
    if not isinstance(users, list) or not users or not isinstance(users[0], dict):
        return Check(
            "admin_token",
            "failed",
            "This looks like a community token: this field needs a user token of a community admin.",
        )
    user = users[0]
    user_id = user.get("id")
    name = f"{user.get('first_name', '')} {user.get('last_name', '')}".strip() or f"id{user_id}"
    try:
        await client.call("groups.getBanned", group_id=community.vk_group_id, count=1)
    except VkError as exc:
        return _refused("admin_token", exc, client.token)
    params = {"name": name, "user_id": user_id}
    if community.admin_vk_user_id is not None and community.admin_vk_user_id != user_id:
        return Check(
            "admin_token",
            "warning",
            "VK accepts the admin token of %(name)s (id %(user_id)s), but the admin's VK id saved below is "
            "%(saved)s: set it to %(user_id)s so that deletions through the proxy are recognised.",
            {**params, "saved": community.admin_vk_user_id},
        )
    return Check(
        "admin_token",
        "ok",
        "VK accepts the admin token of %(name)s (id %(user_id)s), who manages this community.",
        params,
    )


async def check_connection(settings: Settings, community_id: int, *, by: Operator) -> list[Check]:
    """Run the checks of a community's tokens against VK (admins only); journaled, never a token in it."""
    await require_admin(by, action="community.test", target=f"community:{community_id}")
    community = await Community.get_or_none(id=community_id)
    if community is None:
        raise CommunityError("this community does not exist")
    checks = [*await _community_checks(settings, community), await _admin_check(settings, community)]
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
