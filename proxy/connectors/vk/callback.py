"""Pure helpers for the VK Callback API endpoint: body parsing and secret checking.

The HTTP route uses these before anything touches the database: reject oversized or malformed
bodies (:class:`BadCallback`), answer ``confirmation`` requests, compare the shared secret in
constant time, then hand the parsed event to :func:`proxy.connectors.vk.normalize.normalize`.
"""

import hmac
import json
from typing import Any

from proxy.connectors.base import MAX_CALLBACK_BYTES

__all__ = [
    "MAX_CALLBACK_BYTES",
    "BadCallback",
    "is_confirmation",
    "parse_callback_body",
    "secret_matches",
]

_INT64_MAX = 2**63 - 1


class BadCallback(ValueError):
    """The request body is not a usable Callback API event. ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def parse_callback_body(body: bytes, max_bytes: int = MAX_CALLBACK_BYTES) -> dict[str, Any]:
    """Parse and validate the envelope of a Callback API POST body.

    Returns the decoded JSON object unchanged (``event_id`` keeps its JSON type; the normalizer
    turns it into a string). Raises :class:`BadCallback` when the body is larger than
    `max_bytes`, is not UTF-8 JSON, is not an object, lacks a non-empty string
    ``type`` or a positive integer ``group_id``, or lacks ``event_id`` (string or integer) on
    anything but a ``confirmation`` request. The ``secret`` is not checked here.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise BadCallback("body is not bytes")
    if len(body) > max_bytes:
        raise BadCallback(f"body larger than {max_bytes} bytes")
    try:
        text = bytes(body).decode("utf-8")
        payload = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        # Deeply nested arrays exhaust the C stack guard long before the size limit.
        raise BadCallback("body nests too deeply") from None
    except ValueError as exc:
        # Covers UnicodeDecodeError, JSONDecodeError and over-long integer literals.
        raise BadCallback(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(payload, dict):
        raise BadCallback("body is not a JSON object")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise BadCallback("missing or invalid 'type'")
    group_id = payload.get("group_id")
    if isinstance(group_id, bool) or not isinstance(group_id, int) or not 0 < group_id <= _INT64_MAX:
        raise BadCallback("missing or invalid 'group_id'")
    if event_type != "confirmation":
        event_id = payload.get("event_id")
        # A 40-hex string in VK's schema and every capture; a number in the docs' example
        # (group_join-1.json).
        valid = (isinstance(event_id, str) and event_id != "") or (
            isinstance(event_id, int) and not isinstance(event_id, bool) and abs(event_id) <= _INT64_MAX
        )
        if not valid:
            raise BadCallback("missing or invalid 'event_id'")
    return payload


def is_confirmation(payload: object) -> bool:
    """True when ``payload`` is VK's request for the community's confirmation string."""
    return isinstance(payload, dict) and payload.get("type") == "confirmation"


def secret_matches(expected: str | None, given: object) -> bool:
    """Compare the community's configured secret with the ``secret`` field VK sent.

    With no secret configured (``None`` or empty) every request matches: VK only sends a secret
    when one is set in the community, so there is nothing to check against. Otherwise ``given``
    must be a string equal to ``expected``; the comparison takes constant time.
    """
    if not expected:
        return True
    if not isinstance(given, str):
        return False
    # JSON may decode to lone surrogates, which plain UTF-8 encoding rejects.
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )
