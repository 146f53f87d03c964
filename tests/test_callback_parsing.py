"""Callback API body parsing and secret checks (pure functions, no HTTP)."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.connectors.vk.callback import (
    MAX_CALLBACK_BYTES,
    BadCallback,
    is_confirmation,
    parse_callback_body,
    secret_matches,
)
from proxy.connectors.vk.normalize import normalize
from proxy.events import DomainEvent, MessagesAllowed
from tests.fixtures import VK_SAMPLES as SAMPLES_DIR

PROPERTY_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Files that are a single Callback event body (SOURCES.md "CB").
CALLBACK_SAMPLES = [
    "confirmation-1.json",
    "deprecated_version_warning-1.json",
    "group_join-1.json",
    "group_officers_edit-1.json",
    "message_allow-1.json",
    "message_deny-1.json",
    "message_typing_state-1.json",
    "user_block-1.json",
    "user_unblock-1.json",
]


def sample_bytes(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def long_poll_events() -> list[dict[str, Any]]:
    """updates[0] of every Long Poll sample: Callback bodies have the same structure."""
    events = []
    for path in sorted(SAMPLES_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("updates"):
            events.append(data["updates"][0])
    return events


@pytest.mark.parametrize("name", CALLBACK_SAMPLES)
def test_callback_samples_parse_verbatim(name: str) -> None:
    body = sample_bytes(name)
    assert parse_callback_body(body) == json.loads(body)


def test_long_poll_events_parse_as_callback_bodies() -> None:
    events = long_poll_events()
    assert len(events) >= 25
    for event in events:
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        payload = parse_callback_body(body)
        assert payload == event
        assert isinstance(normalize(payload), DomainEvent)


def test_confirmation() -> None:
    payload = parse_callback_body(sample_bytes("confirmation-1.json"))
    assert is_confirmation(payload)
    assert payload == {"type": "confirmation", "group_id": 22222, "secret": "secret"}
    assert secret_matches("secret", payload["secret"])
    assert not secret_matches("other", payload["secret"])


def test_numeric_event_id_is_accepted_and_left_as_sent() -> None:
    payload = parse_callback_body(sample_bytes("group_join-1.json"))
    assert payload["event_id"] == 12345
    assert not is_confirmation(payload)
    assert normalize(payload).event_id == "12345"


def test_parsed_body_normalizes() -> None:
    body = b'{"type":"message_allow","object":{"user_id":7,"key":"k"},"group_id":9,"event_id":"e"}'
    event = normalize(parse_callback_body(body))
    assert event == MessagesAllowed(group_id=9, event_id="e", vk_type="message_allow", user_id=7, key="k")


def test_utf8_text_is_decoded() -> None:
    body = json.dumps(
        {"type": "message_new", "group_id": 1, "event_id": "e", "object": {"text": "привет"}},
        ensure_ascii=False,
    ).encode("utf-8")
    assert parse_callback_body(body)["object"]["text"] == "привет"


def test_size_limit() -> None:
    core = b'{"type":"message_deny","group_id":1,"event_id":"e","object":{"user_id":1}}'
    at_limit = core + b" " * (MAX_CALLBACK_BYTES - len(core))
    assert len(at_limit) == MAX_CALLBACK_BYTES
    assert parse_callback_body(at_limit)["type"] == "message_deny"
    with pytest.raises(BadCallback, match="larger than"):
        parse_callback_body(at_limit + b" ")


def test_max_size_is_sane() -> None:
    largest_sample = max(path.stat().st_size for path in SAMPLES_DIR.glob("*.json"))
    assert 64 * 1024 <= MAX_CALLBACK_BYTES <= 16 * 1024 * 1024
    assert largest_sample * 100 < MAX_CALLBACK_BYTES


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"ok", "not JSON"),
        (b"{", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b'{"type": "x", "group_id": NaN, "event_id": "e"}', "not JSON"),
        (b'{"type": "x", "group_id": Infinity, "event_id": "e"}', "not JSON"),
        (b'{"type":"x","group_id":1,"event_id":' + b"9" * 5000 + b"}", "not JSON"),
        (b"[" * 200_000 + b"]" * 200_000, None),
        (b"[]", "not a JSON object"),
        (b'"confirmation"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"group_id": 1, "event_id": "e"}', "'type'"),
        (b'{"type": "", "group_id": 1, "event_id": "e"}', "'type'"),
        (b'{"type": 1, "group_id": 1, "event_id": "e"}', "'type'"),
        (b'{"type": "message_new", "event_id": "e"}', "'group_id'"),
        (b'{"type": "message_new", "group_id": "1", "event_id": "e"}', "'group_id'"),
        (b'{"type": "message_new", "group_id": true, "event_id": "e"}', "'group_id'"),
        (b'{"type": "message_new", "group_id": 0, "event_id": "e"}', "'group_id'"),
        (b'{"type": "message_new", "group_id": -5, "event_id": "e"}', "'group_id'"),
        (b'{"type": "message_new", "group_id": 1.0, "event_id": "e"}', "'group_id'"),
        (b'{"type": "confirmation", "secret": "s"}', "'group_id'"),
        (b'{"type": "message_new", "group_id": 1}', "'event_id'"),
        (b'{"type": "message_new", "group_id": 1, "event_id": ""}', "'event_id'"),
        (b'{"type": "message_new", "group_id": 1, "event_id": null}', "'event_id'"),
        (b'{"type": "message_new", "group_id": 1, "event_id": false}', "'event_id'"),
        (b'{"type": "message_new", "group_id": 1, "event_id": ["e"]}', "'event_id'"),
    ],
)
def test_bad_bodies(body: bytes, reason: str | None) -> None:
    with pytest.raises(BadCallback) as info:
        parse_callback_body(body)
    assert info.value.reason
    if reason is not None:
        assert reason in info.value.reason


def test_confirmation_needs_no_event_id() -> None:
    assert is_confirmation(parse_callback_body(b'{"type": "confirmation", "group_id": 5}'))


@pytest.mark.parametrize("payload", [None, [], "confirmation", {"type": "message_new"}, {}])
def test_not_confirmation(payload: object) -> None:
    assert not is_confirmation(payload)


@pytest.mark.parametrize(
    ("expected", "given", "result"),
    [
        ("s3cr3t", "s3cr3t", True),
        ("s3cr3t", "s3cr3T", False),
        ("s3cr3t", "s3cr3t ", False),
        ("s3cr3t", "", False),
        ("s3cr3t", None, False),
        ("s3cr3t", 123, False),
        ("s3cr3t", ["s3cr3t"], False),
        ("s3cr3t", b"s3cr3t", False),
        ("секрет", "секрет", True),
        ("секрет", "секрет\ud800", False),
        ("s3cr3t", "\ud800", False),
        # No secret configured for the community: there is nothing to compare.
        (None, None, True),
        (None, "anything", True),
        ("", "anything", True),
    ],
)
def test_secret_matches(expected: str | None, given: object, result: bool) -> None:
    assert secret_matches(expected, given) is result


# --- properties: only BadCallback ever escapes ----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["confirmation", "message_new", "wall_reply_new"]) | json_values,
        "group_id": st.integers(min_value=-5, max_value=2**64) | json_values,
        "event_id": st.text(max_size=8) | json_values,
        "object": json_values,
        "secret": json_values,
    },
)


def check_body(body: bytes) -> None:
    try:
        payload = parse_callback_body(body)
    except BadCallback as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return
    assert isinstance(payload, dict)
    assert isinstance(payload["type"], str) and payload["type"]
    assert type(payload["group_id"]) is int and payload["group_id"] > 0
    if not is_confirmation(payload):
        assert payload["event_id"] not in (None, "", True, False)
        # What passes the endpoint's checks is always a VK event to the normalizer.
        assert isinstance(normalize(payload), DomainEvent)


@PROPERTY_SETTINGS
@given(st.binary(max_size=256))
def test_arbitrary_bytes_raise_only_bad_callback(body: bytes) -> None:
    check_body(body)


@PROPERTY_SETTINGS
@given(json_values)
def test_arbitrary_json_raises_only_bad_callback(value: Any) -> None:
    check_body(json.dumps(value).encode("utf-8"))


@PROPERTY_SETTINGS
@given(envelopes, st.booleans())
def test_arbitrary_envelopes_raise_only_bad_callback(payload: dict[str, Any], ascii_only: bool) -> None:
    # ensure_ascii=False lets lone surrogates through to the encoder: "surrogatepass" keeps them
    # as (invalid) UTF-8 bytes, which the parser must reject cleanly.
    text = json.dumps(payload, ensure_ascii=ascii_only)
    check_body(text.encode("utf-8", "surrogatepass"))
