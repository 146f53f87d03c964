"""Who may act on which community, and the errors operator actions raise.

Admins and managers reach every community; an operator reaches the communities they are assigned to
(Operator.communities). A refusal writes nothing at once: it is counted in memory and journaled as
"access.denied" once per operator, community, attempted action, reason and minute, with the count
(proxy/refusals.py), so reloading a forbidden page a hundred times adds one journal entry, not a hundred.
"""

from __future__ import annotations

from proxy import refusals
from proxy.models import Community, Operator, Role

# Roles that see and act on every community, and edit team-wide things (canned responses).
SUPERVISOR_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


class ActionError(Exception):
    """An operator action that cannot be done: `message` in plain words, `status` as HTTP would say it."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class AccessDenied(ActionError):
    """The operator may not do this (role or community access)."""

    status = 403


async def can_access(operator: Operator, community_id: int) -> bool:
    """Whether the operator may see and act on the community."""
    if not operator.is_active:
        return False
    if operator.role in SUPERVISOR_ROLES:
        return True
    return await Community.filter(id=community_id, operators__id=operator.id).exists()


async def deny(
    operator: Operator, *, action: str, target: str, community_id: int | None, reason: str
) -> None:
    """Count the refusal (journaled with the others of its minute) and raise AccessDenied."""
    refusals.operator_refused(
        operator.id, community_id=community_id, attempted=action, target=target, reason=reason
    )
    raise AccessDenied(reason)


async def require_access(operator: Operator, community_id: int, *, action: str, target: str) -> None:
    """Raise AccessDenied (and journal "access.denied") unless the operator may act on the community.

    `action` is the journal name of what was attempted ("reply.send"), `target` what it was aimed at
    ("conversation:12").
    """
    if not await can_access(operator, community_id):
        await deny(
            operator,
            action=action,
            target=target,
            community_id=community_id,
            reason="you have no access to this community",
        )


async def require_supervisor(operator: Operator, *, action: str, target: str) -> None:
    """Raise AccessDenied (journaled) unless the operator is an active manager or admin."""
    if not (operator.is_active and operator.role in SUPERVISOR_ROLES):
        await deny(
            operator,
            action=action,
            target=target,
            community_id=None,
            reason="only managers and admins may do this",
        )
