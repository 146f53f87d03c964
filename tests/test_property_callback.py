"""Properties of POST /callback/vk/{group_id} on the real app: whatever arrives, never a 500, never half a write.

The normalizer's own totality (only MalformedEvent escapes) is proved in tests/test_normalize.py; here the
same kinds of input go through the whole endpoint - body parsing, secret check, normalize, ingest in one
transaction - on SQLite and PostgreSQL. After every request the row count of every table is compared with
the count before it: a refused request writes nothing (a wrong secret is only counted, and journaled
once a minute: proxy/refusals.py); an acknowledged one leaves its raw event exactly once.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.models import RawEvent
from tests.ingest_samples import CONFIRMATION, SECRET, add_community, event_samples, load_event, table_counts
from tests.test_normalize import json_values, plausible, vk_like_events

GID = 191949777

# The database and the client are made once per test and shared by its examples on purpose: every
# example compares counts before and after its own request, so earlier examples do not matter.
PROPERTY_SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# The statuses the endpoint documents (proxy/connectors/vk/endpoint.py). 503 means "not stored, send it
# again": for a request that is merely odd it would make VK retry for ever, so it counts as a defect here.
DOCUMENTED = {200, 400, 403, 404, 413}

SAMPLES = [load_event(name) for name in event_samples()]


@pytest.fixture
async def community(db: str, client: TestClient) -> None:
    # `db` opens the ORM in the test's own context and closes it afterwards; without it the connection the
    # test body makes on SQLite is never closed, and its thread keeps pytest alive after the run.
    await add_community(GID)


async def post_and_check(client: TestClient, body: bytes) -> int:
    """POST one body; assert the answer is documented and the database changed only as documented."""
    before = await table_counts()
    response = await client.post(f"/callback/vk/{GID}", data=io.BytesIO(body))
    text = await response.text()
    after = await table_counts()
    assert response.status in DOCUMENTED, (response.status, text, body[:300])
    if response.status == 403:
        assert text == "forbidden"
        assert after == before
    elif response.status == 200 and text == CONFIRMATION:
        assert after == before
    elif response.status == 200:
        assert text == "ok"
        payload = json.loads(body)
        stored = await RawEvent.filter(vk_group_id=GID, event_id=stored_event_id(payload["event_id"])).count()
        assert stored == 1
        assert after["raw_event"] - before["raw_event"] in (0, 1)  # 0: a repeat of an earlier event_id
    else:
        assert after == before, (response.status, text)
    return response.status


def stored_event_id(event_id: Any) -> str:
    """The key ingest stores (proxy/ingest/raw_events.py: raw_event_key): the id itself, or the SHA-1 of its exact
    characters when PostgreSQL text cannot hold it (NUL, lone surrogates, over 64 characters) or it
    looks like such a digest, so distinct ids stay distinct."""
    text = str(event_id)
    if len(text) <= 64 and "\x00" not in text and not text.startswith("sha1:"):
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return "sha1:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def as_event(value: dict[str, Any], *, secret: Any = SECRET) -> bytes:
    """A body addressed to the test community with the right secret (so it reaches ingest)."""
    event = {**value, "group_id": GID}
    if secret is not None:
        event["secret"] = secret
    return json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")


@PROPERTY_SETTINGS
@given(
    body=st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode("utf-8", "surrogatepass"))
)
async def test_arbitrary_bytes_and_json_are_refused_cleanly(
    client: TestClient, community: None, body: bytes
) -> None:
    await post_and_check(client, body)


@PROPERTY_SETTINGS
@given(event=vk_like_events)
async def test_arbitrary_envelopes_with_the_right_secret(
    client: TestClient, community: None, event: dict[str, Any]
) -> None:
    await post_and_check(client, as_event(event))


@PROPERTY_SETTINGS
@given(event=vk_like_events, secret=st.none() | json_values)
async def test_arbitrary_envelopes_with_a_wrong_secret(
    client: TestClient, community: None, event: dict[str, Any], secret: Any
) -> None:
    status = await post_and_check(client, as_event(event, secret=secret))
    assert status != 200 or event.get("type") == "confirmation"


@PROPERTY_SETTINGS
@given(sample=st.sampled_from(SAMPLES), data=st.data())
async def test_mutated_real_events_are_stored_whole_or_refused(
    client: TestClient, community: None, sample: dict[str, Any], data: st.DataObject
) -> None:
    event = copy.deepcopy(sample)
    target = event.get("object")
    if isinstance(target, dict):
        if isinstance(target.get("message"), dict) and data.draw(st.booleans()):
            target = target["message"]
        for key in list(target):
            action = data.draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
            if action == "drop":
                del target[key]
            elif action == "replace":
                target[key] = data.draw(plausible)
    event["event_id"] = data.draw(st.text(min_size=1, max_size=12))
    await post_and_check(client, as_event(event))
