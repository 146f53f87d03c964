"""What every admin operation shares: the admin-only check, and the error bad input raises.

Admin operations (communities, accounts, API tokens) are journaled with the admin as the actor; a refusal
is journaled too ("access.denied", through proxy/access.py).
"""

from __future__ import annotations

from proxy.access import deny
from proxy.models import Operator, Role


class InputError(Exception):
    """Input that cannot be used; nothing was changed.

    `message` is English with ``%(name)s`` placeholders filled from `params`, so that a page can show it
    in the reader's language (the message is the translation catalog's key); `field` names the form
    field at fault, when there is one. ``str()`` gives the filled-in English text (the command line).
    """

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        if field is not None and "%(field)s" in message:  # the field named in the message is the one at fault
            params = {"field": field, **params}
        self.message = message
        self.field = field
        # A message may name its field ("%(field)s must be a whole number": proxy/rules/spec.py).
        self.params = {"field": field, **params} if "%(field)s" in message else params
        super().__init__(message % self.params if self.params else message)


async def require_admin(operator: Operator, *, action: str, target: str) -> None:
    """Raise AccessDenied (journaled "access.denied") unless the operator is an active admin."""
    if not (operator.is_active and operator.role == Role.ADMIN):
        await deny(
            operator, action=action, target=target, community_id=None, reason="only admins may do this"
        )
