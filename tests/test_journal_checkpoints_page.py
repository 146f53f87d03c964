"""The checkpoints page: managers see the public key and the kept checkpoints to copy; operators do not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from proxy.accounts import hash_password
from proxy.audit import checkpoints
from proxy.models import Operator, Role
from proxy.settings import Settings
from tests.browser_fixtures import PASSWORD, log_in
from tests.test_journal_checkpoints import KEY


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, journal_key=KEY, journal_checkpoint_dir=str(tmp_path / "cps"))


async def _account(role: Role) -> Operator:
    return await Operator.create(login=f"{role.value}1", password_hash=hash_password(PASSWORD), role=role)


async def test_managers_see_the_key_and_each_checkpoint(client, tmp_path: Path) -> None:
    await log_in(client, await _account(Role.MANAGER))
    response = await client.get("/journal/checkpoints")
    assert response.status == 200
    assert "Контрольных точек пока нет." in await response.text()  # the Russian UI
    issued = await checkpoints.issue(KEY, directory=tmp_path / "cps", webhook=None)
    (tmp_path / "cps" / "checkpoint-000000099999.txt").write_text("forged\n\n\u2014 x y\n")
    body = await (await client.get("/journal/checkpoints")).text()
    assert KEY.verifier.text() in body
    assert issued.path.read_text().split("\n")[2] in body  # the root hash, to copy
    assert f"записей: {issued.checkpoint.size}, подпись верна" in body
    assert "checkpoint-000000099999.txt:" in body and "подпись неверна" in body
    assert body.index("checkpoint-000000099999.txt") < body.index(issued.path.name)  # newest first


async def test_operators_may_not_open_it(client) -> None:
    await log_in(client, await _account(Role.OPERATOR))
    response = await client.get("/journal/checkpoints")
    assert response.status == 403
