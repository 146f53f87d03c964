"""The fields every VK event carries (type, group_id, event_id, version); a non-event raises MalformedEvent."""

from typing import Any

from proxy.connectors.base import MalformedEvent

from .normalize_fields import _int


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    vk_type = event.get("type")
    if not isinstance(vk_type, str) or not vk_type:
        raise MalformedEvent("event has no string 'type'")
    if vk_type == "confirmation":
        raise MalformedEvent("confirmation requests are answered by the endpoint, not normalized")
    group_id = _int(event.get("group_id"))
    if group_id is None or group_id <= 0:
        raise MalformedEvent("event has no positive integer 'group_id'")
    raw_event_id = event.get("event_id")
    # VK's schema and every capture have a 40-hex string; the Callback docs example
    # (group_join-1.json) shows a number. Both are accepted, always as a string.
    if isinstance(raw_event_id, str) and raw_event_id:
        event_id = raw_event_id
    elif _int(raw_event_id) is not None:
        event_id = str(raw_event_id)
    else:
        raise MalformedEvent("event has no 'event_id'")
    version = event.get("v")
    if isinstance(version, str):
        api_version: str | None = version
    elif isinstance(version, int | float) and not isinstance(version, bool):
        api_version = str(version)
    else:
        api_version = None
    # The Callback secret must not end up in stored raw events.
    raw = {key: value for key, value in event.items() if key != "secret"}
    return {
        "group_id": group_id,
        "event_id": event_id,
        "vk_type": vk_type,
        "api_version": api_version,
        "raw": raw,
    }
