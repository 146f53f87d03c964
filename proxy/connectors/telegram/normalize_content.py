"""What a Telegram message says: its text, its attachments and links, and where it was forwarded from.

Attachments are small dicts, one per medium, in this shape (only the keys Telegram sent are present):

- ``{"type": photo|video|document|sticker|animation|voice|video_note|audio, "file_id", "file_unique_id",
  "mime_type", "file_name", "width", "height", "duration", "file_size", "emoji" (stickers)}``; a photo
  is its largest size (the last of Telegram's list), an animation is not also a document (Telegram sends
  both for old clients);
- ``{"type": "contact", "user_id", "phone_number", "first_name", "last_name"}``,
  ``{"type": "location", "latitude", "longitude"}``, ``{"type": "venue", "title", "address", "latitude",
  "longitude"}``, ``{"type": "poll", "id", "question"}``, ``{"type": "dice", "emoji", "value"}``,
  ``{"type": "story", "chat_id", "id"}``;
- ``{"type": "link", "url"}`` for each distinct ``url`` and ``text_link`` entity of the text or
  caption, after the media; mentions, hashtags and formatting stay in the raw update;
- every attachment of an album (``media_group_id``) carries ``"album": <media_group_id>``: Telegram
  sends each of an album's media as a message of its own.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .normalize_fields import _dict, _int, _list, _str, _time

# How many links one message contributes; Telegram allows 100 entities in a message.
MAX_LINKS = 100

_FILE_KINDS = ("photo", "video", "animation", "document", "sticker", "voice", "video_note", "audio")
_FILE_FIELDS = {
    "file_id": str,
    "file_unique_id": str,
    "mime_type": str,
    "file_name": str,
    "width": int,
    "height": int,
    "duration": int,
    "file_size": int,
    "emoji": str,
}


def message_text(msg: Mapping[str, Any]) -> str:
    """The text, or the caption of a medium (a message has one or the other)."""
    return _str(msg.get("text")) or _str(msg.get("caption"))


def _pick(obj: Mapping[str, Any], fields: Mapping[str, type]) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for key, kind in fields.items():
        value = obj.get(key)
        if kind is int:
            number = _int(value)
            if number is not None:
                picked[key] = number
        elif isinstance(value, kind) and not isinstance(value, bool):
            picked[key] = value
    return picked


def _file(kind: str, value: object) -> dict[str, Any] | None:
    if kind == "photo":
        sizes = [size for size in _list(value) if isinstance(size, dict)]
        value = sizes[-1] if sizes else None
    if not isinstance(value, dict):
        return None
    return {"type": kind, **_pick(value, _FILE_FIELDS)}


def _place(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    location = _dict(obj.get("location")) if kind == "venue" else obj
    place: dict[str, Any] = {"type": kind}
    if kind == "venue":
        place.update(_pick(obj, {"title": str, "address": str}))
    for key in ("latitude", "longitude"):
        value = location.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            place[key] = value
    return place


def _other(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    contact = msg.get("contact")
    if isinstance(contact, dict):
        fields = {"user_id": int, "phone_number": str, "first_name": str, "last_name": str}
        found.append({"type": "contact", **_pick(contact, fields)})
    if isinstance(msg.get("venue"), dict):
        found.append(_place("venue", msg["venue"]))
    elif isinstance(msg.get("location"), dict):
        # A venue carries its location twice (venue.location and location); it is one place.
        found.append(_place("location", msg["location"]))
    poll = msg.get("poll")
    if isinstance(poll, dict):
        found.append({"type": "poll", **_pick(poll, {"id": str, "question": str})})
    dice = msg.get("dice")
    if isinstance(dice, dict):
        found.append({"type": "dice", **_pick(dice, {"emoji": str, "value": int})})
    story = msg.get("story")
    if isinstance(story, dict):
        entry: dict[str, Any] = {"type": "story"}
        chat_id = _int(_dict(story.get("chat")).get("id"))
        if chat_id is not None:
            entry["chat_id"] = chat_id
        entry.update(_pick(story, {"id": int}))
        found.append(entry)
    return found


def _utf16_slice(text: str, offset: int, length: int) -> str:
    # Entity offsets count UTF-16 code units (message_supergroup_text_mention-1.json: math-bold letters
    # are two units each), not Python characters.
    encoded = text.encode("utf-16-le", "surrogatepass")
    return encoded[2 * offset : 2 * (offset + length)].decode("utf-16-le", "replace")


def _links(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "text" in msg:
        text, entities = _str(msg.get("text")), _list(msg.get("entities"))
    else:
        text, entities = _str(msg.get("caption")), _list(msg.get("caption_entities"))
    urls: list[str] = []
    for entity in entities:
        if not isinstance(entity, dict) or len(urls) >= MAX_LINKS:
            continue
        url = ""
        if entity.get("type") == "text_link":
            url = _str(entity.get("url"))
        elif entity.get("type") == "url":
            offset, length = _int(entity.get("offset")), _int(entity.get("length"))
            if offset is not None and length is not None and 0 <= offset and 0 < length <= 2 * len(text):
                url = _utf16_slice(text, offset, length)
        # message_supergroup_forward_origin-1.json lists the same url entity twice.
        if url and url not in urls:
            urls.append(url)
    return [{"type": "link", "url": url} for url in urls]


def attachments(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The message's media, places, polls and links in the shape of this module's docstring."""
    found: list[dict[str, Any]] = []
    for kind in _FILE_KINDS:
        if kind == "document" and isinstance(msg.get("animation"), dict):
            continue
        entry = _file(kind, msg.get(kind))
        if entry is not None:
            found.append(entry)
    found += _other(msg)
    album = msg.get("media_group_id")
    if isinstance(album, str) and album:
        for entry in found:
            entry["album"] = album
    return found + _links(msg)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _forward_entry(from_id: int | None, date: object, sender_name: str | None) -> dict[str, Any]:
    # A forward's text and media are the message's own in Telegram (unlike VK, where fwd_messages
    # nest whole messages), so the entry records only where it came from.
    return {
        "kind": "forward",
        "from_id": from_id,
        "date": _iso(_time(date)),
        "text": "",
        "attachments": [],
        "peer_id": None,
        "conversation_message_id": None,
        "forwarded": [],
        "omitted": 0,
        "sender_name": sender_name,
    }


def forwarded(msg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Where a forwarded message came from, as the one entry of ``forwarded`` (proxy/events.py's shape
    plus ``sender_name``: the name shown for a sender who hides their account, else None).

    Bot API 7.0 replaced the ``forward_from*`` fields by ``forward_origin``; both occur
    (message_private_forward_from-1.json has only the old ones, message_supergroup_forward_origin-1.json
    both). ``forward_origin`` wins when present. A reply (``reply_to_message``) is not a forward: it is
    the item's ``reply_to``.
    """
    origin = msg.get("forward_origin")
    if isinstance(origin, dict):
        kind = origin.get("type")
        sender = {"user": "sender_user", "chat": "sender_chat", "channel": "chat"}.get(_str(kind))
        from_id = _int(_dict(origin.get(sender)).get("id")) if sender else None
        name = _str(origin.get("sender_user_name")) if kind == "hidden_user" else ""
        return [_forward_entry(from_id, origin.get("date"), name or None)]
    if "forward_date" not in msg:
        return []
    from_id = _int(_dict(msg.get("forward_from")).get("id"))
    if from_id is None:
        from_id = _int(_dict(msg.get("forward_from_chat")).get("id"))
    name = _str(msg.get("forward_sender_name"))
    return [_forward_entry(from_id, msg.get("forward_date"), name or None)]
