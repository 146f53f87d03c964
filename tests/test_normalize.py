"""VK event objects -> domain events, checked against the captured samples field by field."""

import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.connectors.vk.normalize import (
    HANDLED_TYPES,
    INTERNAL_ERROR_PREFIX,
    MalformedEvent,
    normalize,
)
from proxy.events import (
    ALL_EVENTS,
    EVENTS_BY_NAME,
    AuthorBlocked,
    AuthorUnblocked,
    Channel,
    DeprecatedVersionWarning,
    Direction,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEdited,
    ItemRef,
    ItemRestored,
    MessagesAllowed,
    MessagesDenied,
    MessagesRead,
    OfficersEdited,
    ThreadRef,
    TypingState,
    Unsupported,
    WallPostCreated,
)
from tests.fixtures import VK_SAMPLES as SAMPLES_DIR

PROPERTY_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


def load_event(name: str) -> dict[str, Any]:
    """The event in a sample: ``updates[0]`` of a Long Poll reply, else the object itself."""
    data = load_sample(name)
    if isinstance(data, dict) and isinstance(data.get("updates"), list) and data["updates"]:
        return data["updates"][0]
    return data


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def msg_ref(group_id: int, peer_id: int, cmid: int) -> ItemRef:
    return ItemRef(channel=Channel.MESSAGE, owner_id=-group_id, object_id=peer_id, item_id=cmid)


def dialog(group_id: int, peer_id: int) -> ThreadRef:
    return ThreadRef(channel=Channel.MESSAGE, owner_id=-group_id, object_id=peer_id)


def cref(channel: Channel, owner_id: int, object_id: int, item_id: int) -> ItemRef:
    return ItemRef(channel=channel, owner_id=owner_id, object_id=object_id, item_id=item_id)


def cthread(channel: Channel, owner_id: int, object_id: int, root_id: int | None) -> ThreadRef:
    return ThreadRef(channel=channel, owner_id=owner_id, object_id=object_id, root_id=root_id)


def env(event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "group_id": event["group_id"],
        "event_id": str(event["event_id"]),
        "vk_type": event["type"],
        "api_version": extra.pop("api_version", None),
        **extra,
    }


# --- every sample, field by field ---------------------------------------------------------------


def expected_events() -> dict[str, tuple[DomainEvent, str | None, str | None]]:
    """Sample file -> (expected event, expected item key, expected thread key)."""
    e = load_event
    wall, photo, video, board = Channel.WALL, Channel.PHOTO, Channel.VIDEO, Channel.BOARD
    photo_attachments = e("message_new-4.json")["object"]["message"]["attachments"]
    wall_reply_attachment = e("message_new-7.json")["object"]["message"]["attachments"]
    return {
        "message_new-1.json": (
            ItemCreated(
                **env(e("message_new-1.json")),
                ref=msg_ref(333, 222, 4392),
                thread=dialog(333, 222),
                author_id=111,
                text="test",
                attachments=[],
                created_at=utc(2020, 6, 25, 13, 38, 31),
                direction=Direction.IN,
                from_community=False,
            ),
            "message:222:4392",
            "message:222",
        ),
        "message_new-2.json": (
            ItemCreated(
                **env(e("message_new-2.json")),
                ref=msg_ref(666, 222, 4393),
                thread=dialog(666, 222),
                author_id=111,
                text="test",
                attachments=[],
                created_at=utc(2020, 6, 25, 14, 0, 10),
                direction=Direction.IN,
                from_community=False,
                # reply_message carries its own peer_id (444 in this anonymized capture).
                reply_to=msg_ref(666, 444, 4392),
                forwarded=[
                    {
                        "kind": "reply",
                        "from_id": 333,
                        "date": "2020-06-25T13:38:33+00:00",
                        "text": "test",
                        "attachments": [],
                        "peer_id": 444,
                        "conversation_message_id": 4392,
                        "forwarded": [],
                        "omitted": 0,
                    }
                ],
            ),
            "message:222:4393",
            "message:222",
        ),
        "message_new-4.json": (
            ItemCreated(
                **env(e("message_new-4.json")),
                ref=msg_ref(555, 222, 4395),
                thread=dialog(555, 222),
                author_id=111,
                text="",
                attachments=photo_attachments,
                created_at=utc(2020, 6, 25, 14, 26, 33),
                direction=Direction.IN,
                from_community=False,
            ),
            "message:222:4395",
            "message:222",
        ),
        "message_new-5.json": (
            ItemCreated(
                **env(e("message_new-5.json")),
                ref=msg_ref(666, 222, 4394),
                thread=dialog(666, 222),
                author_id=111,
                text="",
                attachments=[],
                created_at=utc(2020, 6, 25, 14, 17, 26),
                direction=Direction.IN,
                from_community=False,
                forwarded=[
                    {
                        "kind": "forward",
                        "from_id": 333,
                        "date": "2020-05-26T20:07:11+00:00",
                        "text": "testFwd",
                        "attachments": [],
                        "peer_id": 444,
                        "conversation_message_id": 102248,
                        "forwarded": [],
                        "omitted": 0,
                    }
                ],
            ),
            "message:222:4394",
            "message:222",
        ),
        "message_new-7.json": (
            ItemCreated(
                **env(e("message_new-7.json")),
                ref=msg_ref(100, 222, 4410),
                thread=dialog(100, 222),
                author_id=111,
                text="",
                attachments=wall_reply_attachment,
                created_at=utc(2020, 7, 8, 19, 5, 11),
                direction=Direction.IN,
                from_community=False,
            ),
            "message:222:4410",
            "message:222",
        ),
        "message_reply-1.json": (
            ItemCreated(
                **env(e("message_reply-1.json")),
                ref=msg_ref(555, 333, 261),
                thread=dialog(555, 333),
                author_id=111,
                text="test",
                attachments=[],
                created_at=utc(2020, 7, 9, 8, 8, 32),
                direction=Direction.OUT,
                from_community=True,
                admin_author_id=444,
                message_id=222,
            ),
            "message:333:261",
            "message:333",
        ),
        "message_edit-1.json": (
            ItemEdited(
                **env(e("message_edit-1.json")),
                ref=msg_ref(444, 222, 261),
                thread=dialog(444, 222),
                author_id=-111,
                text="tests",
                attachments=[],
                edited_at=utc(2020, 7, 9, 8, 12, 57),
                created_at=utc(2020, 7, 9, 8, 12, 57),
                from_community=True,
                admin_author_id=333,
            ),
            "message:222:261",
            "message:222",
        ),
        "message_allow-1.json": (
            MessagesAllowed(**env(e("message_allow-1.json")), user_id=578716413, key=""),
            None,
            None,
        ),
        "message_deny-1.json": (
            MessagesDenied(**env(e("message_deny-1.json")), user_id=578716413),
            None,
            None,
        ),
        "message_typing_state-1.json": (
            TypingState(
                **env(e("message_typing_state-1.json")),
                from_id=578716413,
                to_id=-191949777,
                state="typing",
            ),
            None,
            None,
        ),
        "wall_reply_new-1.json": (
            ItemCreated(
                **env(e("wall_reply_new-1.json")),
                ref=cref(wall, -222, 3, 4),
                thread=cthread(wall, -222, 3, 4),
                author_id=111,
                text="test",
                attachments=[],
                created_at=utc(2020, 7, 17, 7, 48, 2),
                direction=Direction.IN,
                from_community=False,
            ),
            "wall:-222_3:4",
            "wall:-222_3:4",
        ),
        "wall_reply_edit-1.json": (
            ItemEdited(
                **env(e("wall_reply_edit-1.json")),
                ref=cref(wall, -222, 3, 4),
                thread=cthread(wall, -222, 3, 4),
                author_id=111,
                text="test1",
                attachments=[],
                edited_at=None,
                created_at=utc(2020, 7, 17, 7, 48, 2),
                from_community=False,
            ),
            "wall:-222_3:4",
            "wall:-222_3:4",
        ),
        "wall_reply_delete-1.json": (
            ItemDeleted(
                **env(e("wall_reply_delete-1.json")),
                ref=cref(wall, -111, 3, 4),
                thread=None,
                deleter_id=222,
                user_id=None,
            ),
            "wall:-111_3:4",
            None,
        ),
        "wall_reply_restore-1.json": (
            ItemRestored(
                **env(e("wall_reply_restore-1.json")),
                ref=cref(wall, -222, 3, 4),
                thread=cthread(wall, -222, 3, 4),
                author_id=111,
                text="test1",
                attachments=[],
                created_at=utc(2020, 7, 17, 7, 48, 2),
                direction=Direction.IN,
                from_community=False,
            ),
            "wall:-222_3:4",
            "wall:-222_3:4",
        ),
        "photo_comment_new-1.json": (
            ItemCreated(
                **env(e("photo_comment_new-1.json")),
                ref=cref(photo, -222, 333, 3),
                thread=cthread(photo, -222, 333, 3),
                author_id=111,
                text="t",
                attachments=[],
                created_at=utc(2020, 7, 9, 9, 5, 8),
                direction=Direction.IN,
                from_community=False,
            ),
            "photo:-222_333:3",
            "photo:-222_333:3",
        ),
        "photo_comment_edit-1.json": (
            ItemEdited(
                **env(e("photo_comment_edit-1.json")),
                ref=cref(photo, -333, 444, 111),
                thread=cthread(photo, -333, 444, 111),
                author_id=222,
                text="tt",
                attachments=[],
                edited_at=None,
                created_at=utc(2020, 7, 9, 9, 5, 8),
                from_community=False,
            ),
            "photo:-333_444:111",
            "photo:-333_444:111",
        ),
        "photo_comment_delete-1.json": (
            ItemDeleted(
                **env(e("photo_comment_delete-1.json")),
                ref=cref(photo, -111, 444, 333),
                thread=None,
                deleter_id=222,
                user_id=555,
            ),
            "photo:-111_444:333",
            None,
        ),
        "photo_comment_restore-1.json": (
            ItemRestored(
                **env(e("photo_comment_restore-1.json")),
                ref=cref(photo, -222, 333, 3),
                thread=cthread(photo, -222, 333, 3),
                author_id=111,
                text="tt",
                attachments=[],
                created_at=utc(2020, 7, 9, 9, 5, 8),
                direction=Direction.IN,
                from_community=False,
            ),
            "photo:-222_333:3",
            "photo:-222_333:3",
        ),
        "video_comment_new-1.json": (
            ItemCreated(
                **env(e("video_comment_new-1.json")),
                ref=cref(video, -222, 333, 1),
                thread=cthread(video, -222, 333, 1),
                author_id=111,
                text="check",
                attachments=[],
                created_at=utc(2020, 7, 15, 14, 28, 37),
                direction=Direction.IN,
                from_community=False,
            ),
            "video:-222_333:1",
            "video:-222_333:1",
        ),
        "video_comment_edit-1.json": (
            ItemEdited(
                **env(e("video_comment_edit-1.json")),
                ref=cref(video, -333, 444, 1),
                thread=cthread(video, -333, 444, 1),
                author_id=111,
                text="check2",
                attachments=[],
                edited_at=None,
                # The capture's date is the anonymized 222: kept as the epoch time it says.
                created_at=utc(1970, 1, 1, 0, 3, 42),
                from_community=False,
            ),
            "video:-333_444:1",
            "video:-333_444:1",
        ),
        "video_comment_delete-1.json": (
            ItemDeleted(
                **env(e("video_comment_delete-1.json")),
                ref=cref(video, -111, 333, 1),
                thread=None,
                deleter_id=222,
                user_id=None,
            ),
            "video:-111_333:1",
            None,
        ),
        "video_comment_restore-1.json": (
            ItemRestored(
                **env(e("video_comment_restore-1.json")),
                ref=cref(video, -222, 333, 2),
                thread=cthread(video, -222, 333, 2),
                author_id=111,
                text="t",
                attachments=[],
                created_at=utc(2020, 7, 15, 17, 40, 49),
                direction=Direction.IN,
                from_community=False,
            ),
            "video:-222_333:2",
            "video:-222_333:2",
        ),
        "board_post_new-1.json": (
            ItemCreated(
                **env(e("board_post_new-1.json")),
                ref=cref(board, -222, 333, 2),
                thread=cthread(board, -222, 333, None),
                author_id=111,
                text="test",
                attachments=[],
                created_at=utc(2020, 7, 27, 9, 16, 20),
                direction=Direction.IN,
                from_community=False,
            ),
            "board:-222_333:2",
            "board:-222_333",
        ),
        "board_post_edit-1.json": (
            ItemEdited(
                **env(e("board_post_edit-1.json")),
                ref=cref(board, -111, 222, 2),
                thread=cthread(board, -111, 222, None),
                author_id=123,
                text="testtest",
                attachments=[],
                edited_at=None,
                created_at=utc(2020, 7, 27, 9, 16, 20),
                from_community=False,
            ),
            "board:-111_222:2",
            "board:-111_222",
        ),
        "board_post_delete-1.json": (
            ItemDeleted(
                **env(e("board_post_delete-1.json")),
                ref=cref(board, -111, 333, 3),
                thread=cthread(board, -111, 333, None),
                deleter_id=None,
                user_id=None,
            ),
            "board:-111_333:3",
            "board:-111_333",
        ),
        "board_post_restore-1.json": (
            ItemRestored(
                **env(e("board_post_restore-1.json")),
                ref=cref(board, -222, 333, 3),
                thread=cthread(board, -222, 333, None),
                author_id=111,
                text="t",
                attachments=[],
                created_at=utc(2020, 8, 5, 18, 37, 5),
                direction=Direction.IN,
                from_community=False,
            ),
            "board:-222_333:3",
            "board:-222_333",
        ),
        "user_block-1.json": (
            AuthorBlocked(
                **env(e("user_block-1.json")),
                user_id=349964901,
                admin_id=578716413,
                unblock_date=utc(2020, 3, 5, 19, 49, 1),
                reason=2,
                comment="BAN",
            ),
            None,
            None,
        ),
        "user_unblock-1.json": (
            AuthorUnblocked(
                **env(e("user_unblock-1.json")),
                user_id=580903823,
                admin_id=578716413,
                by_end_date=False,
            ),
            None,
            None,
        ),
        "group_officers_edit-1.json": (
            OfficersEdited(
                **env(e("group_officers_edit-1.json")),
                admin_id=578716413,
                user_id=580903823,
                level_old=1,
                level_new=1,
            ),
            None,
            None,
        ),
        "wall_post_new-1.json": (
            WallPostCreated(
                **env(e("wall_post_new-1.json")),
                post_id=1,
                owner_id=-222,
                from_id=111,
                created_by=333,
                text="test",
                attachments=[],
                created_at=utc(2020, 7, 16, 8, 42, 15),
                post_type="post",
            ),
            None,
            None,
        ),
        "wall_post_new-2.json": (
            WallPostCreated(
                **env(e("wall_post_new-2.json"), api_version=":version"),
                post_id=28,
                owner_id=-123456,
                from_id=-123456,
                created_by=564321,
                text="Post text",
                attachments=[],
                created_at=utc(2018, 2, 26, 7, 53, 11),
                post_type="post",
            ),
            None,
            None,
        ),
        "group_join-1.json": (
            Unsupported(
                group_id=1,
                event_id="12345",
                vk_type="group_join",
                api_version="5.131",
                reason="unhandled event type",
            ),
            None,
            None,
        ),
        "deprecated_version_warning-1.json": (
            DeprecatedVersionWarning(
                group_id=12345,
                event_id="bcac94ca00d2f069fb6badb4cf0441dac637dcfc",
                vk_type="wall_post_new",
                api_version="5.80",
                warning=(
                    "You are using a deprecated API version. It will be disabled soon. "
                    "Read more here: https://dev.vk.com/api/deprecated-version-message"
                ),
            ),
            None,
            None,
        ),
    }


EXPECTED = expected_events()

# Samples that are VK replies or Long Poll control messages, not events.
NOT_EVENTS = {
    "api_error-1.json",
    "groups.getLongPollServer-1.json",
    "longpoll_empty-1.json",
    "longpoll_failed-1.json",
    "longpoll_failed-2.json",
    "longpoll_failed-3.json",
    "longpoll_failed-4.json",
    "messages.getHistory-1.json",
    "messages.send-1.json",
    # A Callback confirmation request: answered by the endpoint, never normalized.
    "confirmation-1.json",
}


def test_samples_dir_is_complete() -> None:
    files = {path.name for path in SAMPLES_DIR.glob("*.json")}
    assert files, f"no samples in {SAMPLES_DIR}"
    assert files == set(EXPECTED) | NOT_EVENTS


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_normalizes_field_by_field(name: str) -> None:
    raw = load_event(name)
    expected, item_key, thread_key = EXPECTED[name]
    event = normalize(copy.deepcopy(raw))
    assert type(event) is type(expected)
    for field in dataclasses.fields(expected):
        if not field.compare:
            continue
        assert getattr(event, field.name) == getattr(expected, field.name), field.name
    assert event == expected
    assert event.raw == raw
    ref = getattr(event, "ref", None)
    thread = getattr(event, "thread", None)
    assert (ref.key if ref else None) == item_key
    assert (thread.key if thread else None) == thread_key


@pytest.mark.parametrize("name", sorted(NOT_EVENTS))
def test_non_event_samples_are_malformed(name: str) -> None:
    with pytest.raises(MalformedEvent):
        normalize(load_event(name))


def test_times_are_aware_utc() -> None:
    event = normalize(load_event("message_new-1.json"))
    assert isinstance(event, ItemCreated)
    assert event.created_at is not None
    assert event.created_at.utcoffset() is not None
    assert event.created_at.timestamp() == 1593092311


def test_attachments_are_kept_verbatim() -> None:
    raw = load_event("message_new-4.json")
    event = normalize(raw)
    assert isinstance(event, ItemCreated)
    assert event.attachments == raw["object"]["message"]["attachments"]
    assert event.attachments[0]["photo"]["sizes"][-1]["type"] == "z"


# --- shapes not captured in the samples, built from captured ones -------------------------------


def test_message_new_old_flat_shape_matches_wrapped_shape() -> None:
    wrapped = load_event("message_new-1.json")
    flat = copy.deepcopy(wrapped)
    flat["object"] = flat["object"]["message"]
    assert normalize(flat) == normalize(wrapped)


def test_numeric_event_id_becomes_string() -> None:
    event = normalize(load_event("group_join-1.json"))
    assert event.event_id == "12345"


def test_secret_is_not_kept_in_raw() -> None:
    raw = load_event("message_deny-1.json") | {"secret": "s3cr3t", "v": "5.199"}
    event = normalize(raw)
    assert "secret" not in event.raw
    assert event.raw["v"] == "5.199"
    assert event.api_version == "5.199"


def wall_reply_event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("wall_reply_new-1.json"))
    event["object"].update(changes)
    return event


def test_reply_in_thread_uses_parents_stack_root() -> None:
    # The wall_reply attachment of message_new-7.json is a real reply comment object.
    comment = load_event("message_new-7.json")["object"]["message"]["attachments"][0]["wall_reply"]
    event = normalize({"type": "wall_reply_new", "object": comment, "group_id": 666, "event_id": "e1"})
    assert isinstance(event, ItemCreated)
    assert event.ref.key == "wall:-666_555:333"
    assert event.thread.key == "wall:-666_555:777"
    assert event.thread.root_id == 777
    assert event.reply_to == cref(Channel.WALL, -666, 555, 999)
    assert event.reply_to_user == 888
    assert event.author_id == 444
    assert event.created_at == utc(2020, 7, 8, 18, 4, 10)
    assert event.direction is Direction.IN


def test_reply_without_parents_stack_falls_back_to_reply_to_comment() -> None:
    raw = wall_reply_event(reply_to_comment=2, reply_to_user=5)
    del raw["object"]["parents_stack"]
    event = normalize(raw)
    assert isinstance(event, ItemCreated)
    assert event.thread.key == "wall:-222_3:2"
    assert event.reply_to is not None and event.reply_to.key == "wall:-222_3:2"


def test_comment_from_the_community_is_outgoing() -> None:
    raw = wall_reply_event(from_id=-444)
    event = normalize(raw)
    assert isinstance(event, ItemCreated)
    assert event.from_community is True
    assert event.direction is Direction.OUT
    assert event.admin_author_id is None


def test_comment_from_another_group_is_incoming() -> None:
    event = normalize(wall_reply_event(from_id=-999))
    assert isinstance(event, ItemCreated)
    assert event.from_community is False
    assert event.direction is Direction.IN


def test_wall_comment_without_owner_id_uses_post_owner_id() -> None:
    raw = wall_reply_event()
    del raw["object"]["owner_id"]
    event = normalize(raw)
    assert isinstance(event, ItemCreated)
    assert event.ref.key == "wall:-333_3:4"


def test_comment_without_any_owner_belongs_to_the_community() -> None:
    raw = wall_reply_event()
    del raw["object"]["owner_id"]
    del raw["object"]["post_owner_id"]
    event = normalize(raw)
    assert isinstance(event, ItemCreated)
    assert event.ref.key == "wall:-444_3:4"


def test_comment_edit_with_update_time() -> None:
    raw = copy.deepcopy(load_event("wall_reply_edit-1.json"))
    raw["object"]["update_time"] = 1594972200
    event = normalize(raw)
    assert isinstance(event, ItemEdited)
    assert event.edited_at == utc(2020, 7, 17, 7, 50)


def test_market_comments() -> None:
    base = {"group_id": 42, "event_id": "m1"}
    new = normalize(
        base
        | {
            "type": "market_comment_new",
            "object": {
                "id": 7,
                "from_id": 5,
                "date": 1700000000,
                "text": "price?",
                "market_owner_id": -42,
                "item_id": 99,
                "parents_stack": [],
            },
        }
    )
    assert new == ItemCreated(
        group_id=42,
        event_id="m1",
        vk_type="market_comment_new",
        ref=cref(Channel.MARKET, -42, 99, 7),
        thread=cthread(Channel.MARKET, -42, 99, 7),
        author_id=5,
        text="price?",
        created_at=utc(2023, 11, 14, 22, 13, 20),
        direction=Direction.IN,
        from_community=False,
    )
    assert new.ref.key == "market:-42_99:7"
    deleted = normalize(
        base
        | {
            "type": "market_comment_delete",
            "object": {"owner_id": -42, "id": 7, "user_id": 5, "deleter_id": 1, "item_id": 99},
        }
    )
    assert deleted == ItemDeleted(
        group_id=42,
        event_id="m1",
        vk_type="market_comment_delete",
        ref=cref(Channel.MARKET, -42, 99, 7),
        thread=None,
        deleter_id=1,
        user_id=5,
    )


def test_message_read() -> None:
    event = normalize(
        {
            "type": "message_read",
            "object": {"from_id": 10, "peer_id": 10, "read_message_id": 77},
            "group_id": 5,
            "event_id": "r1",
        }
    )
    assert event == MessagesRead(
        group_id=5, event_id="r1", vk_type="message_read", peer_id=10, from_id=10, read_message_id=77
    )


def test_message_new_marked_outgoing_is_from_the_community() -> None:
    raw = copy.deepcopy(load_event("message_new-1.json"))
    raw["object"]["message"].update(out=1, random_id=123456, id=900)
    event = normalize(raw)
    assert isinstance(event, ItemCreated)
    assert event.direction is Direction.OUT
    assert event.from_community is True
    assert event.random_id == 123456
    assert event.message_id == 900


def test_permanent_ban_and_ban_expiry() -> None:
    block = copy.deepcopy(load_event("user_block-1.json"))
    block["object"]["unblock_date"] = 0
    event = normalize(block)
    assert isinstance(event, AuthorBlocked)
    assert event.unblock_date is None
    unblock = copy.deepcopy(load_event("user_unblock-1.json"))
    unblock["object"]["by_end_date"] = 1
    event2 = normalize(unblock)
    assert isinstance(event2, AuthorUnblocked)
    assert event2.by_end_date is True


def test_unknown_type_is_unsupported_and_keeps_raw() -> None:
    raw = {"type": "poll_vote_new", "object": {"poll_id": 1}, "group_id": 3, "event_id": "x"}
    event = normalize(raw)
    assert event == Unsupported(
        group_id=3, event_id="x", vk_type="poll_vote_new", reason="unhandled event type"
    )
    assert event.raw == raw


@pytest.mark.parametrize(
    ("name", "mutate", "reason"),
    [
        ("wall_reply_new-1.json", lambda o: o.pop("id"), "object has no integer 'id'"),
        ("wall_reply_new-1.json", lambda o: o.update(post_id="3"), "object has no integer 'post_id'"),
        ("wall_reply_delete-1.json", lambda o: o.update(id=None), "object has no integer 'id'"),
        ("message_reply-1.json", lambda o: o.pop("peer_id"), "object has no integer 'peer_id'"),
        (
            "message_edit-1.json",
            lambda o: o.pop("conversation_message_id"),
            "object has no integer 'conversation_message_id'",
        ),
        ("message_deny-1.json", lambda o: o.update(user_id=True), "object has no integer 'user_id'"),
    ],
)
def test_unidentifiable_items_are_unsupported(name: str, mutate: Any, reason: str) -> None:
    raw = copy.deepcopy(load_event(name))
    obj = raw["object"]["message"] if "message" in raw["object"] else raw["object"]
    mutate(obj)
    event = normalize(raw)
    assert isinstance(event, Unsupported)
    assert event.reason == reason


@pytest.mark.parametrize("obj", [None, [], "text", 5])
def test_object_of_wrong_type_is_unsupported(obj: Any) -> None:
    raw = {"type": "wall_reply_new", "object": obj, "group_id": 1, "event_id": "e"}
    event = normalize(raw)
    assert isinstance(event, Unsupported)
    assert event.reason == "object is not a JSON object"


def test_absurd_dates_become_none() -> None:
    for date in (2**62, -5, 0, "1594972082", 1.5):
        event = normalize(wall_reply_event(date=date))
        assert isinstance(event, ItemCreated)
        assert event.created_at is None


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "message_new",
        {},
        {"type": "", "group_id": 1, "event_id": "a"},
        {"type": 5, "group_id": 1, "event_id": "a"},
        {"type": "message_new", "event_id": "a"},
        {"type": "message_new", "group_id": 0, "event_id": "a"},
        {"type": "message_new", "group_id": -1, "event_id": "a"},
        {"type": "message_new", "group_id": True, "event_id": "a"},
        {"type": "message_new", "group_id": "1", "event_id": "a"},
        {"type": "message_new", "group_id": 2**64, "event_id": "a"},
        {"type": "message_new", "group_id": 1},
        {"type": "message_new", "group_id": 1, "event_id": ""},
        {"type": "message_new", "group_id": 1, "event_id": True},
        {"type": "message_new", "group_id": 1, "event_id": None},
        {"type": "confirmation", "group_id": 1, "event_id": "a"},
    ],
)
def test_malformed_events(event: Any) -> None:
    with pytest.raises(MalformedEvent) as info:
        normalize(event)
    assert info.value.reason


# --- the event classes themselves ---------------------------------------------------------------


def test_event_classes() -> None:
    names = [cls.name for cls in ALL_EVENTS]
    assert len(set(names)) == len(names)
    assert all(names)
    assert EVENTS_BY_NAME["item_created"] is ItemCreated
    for cls in ALL_EVENTS:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen
        assert "__slots__" in cls.__dict__
        assert issubclass(cls, DomainEvent)
        assert "name" not in {f.name for f in dataclasses.fields(cls)}


def test_events_are_frozen() -> None:
    event = normalize(load_event("message_new-1.json"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.group_id = 1  # type: ignore[misc]


def test_handled_types() -> None:
    comment_types = {
        f"{prefix}_{action}"
        for prefix in ("wall_reply", "photo_comment", "video_comment", "market_comment", "board_post")
        for action in ("new", "edit", "delete", "restore")
    }
    message_types = {
        "message_new",
        "message_reply",
        "message_edit",
        "message_allow",
        "message_deny",
        "message_read",
        "message_typing_state",
    }
    other = {"user_block", "user_unblock", "group_officers_edit", "wall_post_new"}
    assert HANDLED_TYPES == comment_types | message_types | other


# --- properties: nothing but MalformedEvent ever escapes ----------------------------------------

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

# Values that look like VK's, so the handlers get past the first check more often.
plausible = (
    st.integers(min_value=-(2**31), max_value=2**31)
    | st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**62, True, ""])
    | json_values
)
OBJECT_KEYS = [
    "id",
    "from_id",
    "peer_id",
    "conversation_message_id",
    "date",
    "update_time",
    "text",
    "out",
    "random_id",
    "admin_author_id",
    "attachments",
    "fwd_messages",
    "reply_message",
    "owner_id",
    "post_id",
    "post_owner_id",
    "photo_id",
    "photo_owner_id",
    "video_id",
    "video_owner_id",
    "item_id",
    "market_owner_id",
    "topic_id",
    "topic_owner_id",
    "parents_stack",
    "reply_to_comment",
    "reply_to_user",
    "deleter_id",
    "user_id",
    "admin_id",
    "unblock_date",
    "reason",
    "comment",
    "by_end_date",
    "level_old",
    "level_new",
    "created_by",
    "post_type",
    "state",
    "to_id",
    "key",
    "read_message_id",
    "warning",
]
vk_like_objects = st.recursive(
    st.fixed_dictionaries({}, optional={key: plausible for key in OBJECT_KEYS}),
    lambda inner: st.fixed_dictionaries({"message": inner}, optional={"client_info": json_values}),
    max_leaves=3,
)
event_types = st.sampled_from(sorted(HANDLED_TYPES | {"group_join", "confirmation"})) | st.text(max_size=12)
# Mostly well-formed envelopes, so that the handlers see most of the examples.
well_enveloped_events = st.fixed_dictionaries(
    {
        "type": event_types,
        "group_id": st.integers(min_value=1, max_value=2**40),
        "event_id": st.text(min_size=1, max_size=8),
        "object": vk_like_objects,
    },
    optional={"v": json_values, "secret": json_values},
)
vk_like_events = well_enveloped_events | st.fixed_dictionaries(
    {"type": event_types | json_values},
    optional={
        "group_id": plausible,
        "event_id": st.text(max_size=8) | plausible,
        "object": vk_like_objects | json_values,
        "v": json_values,
        "secret": json_values,
    },
)


def check_total(event: Any) -> None:
    try:
        result = normalize(event)
    except MalformedEvent as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return
    assert isinstance(result, DomainEvent)
    assert isinstance(result.event_id, str) and result.event_id
    assert isinstance(result.group_id, int) and result.group_id > 0
    assert "secret" not in result.raw
    if isinstance(result, Unsupported):
        assert not result.reason.startswith(INTERNAL_ERROR_PREFIX), result.reason
    for name in ("ref", "thread", "reply_to"):
        value = getattr(result, name, None)
        if value is not None:
            assert isinstance(value.key, str)
    for name in ("created_at", "edited_at", "unblock_date"):
        value = getattr(result, name, None)
        if value is not None:
            assert value.tzinfo is UTC


@PROPERTY_SETTINGS
@given(json_values)
def test_arbitrary_json_never_escapes(value: Any) -> None:
    check_total(value)


@PROPERTY_SETTINGS
@given(vk_like_events)
def test_arbitrary_typed_dicts_never_escape(event: dict[str, Any]) -> None:
    check_total(event)


SAMPLE_EVENTS = [load_event(name) for name in sorted(EXPECTED)]


@PROPERTY_SETTINGS
@given(st.sampled_from(SAMPLE_EVENTS), st.data())
def test_mutated_samples_never_escape(sample: dict[str, Any], data: st.DataObject) -> None:
    event = copy.deepcopy(sample)
    target = event["object"]
    if isinstance(target.get("message"), dict) and data.draw(st.booleans()):
        target = target["message"]
    for key in list(target):
        action = data.draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if action == "drop":
            del target[key]
        elif action == "replace":
            target[key] = data.draw(plausible)
    check_total(event)
