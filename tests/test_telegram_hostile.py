"""Hostile input to the Telegram side: the webhook (its path, its secret header, its body), a bot's
registration and `proxy user link-telegram`. Bad input is refused in words (4xx) and changes nothing; an
update Telegram will deliver again is never answered 503 for ever; nothing answers 500.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy import communities
from proxy import db as proxy_db
from proxy.communities import CommunityError
from proxy.models import Community, Conversation, Item, JournalEntry, Operator, RawEvent
from proxy.settings import Settings
from tests.test_cli_rules import proxy  # noqa: F401 (the fixture)

TOKEN = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
BOT_ID = 123456789
SECRET = "right_secret-1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
VK_GROUP_ID = 191949777


@pytest.fixture
async def bot(client: TestClient, settings: Settings) -> Community:
    """A bot served by webhook, another bot, and a VK community, all with secrets of their own."""
    served = await communities.add_bot(settings, name="Shop", bot_token=TOKEN, secret=SECRET)
    other = "987654321:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
    await communities.add_bot(settings, name="Other", bot_token=other, secret="other_secret")
    await Community.create(
        vk_group_id=VK_GROUP_ID, name="Club", callback_secret=SECRET, confirmation_code="c"
    )
    return served


def _update(update_id: int, kind: str, **fields: Any) -> bytes:
    return json.dumps({"update_id": update_id, kind: fields}).encode()


def _private(update_id: int, text: str = "hi") -> bytes:
    return _update(
        update_id, "message", message_id=update_id, date=1700000000, text=text,
        chat={"id": 7, "type": "private"}, **{"from": {"id": 7, "is_bot": False, "first_name": "X"}},
    )  # fmt: skip


async def _post(client: TestClient, path: str, body: bytes, secret: str | None = SECRET) -> tuple[int, str]:
    headers = {} if secret is None else {HEADER: secret}
    response = await client.post(path, data=body, headers=headers)
    return response.status, await response.text()


async def _written() -> tuple[int, int, int]:
    return await RawEvent.all().count(), await Item.all().count(), await Conversation.all().count()


# --- the path and the secret -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/callback/telegram/-123456789", SECRET),
        ("/callback/telegram/0", SECRET),
        ("/callback/telegram/" + "9" * 40, SECRET),
        ("/callback/telegram/12345678x", SECRET),
        ("/callback/telegram/١٢٣", SECRET),  # digits, but not ASCII ones
        ("/callback/telegram/555", SECRET),  # no such bot
        (f"/callback/telegram/{VK_GROUP_ID}", SECRET),  # a VK group's id, with its secret
        (f"/callback/vk/{BOT_ID}", SECRET),  # the bot's id on VK's endpoint
        (f"/callback/telegram/{BOT_ID}", None),
        (f"/callback/telegram/{BOT_ID}", "other_secret"),  # the right secret of another bot
        (f"/callback/telegram/{BOT_ID}", SECRET + "x"),
        (f"/callback/telegram/{BOT_ID}", "x" * 8000),
    ],
)
async def test_a_wrong_bot_or_secret_is_refused_and_writes_nothing(
    client: TestClient, bot: Community, path: str, secret: str | None
) -> None:
    status, _text = await _post(client, path, _private(1), secret)
    assert status in (400, 403, 404)
    assert await _written() == (0, 0, 0)


async def _raw_request(client: TestClient, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return status_line, rest.partition(b"\r\n\r\n")[2]


async def test_a_secret_header_that_is_not_utf8_is_forbidden_not_a_500(
    client: TestClient, bot: Community
) -> None:
    head = (
        b"POST /callback/telegram/%d HTTP/1.1\r\nHost: proxy\r\n" % BOT_ID
        + HEADER.encode()
        + b": \xff\xfe"
        + SECRET.encode()
        + b"\r\n"
    )
    status_line, body = await _raw_request(client, head, _private(1))
    assert status_line == b"HTTP/1.1 403 Forbidden", (status_line, body)
    assert await _written() == (0, 0, 0)


# --- the body ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{", "the body is not JSON"),
        (b"", "the body is not JSON"),
        (b'{"update_id": 4, "message": {"x": NaN}}', "the body is not JSON"),
        (b'{"update_id": 3, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "the body is not JSON"),
        (b"[1, 2]", "the body is not a Telegram update"),
        (b'"update"', "the body is not a Telegram update"),
        (b"{}", "the update has no usable update_id"),
        (b'{"update_id": -1, "message": {}}', "the update has no usable update_id"),
        (b'{"update_id": "5", "message": {}}', "the update has no usable update_id"),
        (b'{"update_id": 5.0, "message": {}}', "the update has no usable update_id"),
        (b'{"update_id": true, "message": {}}', "the update has no usable update_id"),
        (b'{"update_id": 9223372036854775808, "message": {}}', "the update has no usable update_id"),
    ],
)
async def test_a_body_that_is_no_update_is_refused_in_words_and_writes_nothing(
    client: TestClient, bot: Community, body: bytes, reason: str
) -> None:
    assert await _post(client, f"/callback/telegram/{BOT_ID}", body) == (400, reason)
    assert await _written() == (0, 0, 0)


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, bot: Community, settings: Settings
) -> None:
    body = _private(1, text="x" * settings.callback_max_bytes)
    response = await client.post(
        f"/callback/telegram/{BOT_ID}", data=io.BytesIO(body), headers={HEADER: SECRET}
    )
    status = response.status
    assert status == 413
    assert await _written() == (0, 0, 0)


async def test_an_update_id_seen_before_with_other_content_changes_nothing(
    client: TestClient, bot: Community
) -> None:
    assert await _post(client, f"/callback/telegram/{BOT_ID}", _private(5, "first")) == (200, "ok")
    assert await _post(client, f"/callback/telegram/{BOT_ID}", _private(5, "second")) == (200, "ok")
    assert await Item.all().values_list("text", flat=True) == ["first"]
    assert await RawEvent.all().count() == 1


def _business(update_id: int, kind: str, connection: str) -> bytes:
    if kind == "deleted_business_messages":
        return _update(
            update_id,
            kind,
            business_connection_id=connection,
            chat={"id": 7, "type": "private"},
            message_ids=[1],
        )
    return _update(
        update_id, kind, business_connection_id=connection, message_id=1, date=1700000000, edit_date=1700000001,
        chat={"id": 7, "type": "private"}, text="x", **{"from": {"id": 7, "is_bot": False, "first_name": "X"}},
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["business_message", "edited_business_message", "deleted_business_messages"])
@pytest.mark.parametrize(
    "connection",
    ["c" * 300, "c" * 120, "conn\x00ection", "conn\ud800ection"],
    ids=["300", "120", "NUL", "surrogate"],
)
async def test_a_business_connection_id_no_row_can_hold_is_kept_raw_not_refused_for_ever(
    client: TestClient, bot: Community, kind: str, connection: str
) -> None:
    # Telegram delivers an update again after each 503: one its business connection id cannot be stored
    # under would never be acknowledged (and would hold up a polling bot's every later update).
    assert await _post(client, f"/callback/telegram/{BOT_ID}", _business(1, kind, connection)) == (200, "ok")
    [raw] = await RawEvent.all()
    assert raw.status == "ignored" and "business_connection_id" in raw.detail
    assert await Item.all().count() == 0 and await Conversation.all().count() == 0
    # A usable connection id of the same chat is served as before.
    assert await _post(client, f"/callback/telegram/{BOT_ID}", _business(2, kind, "AbCdEf-business-1")) == (
        200,
        "ok",
    )


@pytest.mark.parametrize(
    "message",
    [
        {"chat": {"type": "private"}},  # a chat without id
        {"chat": {"id": "7", "type": "private"}},
        {"chat": {"id": 7, "type": "private"}, "message_id": "1"},
        {"chat": {"id": 7, "type": "secret"}},
        {"chat": 7},
    ],
)
async def test_a_message_lacking_what_identifies_it_is_kept_raw_and_ignored(
    client: TestClient, bot: Community, message: dict[str, Any]
) -> None:
    body = json.dumps(
        {"update_id": 9, "message": {"message_id": 1, "date": 1, "text": "x", **message}}
    ).encode()
    assert await _post(client, f"/callback/telegram/{BOT_ID}", body) == (200, "ok")
    [raw] = await RawEvent.all()
    assert raw.status == "ignored"
    assert await Item.all().count() == 0


async def test_odd_fields_of_a_message_are_read_as_far_as_they_go(client: TestClient, bot: Community) -> None:
    odd = [
        {"text": ["not", "text"]},
        {"text": "a\x00b"},
        {"text": "ab", "entities": [{"type": "text_link", "offset": 100, "length": 5, "url": "http://x"}, 7]},
        {"text": "ab", "entities": [{"type": "url", "offset": "a", "length": None}]},
        {"date": 10**12},  # past datetime's range
        {"date": "yesterday"},
        {"from": None},
        {"reply_to_message": {"message_id": "x"}},
        {"forward_origin": {"type": "user", "sender_user": "x", "date": "y"}},
        {"caption": {"a": 1}, "photo": [{"file_id": 5}, "junk"]},
    ]
    for number, fields in enumerate(odd, start=1):
        message = {
            "message_id": number, "date": 1700000000, "text": "x", "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "X"}, **fields,
        }  # fmt: skip
        body = json.dumps({"update_id": number, "message": message}).encode()
        assert await _post(client, f"/callback/telegram/{BOT_ID}", body) == (200, "ok"), fields
    assert await RawEvent.all().count() == len(odd)
    assert await Item.all().count() == len(odd)
    assert not await RawEvent.filter(detail__startswith="normalizer error").exists()


async def test_a_business_deletion_of_unknown_messages_is_stored_once(
    client: TestClient, bot: Community
) -> None:
    body = _update(
        3, "deleted_business_messages", business_connection_id="c1", chat={"id": 7, "type": "private"},
        message_ids=[999, 1000, 999, 0, -1, "x", True],
    )  # fmt: skip
    for _ in range(2):
        assert await _post(client, f"/callback/telegram/{BOT_ID}", body) == (200, "ok")
    assert sorted(await RawEvent.all().values_list("event_id", flat=True)) == ["tg:3:1000", "tg:3:999"]
    assert await Item.all().count() == 2


# --- registering a bot --------------------------------------------------------------------------------


async def test_a_bot_secret_of_256_characters_is_refused_in_words(bot: Community, settings: Settings) -> None:
    token = "222:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
    with pytest.raises(CommunityError) as refused:
        await communities.add_bot(settings, name="Long", bot_token=token, secret="a" * 256)
    assert refused.value.field == "secret"
    assert not await Community.filter(vk_group_id=222).exists()
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role="admin")
    with pytest.raises(CommunityError) as refused:
        await communities.update_bot(
            settings, bot.id, by=admin, name="Shop", mode=bot.mode, secret="a" * 256,
            sla_seconds=900, business_hours=None,
        )  # fmt: skip
    assert refused.value.field == "secret"
    assert (await Community.get(id=bot.id)).callback_secret == SECRET


@pytest.mark.parametrize(
    ("token", "secret", "field"),
    [
        ("0:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ", SECRET, "bot_token"),  # bot 0: no webhook could reach it
        ("000:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ", SECRET, "bot_token"),
        ("333:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ\n", SECRET, "bot_token"),
        ("333:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ", SECRET + "\n", "secret"),  # no header can carry it
    ],
)
async def test_a_token_or_secret_telegram_would_not_take_is_refused(
    bot: Community, settings: Settings, token: str, secret: str, field: str
) -> None:
    before = await Community.all().count(), await JournalEntry.all().count()
    with pytest.raises(CommunityError) as refused:
        await communities.add_bot(settings, name="Bad", bot_token=token, secret=secret)
    assert refused.value.field == field
    assert (await Community.all().count(), await JournalEntry.all().count()) == before


# --- proxy user link-telegram ---------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["telegram", "vk"])
async def test_linking_a_user_id_no_column_can_hold_is_refused_in_words(
    db_url: str,
    proxy,  # noqa: F811
    network: str,
) -> None:
    async with proxy_db.database(db_url):
        await Operator.create(login="olga", password_hash="x")
    for user_id in (str(2**63), "9" * 40):
        status, out, err = await proxy("user", f"link-{network}", "olga", user_id)
        assert (status, out) == (2, ""), err
        assert "user id is a positive number" in err
    async with proxy_db.database(db_url):
        assert await Operator.filter(telegram_user_id__not_isnull=True).count() == 0
        assert await Operator.filter(vk_user_id__not_isnull=True).count() == 0
        assert not await JournalEntry.filter(action__startswith="account.link").exists()


# --- the statistics' exports, asked for with an API token -------------------------------------------


async def test_an_api_token_that_is_not_utf8_is_unknown_not_a_500(client: TestClient) -> None:
    head = b"GET /stats/operators.csv?network=telegram HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer \xff\xfeabc\r\n"
    status_line, body = await _raw_request(client, head, b"")
    assert status_line == b"HTTP/1.1 401 Unauthorized", (status_line, body)
    assert b"unknown or revoked API token" in body


async def test_the_longest_business_connection_id_a_key_can_hold_is_served(
    client: TestClient, bot: Community
) -> None:
    # 77 characters beside the largest chat and message ids: 126 of the column's 128 (two negative ids of 20
    # characters would take the last two).
    largest = 2**63 - 1
    body = _update(
        1, "business_message", business_connection_id="c" * 77, message_id=largest, date=1700000000,
        chat={"id": largest, "type": "private"}, text="x", **{"from": {"id": 7, "is_bot": False, "first_name": "X"}},
    )  # fmt: skip
    assert await _post(client, f"/callback/telegram/{BOT_ID}", body) == (200, "ok")
    [item] = await Item.all()
    assert len(item.key) == 126 and item.text == "x"
