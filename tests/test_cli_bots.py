"""`proxy community add --network telegram | connect | check` as an admin types them, against the Telegram
emulator over HTTP: connecting and checking leave the same journal entries as the admin pages' buttons
(before, the command line changed a bot's webhook with no trace in the journal)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy import db as proxy_db
from proxy.models import ActorKind, Community, JournalEntry, Network
from tests.test_cli_rules import proxy  # noqa: F401 (the fixture)
from tg_emulator import TgState, start_tg_emulator

SECRET = "Webhook_Secret-42"


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TgState]:
    state = TgState()
    state.add_bot("shop_help_bot", "Shop help")
    emulator = await start_tg_emulator(state, retry_schedule=(0.05,))
    monkeypatch.setenv("PROXY_TELEGRAM_API_BASE", emulator.base_url)
    monkeypatch.setenv("PROXY_PUBLIC_URL", "https://proxy.example")
    yield state
    await emulator.close()


async def _journal(db_url: str) -> list[tuple[str, str, str | None, dict]]:
    async with proxy_db.database(db_url):
        entries = await JournalEntry.filter(action__startswith="community.").order_by("id")
        return [(e.action, e.actor_kind, e.outcome, e.params) for e in entries]


async def _add_bot(proxy, tmp_path: Path, token: str, name: str = "Shop") -> tuple[int, str, str]:  # type: ignore[no-untyped-def]  # noqa: F811
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    add = ("community", "add", "--network", "telegram", "--name", name, "--bot-token-file", str(token_file))
    return await proxy(*add, "--secret", SECRET)


async def test_a_bot_connected_and_checked_from_the_command_line_is_journaled(
    db_url: str,
    proxy,  # noqa: F811
    telegram: TgState,
    tmp_path: Path,
) -> None:
    [bot] = telegram.bots.values()
    status, out, err = await _add_bot(proxy, tmp_path, bot.token)
    assert status == 0, err
    assert telegram.bots[bot.id].webhook is None  # adding calls nothing in Telegram

    status, out, err = await proxy("community", "connect", "--network", "telegram", str(bot.id))
    assert status == 0, (out, err)
    hook = telegram.bots[bot.id].webhook
    assert hook is not None and hook.url == f"https://proxy.example/callback/telegram/{bot.id}"
    status, out, err = await proxy("community", "check", "--network", "telegram", str(bot.id))
    assert status == 0 and "@shop_help_bot" in out, (out, err)

    journal = await _journal(db_url)
    assert [(action, actor, outcome) for action, actor, outcome, _ in journal] == [
        ("community.add", ActorKind.SYSTEM, None),
        ("community.connect", ActorKind.SYSTEM, "done"),
        ("community.test", ActorKind.SYSTEM, "done"),
    ]
    assert all(bot.token not in str(params) and SECRET not in str(params) for *_, params in journal)


async def test_a_vk_community_checked_from_the_command_line_is_journaled_even_when_it_fails(
    db_url: str,
    proxy,  # noqa: F811
) -> None:
    async with proxy_db.database(db_url):
        await Community.create(network=Network.VK, vk_group_id=5001, name="Club")
    status, out, _err = await proxy("community", "check", "5001")
    assert status == 1 and "failed" in out  # no token saved
    [(action, actor, outcome, params)] = await _journal(db_url)
    assert (action, actor, outcome, params["vk_group_id"]) == (
        "community.test",
        ActorKind.SYSTEM,
        "failed",
        5001,
    )


async def test_connecting_with_a_token_telegram_does_not_know_blames_the_token(
    db_url: str,
    proxy,  # noqa: F811
    telegram: TgState,
    tmp_path: Path,
) -> None:
    assert (await _add_bot(proxy, tmp_path, "7000000999:AAH0123456789abcdefghijklmnopqrstuvw", "Old"))[0] == 0
    status, out, _err = await proxy("community", "connect", "--network", "telegram", "7000000999")
    assert status == 1 and "Telegram refused the bot's token" in out and "webhook" not in out.split(":", 1)[1]
    [*_, (action, _actor, outcome, _params)] = await _journal(db_url)
    assert (action, outcome) == ("community.connect", "failed")


async def test_a_bot_is_found_by_its_id_in_the_proxy_without_network_and_an_unknown_one_is_refused(
    db_url: str,
    proxy,  # noqa: F811
    telegram: TgState,
    tmp_path: Path,
) -> None:
    [bot] = telegram.bots.values()
    assert (await _add_bot(proxy, tmp_path, bot.token))[0] == 0
    async with proxy_db.database(db_url):
        in_proxy = (await Community.get(network=Network.TELEGRAM, vk_group_id=bot.id)).id
    status, out, err = await proxy("community", "check", str(in_proxy))
    assert status == 0 and "@shop_help_bot" in out, (out, err)
    before = await _journal(db_url)
    status, out, err = await proxy("community", "check", "424242")
    assert (status, out) == (2, "") and "error: no community 424242" in err
    assert await _journal(db_url) == before
