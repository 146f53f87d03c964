"""Canned responses: team templates an operator inserts into a reply and edits before sending.

Everybody reads them; managers and admins write them. A template is team-wide (community None) or
belongs to one community.
"""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from proxy.access import ActionError, require_supervisor
from proxy.actions import MESSAGE_MAX_CHARS
from proxy.audit import journal
from proxy.models import ActorKind, CannedResponse, Community, Operator, Outcome

TITLE_MAX_CHARS = 128


async def list_canned(community_id: int | None) -> list[CannedResponse]:
    """The team-wide templates and those of the community, by title."""
    query = CannedResponse.filter(community_id__isnull=True)
    if community_id is not None:
        query = CannedResponse.filter(Q(community_id__isnull=True) | Q(community_id=community_id))
    return await query.order_by("title", "id")


async def canned_for_admin(scope: int | str | None = None) -> list[CannedResponse]:
    """Every template for the admin page, team-wide first: all (None), team-wide only ("team"), or one
    community's own (its id)."""
    query = CannedResponse.all()
    if scope == "team":
        query = query.filter(community_id__isnull=True)
    elif isinstance(scope, int):
        query = query.filter(community_id=scope)
    rows = await query.prefetch_related("community").order_by("title", "id")
    # Team-wide first, then by community name; title order within each group (sorts are stable).
    return sorted(rows, key=lambda c: (c.community is not None, c.community.name if c.community else ""))


async def save_canned(
    operator: Operator, *, id: int | None = None, title: str, text: str, community_id: int | None = None
) -> CannedResponse:
    """Create a template (id None) or change one; managers and admins only."""
    await require_supervisor(operator, action="canned.save", target=f"canned:{id}" if id else "canned:new")
    title, text = (title or "").strip(), (text or "").strip()
    if not title:
        raise ActionError("a template needs a title")
    if len(title) > TITLE_MAX_CHARS:
        raise ActionError(f"the title is too long: at most {TITLE_MAX_CHARS} characters")
    if not text:
        raise ActionError("the template is empty")
    # A template must fit in any reply, and messages are VK's shortest limit.
    if len(text) > MESSAGE_MAX_CHARS:
        raise ActionError(f"the template is too long: at most {MESSAGE_MAX_CHARS} characters")
    if community_id is not None and not await Community.filter(id=community_id).exists():
        raise ActionError("this community does not exist", 404)
    async with in_transaction() as conn:
        if id is None:
            canned = await CannedResponse.create(
                title=title, text=text, community_id=community_id, using_db=conn
            )
        else:
            found = await CannedResponse.filter(id=id).select_for_update().using_db(conn).first()
            if found is None:
                raise ActionError("this template does not exist", 404)
            canned = found
            canned.title, canned.text, canned.community_id = title, text, community_id
            await canned.save(using_db=conn)
        await journal.record(
            "canned.save",
            actor_kind=ActorKind.OPERATOR,
            operator_id=operator.id,
            community_id=community_id,
            text=text,
            params={"canned_id": canned.id, "title": title, "created": id is None},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return canned


async def delete_canned(operator: Operator, id: int) -> None:
    """Remove a template; managers and admins only (the journal keeps its last text)."""
    await require_supervisor(operator, action="canned.delete", target=f"canned:{id}")
    async with in_transaction() as conn:
        canned = await CannedResponse.filter(id=id).select_for_update().using_db(conn).first()
        if canned is None:
            raise ActionError("this template does not exist", 404)
        await journal.record(
            "canned.delete",
            actor_kind=ActorKind.OPERATOR,
            operator_id=operator.id,
            community_id=canned.community_id,
            text=canned.text,
            params={"canned_id": canned.id, "title": canned.title},
            outcome=Outcome.DONE,
            connection=conn,
        )
        await canned.delete(using_db=conn)
