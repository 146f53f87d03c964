"""Who is credited with a reply, a deletion or a ban, in SQL: the one place the statistics spell it.

The operator who did it through the proxy (the row's operator column); else, for what was done directly
in VK, the operator whose linked VK account (`operator.vk_user_id`) did it; else nobody, which the figures
show as "outside the proxy" (docs/metrics.md, "Attribution"). The KPIs (`operators.py`), the rows behind a
figure (`drill.py`) and an operator's own chart (`timeseries.py`) all credit through here, so a figure and
the list behind it always name the same person.

What a moderation rule did (`by_rule` set) is left out of every operator's figures and of "outside the
proxy" (`by_person`). Restorations and closings name their operator directly (`restored_by_id`, `conversation_close.operator_id`)
and need no rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.db.sql import SqlQuery


@dataclass(frozen=True)
class Credit:
    """How one kind of row names who did it: `by_operator`, the proxy's operator column, and `by_vk_user`,
    the VK account that did it in VK (both qualified by the row's alias in the query)."""

    by_operator: str
    by_vk_user: str
    by_rule: str

    def by_person(self) -> str:
        """A condition: a person did it, not a moderation rule. What a rule did is nobody's KPI and not
        "outside the proxy" either; the rules page counts it (docs/metrics.md, "Moderation rules")."""
        return f"{self.by_rule} IS NULL"

    def join(self, alias: str = "o") -> str:
        """The LEFT JOIN that finds the linked operator, only for rows no operator of the proxy did."""
        return f"LEFT JOIN operator {alias} ON {self.by_operator} IS NULL AND {alias}.vk_user_id = {self.by_vk_user}"

    def operator(self, alias: str = "o") -> str:
        """The credited operator's id (NULL: outside the proxy); needs `join(alias)` in the FROM clause."""
        return f"COALESCE({self.by_operator}, {alias}.id)"

    def credited_to(self, q: SqlQuery, operator_id: int, vk_user_id: int | None) -> str:
        """A condition, without the join: the row is credited to this operator (whose linked VK account
        is `vk_user_id`, None when they have none)."""
        mine = f"{self.by_operator} = {q.p(operator_id)}"
        if vk_user_id is None:
            return mine
        return f"({mine} OR ({self.by_operator} IS NULL AND {self.by_vk_user} = {q.p(vk_user_id)}))"


# An outgoing item (`item AS i`): sent through the proxy, or written in VK by an admin.
REPLY = Credit("i.sent_by_id", "i.admin_author_vk_id", "i.sent_by_rule_id")
# A deletion (`item_tombstone AS t`): through the proxy, or by an admin in VK.
DELETION = Credit("t.deleted_by_id", "t.deleter_vk_id", "t.deleted_by_rule_id")
# A ban (`ban AS b`): through the proxy, or by an admin in VK.
BAN = Credit("b.banned_by_id", "b.admin_vk_id", "b.banned_by_rule_id")
