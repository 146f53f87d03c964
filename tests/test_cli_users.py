"""`proxy user link-vk` / `link-telegram`: an account linked to its own user id on each network, once, with
a refusal that changes nothing for a bad id, an id another account has, or an unknown login."""

from __future__ import annotations

from proxy import db as proxy_db
from proxy.models import JournalEntry, Operator
from tests.test_cli_rules import proxy  # noqa: F401 (the fixture)


async def _accounts(db_url: str) -> dict[str, tuple[int | None, int | None]]:
    async with proxy_db.database(db_url):
        rows = await Operator.all().values_list("login", "vk_user_id", "telegram_user_id")
        return {login: (vk, telegram) for login, vk, telegram in rows}


async def _links(db_url: str) -> list[tuple[str, dict]]:
    async with proxy_db.database(db_url):
        entries = await JournalEntry.filter(action__startswith="account.link").order_by("id")
        return [(e.action, e.params) for e in entries]


async def test_an_account_is_linked_on_each_network_and_refusals_change_nothing(db_url: str, proxy) -> None:  # noqa: F811
    async with proxy_db.database(db_url):
        await Operator.create(login="olga", password_hash="x")
        await Operator.create(login="boris", password_hash="x")

    assert await proxy("user", "link-telegram", "olga", "424242") == (0, "olga is Telegram user 424242\n", "")
    assert await proxy("user", "link-vk", "olga", "555") == (0, "olga is VK user 555\n", "")
    linked = {"olga": (555, 424242), "boris": (None, None)}
    assert await _accounts(db_url) == linked

    for argv, reason in (
        (("boris", "424242"), "Telegram user 424242 is already linked to olga"),
        (("boris", "0"), "a Telegram user id is a positive number"),
        (("nobody", "7"), "no account named nobody"),
    ):
        status, out, err = await proxy("user", "link-telegram", *argv)
        assert (status, out) == (2, "") and reason in err, (argv, status, err)
    status, _out, err = await proxy("user", "link-telegram", "boris", "abc")
    assert status == 2 and "invalid int value" in err
    assert await _accounts(db_url) == linked

    account_id = (await _link_ids(db_url))["olga"]
    assert await _links(db_url) == [
        ("account.link_telegram", {"login": "olga", "telegram_user_id": 424242, "account_id": account_id}),
        ("account.link_vk", {"login": "olga", "vk_user_id": 555, "account_id": account_id}),
    ]


async def _link_ids(db_url: str) -> dict[str, int]:
    async with proxy_db.database(db_url):
        return dict(await Operator.all().values_list("login", "id"))


async def test_adding_a_user_with_no_terminal_and_no_password_says_how_instead_of_a_traceback(
    db_url: str,
) -> None:
    import asyncio  # noqa: PLC0415
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "user", "add", "nina",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DATABASE_URL": db_url}, start_new_session=True,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 2, err
    assert "--password-stdin" in err.decode() and "Traceback" not in err.decode()
    assert await _accounts(db_url) == {}
