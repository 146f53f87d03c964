"""Whom an action is journaled and queued under (proxy/actions.py): an operator, or a moderation rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.models import ActorKind, Operator


@dataclass(frozen=True)
class Actor:
    """Whom an action is journaled and queued under: an operator, or a moderation rule (proxy/rules/),
    whose entries name the rule and what it matched in their params and credit no operator."""

    kind: ActorKind
    operator_id: int | None = None
    rule_id: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def of(operator: Operator) -> Actor:
        return Actor(ActorKind.OPERATOR, operator_id=operator.id)
