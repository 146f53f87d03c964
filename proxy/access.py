"""Who may see and act on what, and the errors operator actions raise: the one place this rule lives.

Admins and managers reach every community and every operator's rows; an operator reaches the
communities they are assigned to (Operator.communities) and, in the journal and the statistics, only
their own rows. `scope_of(operator)` spells this out once per request as a `Scope`; every query that
filters by community (inbox, live stream, statistics, audit pages) takes the scope or the community ids
it gives, instead of deciding again. A refusal writes nothing at once: it is counted in memory and journaled as
"access.denied" once per operator, community, attempted action, reason and minute, with the count
(proxy/refusals.py), so reloading a forbidden page a hundred times adds one journal entry, not a hundred.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from proxy import refusals
from proxy.models import Community, Operator, Role

# Roles that see and act on every community, and edit team-wide things (canned responses).
SUPERVISOR_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class Scope:
    """What one operator may see: computed once per request by scope_of()."""

    operator_id: int
    role: Role
    # The communities they may see; None: every community.
    community_ids: frozenset[int] | None
    # Only their own rows of the journal and their own figures (operators); managers and admins see all.
    own_rows_only: bool

    @property
    def supervisor(self) -> bool:
        """Sees every community and everyone's rows, and edits team-wide things."""
        return not self.own_rows_only

    @property
    def admin(self) -> bool:
        """Also manages accounts, communities and tokens (proxy/admin_access.py)."""
        return self.supervisor and self.role == Role.ADMIN

    def sees_rows_of(self, operator_id: int | None) -> bool:
        """Whether a row of the journal or the statistics credited to `operator_id` is shown (None:
        nobody's, such as the "outside the proxy" figures)."""
        return not self.own_rows_only or operator_id == self.operator_id

    def sees(self, community_id: int) -> bool:
        return self.community_ids is None or community_id in self.community_ids

    def communities(self, asked: int | None = None) -> list[int] | None:
        """The community ids a query is to be limited to: `asked` alone, or every one the scope holds
        (None: no limit). Check `sees(asked)` first; an unseen `asked` gives an empty list."""
        if asked is not None:
            return [asked] if self.sees(asked) else []
        return None if self.community_ids is None else sorted(self.community_ids)


async def scope_of(operator: Operator) -> Scope:
    """The operator's scope; a disabled account sees nothing."""
    supervisor = operator.is_active and operator.role in SUPERVISOR_ROLES
    if supervisor:
        community_ids = None
    elif operator.is_active:
        community_ids = frozenset(
            await Community.filter(operators__id=operator.id).values_list("id", flat=True)
        )
    else:
        community_ids = frozenset()
    return Scope(operator.id, operator.role, community_ids, own_rows_only=not supervisor)


def may_work(community_id: int) -> Q:
    """The operators (as a query condition) whose scope holds the community."""
    return Q(role__in=list(SUPERVISOR_ROLES)) | Q(communities__id=community_id)


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


# The one answer for a community, conversation, item or outbox row that is not yours and for one that does
# not exist: telling them apart would tell which ids exist in communities the operator does not serve.
NOT_FOUND = "Not found."


class NotFound(AccessDenied):
    """Not in the operator's scope, or not there at all: the client cannot tell which (404 "Not found.").
    A refusal of something that exists is still counted and journaled (deny(..., hide=True))."""

    status = 404

    def __init__(self) -> None:
        super().__init__(NOT_FOUND)


async def can_access(operator: Operator, community_id: int) -> bool:
    """Whether the operator may see and act on the community."""
    return (await scope_of(operator)).sees(community_id)


async def deny(
    operator: Operator, *, action: str, target: str, community_id: int | None, reason: str, hide: bool = False
) -> None:
    """Count the refusal (journaled with the others of its minute, with its `reason`) and raise
    AccessDenied; `hide`: raise NotFound instead, for a community or a row outside the scope."""
    refusals.operator_refused(
        operator.id, community_id=community_id, attempted=action, target=target, reason=reason
    )
    raise NotFound() if hide else AccessDenied(reason)


async def require_community(scope: Scope, operator: Operator, community_id: int | None, *, action: str) -> None:
    """Raise NotFound (counted, journaled with its minute) when a community asked for in a query is
    outside the scope or does not exist; None (no community asked) passes."""
    if community_id is None:
        return
    exists = await Community.exists(id=community_id)
    if not scope.sees(community_id):
        await deny(
            operator,
            action=action,
            target=f"community:{community_id}",
            # The journal's community must exist; the target still names the id probed.
            community_id=community_id if exists else None,
            reason="you have no access to this community",
            hide=True,
        )
    if not exists:
        raise NotFound()


async def _outside_scope(operator: Operator, community_id: int, *, action: str, target: str) -> None:
    """A community or row outside the scope: counted and journaled, answered as not found."""
    await deny(
        operator,
        action=action,
        target=target,
        community_id=community_id,
        reason="you have no access to this community",
        hide=True,
    )


async def require_access(operator: Operator, community_id: int, *, action: str, target: str) -> None:
    """Raise NotFound (and journal "access.denied") unless the operator may act on the community.

    `action` is the journal name of what was attempted ("reply.send"), `target` what it was aimed at
    ("conversation:12").
    """
    if not await can_access(operator, community_id):
        await _outside_scope(operator, community_id, action=action, target=target)


async def require_row(scope: Scope, operator: Operator, community_id: int | None, *, action: str, target: str) -> None:
    """Raise NotFound unless the row (`community_id` of a conversation, item or outbox row; None: there is
    no such row) is in the scope; a row outside it is a refusal, counted and journaled."""
    if community_id is None:
        raise NotFound()
    if not scope.sees(community_id):
        await _outside_scope(operator, community_id, action=action, target=target)


async def require_supervisor(operator: Operator, *, action: str, target: str) -> None:
    """Raise AccessDenied (journaled) unless the operator is an active manager or admin."""
    if not (await scope_of(operator)).supervisor:
        await deny(
            operator,
            action=action,
            target=target,
            community_id=None,
            reason="only managers and admins may do this",
        )
