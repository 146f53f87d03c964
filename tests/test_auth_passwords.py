"""Passwords: the common ones and the trivially guessable are refused with the reason, and a log in costs one
password hash check whatever the account (unknown, disabled, wrong password), so its time tells nothing.
"""

from __future__ import annotations

import pytest

from proxy import accounts
from proxy.accounts import AccountError
from proxy.models import Operator, Role
from proxy.password_policy import password_problem

REFUSED = [
    "12345678",
    "password",
    "Password",
    "PASSWORD1",
    "        ",
    "\t\t\t\t\t\t\t\t",
    "aaaaaaaaaaaa",
    "qwertyuiop",
    "йцукенгшщз",  # qwertyuiop typed in the Cyrillic layout
    "iloveyou",
    "short",
]
ACCEPTED = ["correct horse battery", "long-enough-1", "Тихий омут 1987", "pavel-password-1"]


@pytest.mark.parametrize("password", REFUSED)
def test_common_and_trivial_passwords_are_refused(password: str) -> None:
    assert password_problem(password) is not None


@pytest.mark.parametrize("password", ACCEPTED)
def test_other_passwords_are_accepted(password: str) -> None:
    assert password_problem(password) is None


async def test_creating_an_account_with_a_common_password_says_why(db) -> None:
    with pytest.raises(AccountError, match="most common ones, which guessers try first") as refused:
        await accounts.create_operator("olga", "password1", Role.OPERATOR)
    assert refused.value.field == "password"
    with pytest.raises(AccountError, match="at least 8 characters"):
        await accounts.create_operator("olga", " " * 8, Role.OPERATOR)
    assert await Operator.all().count() == 0


async def test_an_admin_cannot_set_a_common_password(db) -> None:
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    olga = await accounts.create_operator("olga", "correct horse battery", Role.OPERATOR)
    with pytest.raises(AccountError, match="most common"):
        await accounts.reset_password(olga.id, by=admin, password="12345678")
    assert (await Operator.get(id=olga.id)).session_version == olga.session_version


async def test_every_log_in_checks_one_hash_whatever_the_account(db, monkeypatch) -> None:
    await accounts.create_operator("olga", "correct horse battery", Role.OPERATOR)
    disabled = await accounts.create_operator("boris", "correct horse battery", Role.OPERATOR)
    await Operator.filter(id=disabled.id).update(is_active=False)
    checks: list[str] = []
    real = accounts.password_matches

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "password_matches", counted)
    attempts = {
        "unknown login": ("nobody", "correct horse battery"),
        "wrong password": ("olga", "wrong horse battery"),
        "disabled, right password": ("boris", "correct horse battery"),
        "disabled, wrong password": ("boris", "wrong horse battery"),
    }
    for name, (login, password) in attempts.items():
        checks.clear()
        assert await accounts.authenticate(login, password) is None, name
        assert len(checks) == 1, f"{name}: {len(checks)} hash checks"
