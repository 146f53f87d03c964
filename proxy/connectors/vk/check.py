"""The admin page's "test connection" on VK: whether a community's tokens work, in words an admin can act on.

Three checks, each a real VK call:

- community token: ``groups.getById`` answers the token's own community, which must be this one;
- Bots Long Poll (long-poll mode only): ``groups.getLongPollServer`` works only when it is enabled;
- admin user token: ``users.get`` names the token's user, and ``groups.getBanned`` of the community works
  only for a user who manages it (the right that deleting comments and banning need).

A token the core did not give (missing, or not decryptable) is not checked here: the core says so.
"""

from __future__ import annotations

from typing import Any

from proxy.connectors.base import Check, CommunityAccount

from .client import VkApiError, VkClient, VkError

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


def _refused(name: str, exc: VkError, secret: str) -> Check:
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


def _first_group(answer: Any) -> dict[str, Any] | None:
    # Since API 5.194 groups.getById answers {"groups": [...]}; earlier versions a bare list.
    groups = answer.get("groups") if isinstance(answer, dict) else answer
    return groups[0] if isinstance(groups, list) and groups and isinstance(groups[0], dict) else None


async def community_checks(client: VkClient, account: CommunityAccount) -> list[Check]:
    """The community token's check, and Bots Long Poll's in long-poll mode."""
    try:
        group = _first_group(await client.call("groups.getById"))
    except VkError as exc:
        return [_refused("community_token", exc, client.token)]
    if group is None:
        return [Check("community_token", "failed", "VK did not say which community this token belongs to.")]
    if group.get("id") != account.group_id:
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
    if account.long_poll:
        try:
            await client.call("groups.getLongPollServer", group_id=account.group_id)
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


async def admin_check(client: VkClient, account: CommunityAccount) -> Check:
    """The admin user token's check: whose it is, and whether they manage the community."""
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
        await client.call("groups.getBanned", group_id=account.group_id, count=1)
    except VkError as exc:
        return _refused("admin_token", exc, client.token)
    params = {"name": name, "user_id": user_id}
    if account.admin_user_id is not None and account.admin_user_id != user_id:
        return Check(
            "admin_token",
            "warning",
            "VK accepts the admin token of %(name)s (id %(user_id)s), but the admin's VK id saved below is "
            "%(saved)s: set it to %(user_id)s so that deletions through the proxy are recognised.",
            {**params, "saved": account.admin_user_id},
        )
    return Check(
        "admin_token",
        "ok",
        "VK accepts the admin token of %(name)s (id %(user_id)s), who manages this community.",
        params,
    )
