"""What the queued calls of each kind of action are named, on every network (read-only, for readers of
the outbox's rows: the statistics, the archive, the inbox). The names are the connectors' own
(Connector.methods); this module only gathers them."""

from __future__ import annotations

from proxy.connectors.base import ActionKind
from proxy.connectors.registry import methods_of

REPLY_METHODS = methods_of(ActionKind.REPLY)
DELETE_METHODS = methods_of(ActionKind.DELETE_COMMENT)
RESTORE_METHODS = methods_of(ActionKind.RESTORE_COMMENT)
BAN_METHODS = methods_of(ActionKind.BAN)
UNBAN_METHODS = methods_of(ActionKind.UNBAN)
# Methods whose outcome changes the author card (the ban list), told apart so the page pushes that card too.
AUTHOR_METHODS = methods_of(ActionKind.BAN, ActionKind.UNBAN)
