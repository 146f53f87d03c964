"""Telegram updates -> domain events: every sample in tests/fixtures/telegram, key fields per row, and totality."""

import copy
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.connectors.base import MalformedEvent
from proxy.connectors.telegram.normalize import HANDLED_KINDS, INTERNAL_ERROR_PREFIX, normalize, normalize_all
from proxy.events import (
    AuthorBlocked,
    AuthorRestricted,
    AuthorUnblocked,
    Channel,
    Direction,
    DomainEvent,
    ItemCreated,
    MemberChanged,
    Unsupported,
)
from tests.fixtures import TELEGRAM_SAMPLES as SAMPLES_DIR
from tests.telegram_normalize_table import (
    BOT,
    EVENT_COUNTS,
    EXPECTED,
    FOLLOWS_REPLY,
    RESPONSES,
    SHOP_CHAT,
    forward,
    load_sample,
    load_update,
)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_samples_dir_is_complete() -> None:
    files = {path.name for path in SAMPLES_DIR.glob("*.json")}
    assert files == set(EXPECTED) | RESPONSES
    assert not set(EXPECTED) & RESPONSES


def test_sources_lists_every_sample() -> None:
    sources = (SAMPLES_DIR / "SOURCES.md").read_text(encoding="utf-8")
    listed = {
        line.split("|")[1].strip()
        for line in sources.splitlines()
        if line.startswith("| ") and ".json" in line
    }
    assert listed == set(EXPECTED) | RESPONSES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_normalizes_to_its_row(name: str) -> None:
    update = load_update(name)
    cls, fields, item_key, thread_key = EXPECTED[name]
    events = normalize_all(BOT, copy.deepcopy(update))
    assert len(events) == EVENT_COUNTS.get(name, 1)
    event = events[0]
    assert type(event) is cls, getattr(event, "reason", None)
    for field_name, value in fields.items():
        assert getattr(event, field_name) == value, field_name
    assert event.group_id == BOT
    assert event.vk_type == next(key for key in update if key != "update_id")
    assert event.api_version is None
    assert event.raw == update
    if name not in EVENT_COUNTS:
        assert event.event_id == f"tg:{update['update_id']}"
        assert normalize(BOT, copy.deepcopy(update)) == event
    ref, thread = getattr(event, "ref", None), getattr(event, "thread", None)
    assert (ref.key if ref else None) == item_key
    assert (thread.key if thread else None) == thread_key
    assert (thread.follows_reply if thread else False) == (name in FOLLOWS_REPLY)


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_responses_are_not_updates(name: str) -> None:
    with pytest.raises(MalformedEvent):
        normalize_all(BOT, load_sample(name))


def test_updates_inside_get_updates_normalize() -> None:
    updates = load_sample("getUpdates-ok-1.json")["result"]
    events = [normalize(BOT, update) for update in updates]
    assert [type(event) for event in events] == [ItemCreated] * 6
    photo = events[2]
    assert photo.attachments == [
        {
            "type": "photo",
            "file_id": "FILEID",
            "file_unique_id": "FILEID",
            "width": 720,
            "height": 1280,
            "file_size": 114661,
        }
    ]
    assert events[3].attachments[0]["type"] == "voice" and events[3].attachments[0]["duration"] == 1


# --- the rules, one at a time -----------------------------------------------------------------------


def group_update(**message: Any) -> dict[str, Any]:
    base = {
        "message_id": 5,
        "from": {"id": 42, "is_bot": False, "first_name": "A"},
        "chat": {"id": -100500, "title": "G", "type": "supergroup"},
        "date": 1700000000,
        "text": "hi",
    }
    return {"update_id": 10, "message": {**base, **message}}


def test_group_channels_and_keys() -> None:
    event = normalize(BOT, group_update())
    assert event.ref.channel is Channel.GROUP and event.ref.owner_id == -100500
    assert event.thread.root_id == 5 and not event.thread.follows_reply


def test_a_channel_writing_in_a_group_is_an_incoming_author() -> None:
    channel = {"id": -100777, "title": "C", "type": "channel"}
    event = normalize(BOT, group_update(sender_chat=channel, **{"from": {"id": 1087968824, "is_bot": True}}))
    assert event.author_id == -100777
    assert event.direction is Direction.IN and not event.from_community


def test_placeholder_senders_are_never_authors() -> None:
    for placeholder in (1087968824, 777000):
        event = normalize(BOT, group_update(**{"from": {"id": placeholder, "is_bot": True}}))
        assert isinstance(event, ItemCreated) and event.author_id is None


def test_reply_to_a_comment_follows_the_replied_message() -> None:
    replied = {"message_id": 3, "from": {"id": 43}, "chat": {"id": -100500, "type": "supergroup"}, "date": 1}
    event = normalize(BOT, group_update(reply_to_message=replied, message_thread_id=2))
    assert event.thread.key == "group:-100500_0:3" and event.thread.follows_reply
    assert event.reply_to.key == "group:-100500_0:3" and event.reply_to_user == 43


def test_topic_message_answering_another_keeps_the_topic_and_the_reply() -> None:
    replied = {"message_id": 7, "from": {"id": 43}, "message_thread_id": 4, "is_topic_message": True}
    event = normalize(BOT, group_update(reply_to_message=replied, message_thread_id=4, is_topic_message=True))
    assert event.thread.key == "group:-100500_4" and event.reply_to.key == "group:-100500_0:7"


def test_edited_automatic_forward_and_channel_chats_are_unsupported() -> None:
    update = load_update("discussion_automatic_forward-1.json")
    edited = {"update_id": 11, "edited_message": {**update["message"], "edit_date": 1733300999}}
    assert normalize(BOT, edited).reason == "edit of a channel post's automatic forward"
    in_channel = group_update(chat={"id": -100600, "type": "channel"})
    assert normalize(BOT, in_channel).reason == "message in a chat of type 'channel'"


def chat_member(old: dict[str, Any], new: dict[str, Any], from_id: int = 9) -> dict[str, Any]:
    user = {"id": 55, "is_bot": False, "first_name": "U"}
    return {
        "update_id": 12,
        "chat_member": {
            "chat": {"id": -100500, "type": "supergroup"},
            "from": {"id": from_id, "is_bot": False},
            "date": 1700000000,
            "old_chat_member": {"user": user, **old},
            "new_chat_member": {"user": user, **new},
        },
    }


def test_member_transitions() -> None:
    forever = normalize(
        BOT, chat_member({"status": "member"}, {"status": "kicked", "until_date": 0}, 1087968824)
    )
    assert isinstance(forever, AuthorBlocked) and forever.unblock_date is None and forever.admin_id is None
    unbanned = normalize(BOT, chat_member({"status": "kicked", "until_date": 0}, {"status": "left"}))
    assert isinstance(unbanned, AuthorUnblocked) and unbanned.admin_id == 9 and not unbanned.by_end_date
    muted = {"status": "restricted", "can_send_messages": False, "until_date": 0}
    lifted = normalize(BOT, chat_member(muted, {"status": "member"}))
    assert isinstance(lifted, AuthorRestricted) and lifted.lifted and lifted.admin_id == 9
    may_send = normalize(BOT, chat_member(muted, {"status": "restricted", "can_send_messages": True}))
    assert isinstance(may_send, AuthorRestricted) and may_send.lifted
    endless = normalize(BOT, chat_member({"status": "member"}, muted))
    assert isinstance(endless, AuthorRestricted) and endless.until is None and not endless.lifted
    media_only = normalize(
        BOT, chat_member({"status": "member"}, {"status": "restricted", "can_send_messages": True})
    )
    assert isinstance(media_only, MemberChanged) and media_only.new_status == "restricted"
    left = normalize(BOT, chat_member(muted, {"status": "left"}, from_id=55))
    assert isinstance(left, MemberChanged) and left.actor_id is None


def test_business_deletion_is_one_event_per_message() -> None:
    update = load_update("deleted_business_messages-2.json")
    events = normalize_all(BOT, update)
    assert [event.ref.item_id for event in events] == [40, 41]
    assert [event.event_id for event in events] == ["tg:700000108:40", "tg:700000108:41"]
    assert all(event.raw == update and event.thread.key == SHOP_CHAT for event in events)
    single = normalize(BOT, update)
    assert isinstance(single, Unsupported) and single.event_id == "tg:700000108"
    assert single.reason == "2 events in one update: normalize_all reads them"
    update["deleted_business_messages"]["message_ids"] = [41]
    assert normalize(BOT, update).ref.item_id == 41
    update["deleted_business_messages"]["message_ids"] = ["41", None]
    assert normalize(BOT, update).reason == "deleted_business_messages lists no integer message id"
    del update["deleted_business_messages"]["business_connection_id"]
    assert normalize(BOT, update).reason == "business message without business_connection_id"


def test_business_reply_keeps_the_connection() -> None:
    event = normalize(BOT, load_update("edited_business_message-2.json"))
    assert event.ref.connection == event.thread.connection == "AbCdEfGh-business-1"
    created = load_update("edited_business_message-2.json")
    created["business_message"] = created.pop("edited_business_message")
    reply = normalize(BOT, created)
    assert reply.reply_to.key == f"{SHOP_CHAT}:40" and reply.reply_to_user == 5000000005
    assert reply.direction is Direction.OUT


def test_hidden_sender_forwards_keep_the_shown_name() -> None:
    origin = {"type": "hidden_user", "sender_user_name": "Someone", "date": 1700000000}
    assert normalize(BOT, group_update(forward_origin=origin)).forwarded == forward(
        None, "2023-11-14T22:13:20+00:00", "Someone"
    )
    legacy = group_update(forward_sender_name="Old Name", forward_date=1700000000)
    assert normalize(BOT, legacy).forwarded == forward(None, "2023-11-14T22:13:20+00:00", "Old Name")


def test_links_count_utf16_units() -> None:
    text = "𝕰𝖐 see https://example.org/x ok"
    offset = len("𝕰𝖐 see ".encode("utf-16-le")) // 2
    entities = [
        {"type": "url", "offset": offset, "length": 21},
        {"type": "text_link", "offset": 0, "length": 2, "url": "https://example.com/"},
        {"type": "mention", "offset": 0, "length": 2},
    ]
    event = normalize(BOT, group_update(text=text, entities=entities))
    assert event.attachments == [
        {"type": "link", "url": "https://example.org/x"},
        {"type": "link", "url": "https://example.com/"},
    ]


def test_animation_is_not_also_a_document_and_places_are_kept() -> None:
    media = {"file_id": "F", "file_unique_id": "U", "duration": 3, "mime_type": "video/mp4"}
    venue = {"location": {"latitude": 1.5, "longitude": 2.5}, "title": "T", "address": "A"}
    event = normalize(
        BOT, group_update(animation=media, document=media, venue=venue, location=venue["location"])
    )
    assert [entry["type"] for entry in event.attachments] == ["animation", "venue"]
    assert event.attachments[1] == {
        "type": "venue",
        "title": "T",
        "address": "A",
        "latitude": 1.5,
        "longitude": 2.5,
    }


def test_envelope() -> None:
    empty = normalize(BOT, {"update_id": 0})
    assert isinstance(empty, Unsupported) and empty.vk_type == "update" and empty.event_id == "tg:0"
    unknown = normalize(BOT, {"update_id": 3, "purchased_paid_media": {}})
    assert unknown.reason == "unhandled update kind" and unknown.vk_type == "purchased_paid_media"
    not_object = normalize(BOT, {"update_id": 3, "message": "text"})
    assert not_object.reason == "object is not a JSON object"


def test_handled_kinds() -> None:
    assert HANDLED_KINDS == {
        "message",
        "edited_message",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "chat_member",
        "my_chat_member",
    }


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        "text",
        5,
        {},
        {"update_id": "1"},
        {"update_id": 1.0},
        {"update_id": True},
        {"update_id": 2**63},
    ],
)
def test_non_updates_are_malformed(value: Any) -> None:
    with pytest.raises(MalformedEvent):
        normalize_all(BOT, value)


@pytest.mark.parametrize("bot_id", [0, -1, True, "1"])
def test_bad_bot_id_is_malformed(bot_id: Any) -> None:
    with pytest.raises(MalformedEvent):
        normalize(bot_id, {"update_id": 1})


# --- properties: nothing but MalformedEvent ever escapes ------------------------------------------


def check_total(bot_id: int, update: Any) -> None:
    try:
        events = normalize_all(bot_id, update)
    except MalformedEvent as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return
    assert events
    for event in events:
        assert isinstance(event, DomainEvent) and event.event_id.startswith("tg:")
        if isinstance(event, Unsupported):
            assert not event.reason.startswith(INTERNAL_ERROR_PREFIX), event.reason
        for name in ("ref", "thread", "reply_to"):
            value = getattr(event, name, None)
            if value is not None:
                assert isinstance(value.key, str)
        for name in ("created_at", "edited_at", "unblock_date", "until"):
            value = getattr(event, name, None)
            if value is not None:
                assert value.tzinfo is UTC
    assert isinstance(normalize(bot_id, update), DomainEvent)


HOSTILE = [None, "", "1", -1, 0, 2**63, -(2**63) - 1, 2**200, 1.5, True, [], {}, [None], {"id": None}]


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_hostile_values_in_samples(name: str, value: Any) -> None:
    update = load_update(name)
    kind = next(key for key in update if key != "update_id")
    for key in list(update[kind]):
        changed = copy.deepcopy(update)
        changed[kind][key] = value
        check_total(BOT, changed)
        inner = update[kind][key]
        if isinstance(inner, dict):
            for inner_key in inner:
                nested = copy.deepcopy(update)
                nested[kind][key][inner_key] = value
                check_total(BOT, nested)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
plausible = st.sampled_from([0, 1, -1, 777000, 1087968824, 2**63 - 1, 2**63, True, "", "x"]) | json_values
SAMPLE_UPDATES = [load_update(name) for name in sorted(EXPECTED)]


@PROPERTY_SETTINGS
@given(json_values)
def test_arbitrary_json_never_escapes(value: Any) -> None:
    check_total(BOT, value)


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(HANDLED_KINDS)), json_values)
def test_arbitrary_objects_of_handled_kinds_never_escape(kind: str, obj: Any) -> None:
    check_total(BOT, {"update_id": 1, kind: obj})


@PROPERTY_SETTINGS
@given(st.sampled_from(SAMPLE_UPDATES), st.data())
def test_mutated_samples_never_escape(sample: dict[str, Any], data: st.DataObject) -> None:
    update = copy.deepcopy(sample)
    kind = next(key for key in update if key != "update_id")
    targets = [update[kind]] + [value for value in update[kind].values() if isinstance(value, dict)]
    for target in targets:
        for key in list(target):
            action = data.draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
            if action == "drop":
                del target[key]
            elif action == "replace":
                target[key] = data.draw(plausible)
    check_total(BOT, update)
