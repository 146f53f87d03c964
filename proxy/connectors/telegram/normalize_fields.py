"""Small, total readers of Telegram's fields, shared by the normalizer's modules (see normalize.py)."""

from collections.abc import Mapping
from typing import Any

from proxy.connectors.json_fields import (  # noqa: F401 (the readers every Telegram module takes from here)
    _dict,
    _Handler,
    _int,
    _list,
    _required,
    _Skip,
    _str,
    _time,
)

# Telegram's service accounts, which appear as `from` but never write anything themselves:
# GroupAnonymousBot stands for an anonymous group admin, 777000 ("Telegram") for a channel's post
# forwarded automatically into its discussion group. The real sender is then `sender_chat`.
ANONYMOUS_ADMIN_BOT_ID = 1087968824
SERVICE_USER_ID = 777000
PLACEHOLDER_SENDERS = frozenset({ANONYMOUS_ADMIN_BOT_ID, SERVICE_USER_ID})


def _id_of(obj: Mapping[str, Any], key: str) -> int | None:
    """The integer id of the nested object ``obj[key]`` (a User or Chat), else None."""
    return _int(_dict(obj.get(key)).get("id"))
