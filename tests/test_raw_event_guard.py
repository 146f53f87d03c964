"""A raw event's delivered content cannot be rewritten (migration 0017), only its processing result; and
`verify` names the guard when it is gone or no longer refuses."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.exceptions import BaseORMException

from proxy.audit.immutability import missing_guards
from proxy.models import RawEvent, RawEventStatus
from tests.audit_fixtures import GROUP_ID, at, make_base


async def _raw_event() -> RawEvent:
    base = await make_base()
    return await RawEvent.create(
        community=base.community, vk_group_id=GROUP_ID, event_id="ev-1", type="wall_reply_new",
        payload='{"type":"wall_reply_new","object":{"text":"Хлеб черствый"}}', source="callback",
    )  # fmt: skip


@pytest.mark.parametrize(
    "assignment",
    [
        "payload = '{}'",
        "event_id = 'ev-2'",
        "vk_group_id = 1",
        "type = 'message_new'",
        "source = 'sync'",
        "received_at = '2025-03-01 00:00:00+00:00'",
        "community_id = NULL",
        "payload = '{}', status = 'failed'",  # with a legitimate change, refused as a whole
    ],
)
async def test_content_update_refused(db: str, assignment: str) -> None:
    event = await _raw_event()
    with pytest.raises(BaseORMException, match="refused"):
        await connections.get("default").execute_query(
            f"UPDATE raw_event SET {assignment} WHERE id = {event.id}"
        )
    stored = await RawEvent.get(id=event.id)
    assert (stored.payload, stored.event_id, stored.status) == (
        event.payload,
        "ev-1",
        RawEventStatus.PROCESSED,
    )


async def test_orm_update_of_the_payload_refused(db: str) -> None:
    event = await _raw_event()
    with pytest.raises(BaseORMException, match="UPDATE on raw_event .*refused"):
        await RawEvent.filter(id=event.id).update(payload="{}")
    with pytest.raises(BaseORMException, match="refused"):
        await RawEvent.filter(id=event.id).update(received_at=at(1, 1))


async def test_processing_result_stays_free(db: str) -> None:
    event = await _raw_event()
    # What ingest does after the insert (proxy/ingest/dispatch.py), and a reprocessing later.
    assert await RawEvent.filter(id=event.id).update(status=RawEventStatus.FAILED, detail="VK error 15") == 1
    assert await RawEvent.filter(id=event.id).update(status=RawEventStatus.PROCESSED, detail="") == 1
    # An UPDATE that writes the same content back changes nothing: allowed.
    await connections.get("default").execute_query(
        f"UPDATE raw_event SET payload = payload, status = 'ignored' WHERE id = {event.id}"
    )
    stored = await RawEvent.get(id=event.id)
    assert (stored.status, stored.payload) == (RawEventStatus.IGNORED, event.payload)


async def test_verify_names_the_guard_when_dropped(db: str) -> None:
    conn = connections.get("default")
    assert await missing_guards(conn) == []
    await conn.execute_script(
        "DROP TRIGGER raw_event_content_fixed ON raw_event"
        if db.startswith("postgres")
        else "DROP TRIGGER raw_event_content_fixed"
    )
    assert await missing_guards(conn) == ["raw_event_content_fixed"]
    event = await _raw_event()
    assert await RawEvent.filter(id=event.id).update(payload="{}") == 1  # nothing stands in the way now


async def test_a_guard_that_lets_the_payload_through_is_no_guard(db: str) -> None:
    conn = connections.get("default")
    if db.startswith("postgres"):
        # Same name, same table, same event; the function no longer compares the payload.
        await conn.execute_script(
            "CREATE OR REPLACE FUNCTION proxy_raw_event_content_fixed() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF (to_jsonb(NEW) - 'status' - 'detail' - 'payload') = (to_jsonb(OLD) - 'status' - 'detail'"
            " - 'payload') THEN RETURN NEW; END IF; RAISE EXCEPTION 'UPDATE on raw_event % refused: only its"
            " processing status and detail may change', OLD.id USING ERRCODE = 'restrict_violation'; END $$;"
        )
    else:
        await conn.execute_script(
            "DROP TRIGGER raw_event_content_fixed; CREATE TRIGGER raw_event_content_fixed BEFORE UPDATE ON"
            ' raw_event WHEN NOT (NEW."id" IS OLD."id") BEGIN SELECT RAISE(ABORT, \'UPDATE on raw_event'
            " refused: only its processing status and detail may change'); END;"
        )
    assert await missing_guards(conn) == ["raw_event_content_fixed"]
    if db.startswith("postgres"):  # disabled counts as missing too
        await conn.execute_script(
            "CREATE OR REPLACE FUNCTION proxy_raw_event_content_fixed() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF (to_jsonb(NEW) - 'status' - 'detail') = (to_jsonb(OLD) - 'status' - 'detail') THEN"
            " RETURN NEW; END IF; RAISE EXCEPTION 'UPDATE on raw_event % refused: only its processing status"
            " and detail may change', OLD.id USING ERRCODE = 'restrict_violation'; END $$;"
        )
        assert await missing_guards(conn) == []
        await conn.execute_script("ALTER TABLE raw_event DISABLE TRIGGER raw_event_content_fixed")
        assert await missing_guards(conn) == ["raw_event_content_fixed"]
