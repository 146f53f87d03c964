"""Group commit (PostgreSQL): statements that arrive while another is being written commit together,
each caller gets its own row or its own error, and a group runs in the order of its callers' keys."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from proxy import metrics
from proxy.db.group_commit import group_commit
from proxy.db.sql import SqlQuery

pytestmark = pytest.mark.postgres_only



@pytest.fixture
async def probe(db: str) -> None:
    if not db.startswith("postgres"):
        pytest.skip("group commit is PostgreSQL's (SQLite takes one writer at a time)")
    await connections.get("default").execute_script("CREATE TABLE probe (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")


def _groups() -> tuple[float, float]:
    """(groups written, statements written) so far."""
    read = metrics.REGISTRY.get_sample_value
    return (
        read("proxy_group_commit_statements_count") or 0.0,
        read("proxy_group_commit_statements_sum") or 0.0,
    )


async def _insert(k: int, v: str, order: str = "") -> dict:
    q = SqlQuery()
    # It also says how many rows it saw: in a group, those of the statements before it.
    sql = f"INSERT INTO probe (k, v) VALUES ({q.p(k)}, {q.p(v)}) RETURNING k, v, (SELECT count(*) FROM probe) AS seen"
    return await group_commit(q).fetch_row(q, sql, order=order)


async def _stored() -> dict[int, str]:
    rows = await connections.get("default").execute_query_dict("SELECT k, v FROM probe")
    return {row["k"]: row["v"] for row in rows}


@pytest.mark.usefixtures("probe")
async def test_statements_that_arrive_together_commit_as_one_group_in_key_order() -> None:
    groups_before, statements_before = _groups()
    # The first finds nothing being written and goes alone; the other nine wait for it and go together,
    # in the order of their keys (given here in reverse of their arrival).
    rows = await asyncio.gather(*(_insert(k, f"v{k}", order=f"{100 - k:03d}") for k in range(10)))
    groups_after, statements_after = _groups()
    assert (groups_after - groups_before, statements_after - statements_before) == (2, 10)
    assert [(row["k"], row["v"]) for row in rows] == [(k, f"v{k}") for k in range(10)]
    assert rows[0]["seen"] == 0  # alone, before anything else
    # k=9 has the smallest key of the group, so it ran first and saw only k=0; k=1 ran last.
    assert [rows[k]["seen"] for k in range(9, 0, -1)] == list(range(1, 10))
    assert await _stored() == {k: f"v{k}" for k in range(10)}


@pytest.mark.usefixtures("probe")
async def test_a_failing_statement_fails_alone_and_the_rest_of_its_group_commits() -> None:
    await _insert(5, "already there")
    failed_before = metrics.REGISTRY.get_sample_value("proxy_group_commit_failed_total") or 0.0
    outcome = await asyncio.gather(*(_insert(k, f"v{k}") for k in range(9)), return_exceptions=True)
    assert isinstance(outcome[5], IntegrityError)
    assert metrics.REGISTRY.get_sample_value("proxy_group_commit_failed_total") == failed_before + 1
    assert [row["k"] for n, row in enumerate(outcome) if n != 5] == [0, 1, 2, 3, 4, 6, 7, 8]
    assert await _stored() == {**{k: f"v{k}" for k in range(9)}, 5: "already there"}


@pytest.mark.usefixtures("probe")
async def test_a_caller_that_stops_waiting_does_not_stop_its_statement() -> None:
    first = asyncio.create_task(_insert(1, "first"))
    second = asyncio.create_task(_insert(2, "second"))  # waits for the first: in the next group
    await asyncio.sleep(0)
    second.cancel()
    assert (await first)["k"] == 1
    with pytest.raises(asyncio.CancelledError):
        await second
    for _ in range(100):  # the group of the second is written by a task of its own
        if len(await _stored()) == 2:
            break
        await asyncio.sleep(0.01)
    assert await _stored() == {1: "first", 2: "second"}
