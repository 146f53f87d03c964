"""VK tokens and the callback secret stay secret: encrypted at rest, absent from logs, pages, exports and
backups; a wrong callback secret is refused the same way wherever it differs from the right one.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from tortoise import connections

from proxy import actions, refusals
from proxy.audit.backup import export_backup
from proxy.communities import community_token
from proxy.crypto import SecretError, decrypt_token
from proxy.models import Community, JournalEntry, OutboxRow, OutboxStatus
from tests.actions_fixtures import drain
from tests.browser_fixtures import *  # noqa: F403
from tests.ingest_samples import table_counts


def secrets_of(world, community: Community | None = None) -> list[str]:
    values = [world.group.community_token, world.group.admin_token]
    assert all(len(v) >= 16 for v in values), "the emulator's tokens are long enough to grep for"
    return values


async def test_tokens_are_encrypted_at_rest(db, community, world, vk_settings) -> None:
    rows = await connections.get("default").execute_query_dict("SELECT * FROM community")
    raw = json.dumps(rows, default=str)
    for token in secrets_of(world):
        assert token not in raw
    assert rows[0]["community_token_enc"] and rows[0]["admin_token_enc"]
    # The key comes from PROXY_SECRET_KEY: another key cannot read them.
    assert community_token(vk_settings, community) == world.group.community_token
    with pytest.raises(SecretError):
        decrypt_token("another-secret-key-0123456789", rows[0]["community_token_enc"])


async def test_tokens_never_reach_the_logs_through_actions_and_vk_errors(
    caplog, community, operator, mirror, world, vk_settings
) -> None:
    caplog.set_level(logging.DEBUG)
    conversation, item, _ = await mirror.message(world.members[0], "question")
    comment_conv, comment_item, _ = await mirror.comment(world.members[1], world.post, "comment")
    faults = world.state.faults
    faults.error("messages.send", 5, times=1)  # authorization failed: permanent
    faults.error("wall.deleteComment", 6, times=2)  # too many requests: retried
    faults.drop("groups.ban", times=1)  # the connection drops: a network error
    await actions.reply(vk_settings, operator, conversation.id, "first answer")
    await actions.delete_comment(vk_settings, operator, comment_item.id)
    await actions.ban_author(vk_settings, operator, comment_conv.id, reason=0, comment="", until=None)
    await actions.reply(vk_settings, operator, conversation.id, "second answer")
    for _ in range(6):
        await OutboxRow.filter(status=OutboxStatus.PENDING).update(next_attempt_at=item.created_at)
        await drain(vk_settings)
    statuses = await OutboxRow.all().order_by("id").values_list("status", "error_code")
    assert statuses[0] == (OutboxStatus.FAILED, 5), statuses
    assert any(code in (6, None) for _, code in statuses[1:])
    assert caplog.records, "nothing was logged: the test would prove nothing"
    text = "\n".join(record.getMessage() + str(record.exc_text or "") for record in caplog.records)
    for token in secrets_of(world):
        assert token not in text


async def test_tokens_and_secret_never_appear_in_pages_or_exports(
    client_for, manager, community, mirror, world, vk_settings
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "question")
    client = await client_for(manager)
    bodies = []
    for url in [
        "/",
        f"/conversations/{conversation.id}",
        "/metrics",
        "/healthz",
        "/audit/journal.csv",
        "/stats/communities.csv",
        "/stats/conversations.csv",
    ]:
        response = await client.get(url)
        assert response.status == 200, url
        bodies.append(await response.text())
    for token in [*secrets_of(world), "callback-secret"]:
        assert not any(token in body for body in bodies), token


async def test_backups_hold_tokens_only_encrypted(db, community, world, tmp_path: Path) -> None:
    await export_backup(tmp_path / "backup")
    files = list((tmp_path / "backup").iterdir())
    assert any(f.name.startswith("community") for f in files)
    dump = "".join(f.read_text(encoding="utf-8") for f in files)
    assert community.community_token_enc in dump  # the row is there, encrypted
    for token in secrets_of(world):
        assert token not in dump


async def test_a_wrong_callback_secret_is_refused_alike_wherever_it_differs(
    client_for, operator, community
) -> None:
    """Behaviour of the constant-time comparison (hmac.compare_digest in proxy/connectors/vk/callback.py):
    a guess right but for its last character gets exactly what a guess wrong from the first one gets."""
    client = await client_for(operator)
    right = "callback-secret"
    guesses = [right[:-1] + "X", "X" + right[1:], right + "X", right[:-1], "", "x" * 4096, right.upper()]
    event = {
        "type": "message_allow",
        "group_id": community.vk_group_id,
        "event_id": "e1",
        "v": "5.199",
        "object": {"user_id": 1, "key": ""},
    }
    answers = set()
    for guess in guesses:
        before = await table_counts()
        body = json.dumps({**event, "secret": guess}).encode()
        response = await client.post(f"/callback/vk/{community.vk_group_id}", data=io.BytesIO(body))
        answers.add((response.status, await response.text(), response.headers.get("Content-Length")))
        assert await table_counts() == before  # counted, journaled once a minute (proxy/refusals.py)
    assert answers == {(403, "forbidden", "9")}
    await refusals.flush()
    assert sum(e.params["count"] for e in await JournalEntry.filter(action="callback.bad_secret")) == len(guesses)
    ok = await client.post(
        f"/callback/vk/{community.vk_group_id}",
        data=io.BytesIO(json.dumps({**event, "secret": right}).encode()),
    )
    assert (ok.status, await ok.text()) == (200, "ok")
