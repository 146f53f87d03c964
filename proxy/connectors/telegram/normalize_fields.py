"""Small, total readers of Telegram's fields, shared by the normalizer's modules (see normalize.py)."""

import re
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


# A business chat's items and conversation are keyed by its connection id (ItemRef.key
# "business:{id}:{chat}:{message}", 128 characters with two int64 ids of up to 20 characters each: 77 are
# left for the id). Telegram's ids are a few dozen visible ASCII characters; a longer one, or one with NUL
# or a lone surrogate, could not be stored, and the update would be refused at every delivery.
_CONNECTION = re.compile(r"[!-~]{1,77}")


def _connection(obj: Mapping[str, Any]) -> str:
    """A business message's ``business_connection_id``; _Skip when it is missing or no row can hold it."""
    connection = _str(obj.get("business_connection_id"))
    if not connection:
        raise _Skip("business message without business_connection_id")
    if not _CONNECTION.fullmatch(connection):
        raise _Skip("business_connection_id is not one Telegram gives (at most 77 visible ASCII characters)")
    return connection
