"""Who is credited with a reply, a deletion or a ban, in SQL: the one place the statistics spell it.

The operator who did it through the proxy (the row's operator column); else, for what was done directly
on the network, the operator whose linked account on the community's network did it (`operator.vk_user_id`
in a VK community, `operator.telegram_user_id` in a bot's chats: models.OPERATOR_ACCOUNT_COLUMN); else
nobody, which the figures show as "outside the proxy" (docs/metrics.md, "Attribution"). The KPIs (`operators.py`), the rows behind a
figure (`drill.py`) and an operator's own chart (`timeseries.py`) all credit through here, so a figure and
the list behind it always name the same person.

What a moderation rule did (`by_rule` set) is left out of every operator's figures and of "outside the
proxy" (`by_person`). Restorations and closings name their operator directly (`restored_by_id`, `conversation_close.operator_id`)
and need no rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.db.sql import SqlQuery
from proxy.models import OPERATOR_ACCOUNT_COLUMN, Operator


def _on_network(community: str, network: str) -> str:
    # A literal, not a parameter: the networks are this module's constants, and `join` takes no query.
    return f"{community} IN (SELECT id FROM community WHERE network = '{network}')"


@dataclass(frozen=True)
class Credit:
    """How one kind of row names who did it: `by_operator`, the proxy's operator column, and `by_vk_user`,
    the network's account that did it on the network, in the row's community `community` (all qualified
    by the row's alias in the query)."""

    by_operator: str
    by_vk_user: str
    by_rule: str
    community: str

    def by_person(self) -> str:
        """A condition: a person did it, not a moderation rule. What a rule did is nobody's KPI and not
        "outside the proxy" either; the rules page counts it (docs/metrics.md, "Moderation rules")."""
        return f"{self.by_rule} IS NULL"

    def join(self, alias: str = "o") -> str:
        """The LEFT JOINs that find the linked operator, only for rows no operator of the proxy did: one
        per network (`{alias}_vk`, `{alias}_telegram`), each an equality on that network's account
        column, which the database can hash, rather than one join on either column."""
        return "\n".join(
            f"LEFT JOIN operator {alias}_{network} ON {self.by_operator} IS NULL"
            f" AND {alias}_{network}.{column} = {self.by_vk_user} AND {_on_network(self.community, network)}"
            for network, column in OPERATOR_ACCOUNT_COLUMN.items()
        )

    def operator(self, alias: str = "o") -> str:
        """The credited operator's id (NULL: outside the proxy); needs `join(alias)` in the FROM clause."""
        linked = ", ".join(f"{alias}_{network}.id" for network in OPERATOR_ACCOUNT_COLUMN)
        return f"COALESCE({self.by_operator}, {linked})"

    def credited_to(self, q: SqlQuery, operator: Operator) -> str:
        """A condition, without the join: the row is credited to this operator (through the proxy, or by
        their linked account on the row's community's network)."""
        mine = [f"{self.by_operator} = {q.p(operator.id)}"]
        for network, column in OPERATOR_ACCOUNT_COLUMN.items():
            account = getattr(operator, column)
            if account is not None:
                mine.append(
                    f"({self.by_operator} IS NULL AND {self.by_vk_user} = {q.p(account)}"
                    f" AND {_on_network(self.community, network)})"
                )
        return f"({' OR '.join(mine)})"


# An outgoing item (`item AS i`): sent through the proxy, or written on the network by an admin.
REPLY = Credit("i.sent_by_id", "i.admin_author_vk_id", "i.sent_by_rule_id", "i.community_id")
# A deletion (`item_tombstone AS t` of `item AS i`): through the proxy, or by an admin on the network.
DELETION = Credit("t.deleted_by_id", "t.deleter_vk_id", "t.deleted_by_rule_id", "i.community_id")
# A ban (`ban AS b`): through the proxy, or by an admin on the network.
BAN = Credit("b.banned_by_id", "b.admin_vk_id", "b.banned_by_rule_id", "b.community_id")
