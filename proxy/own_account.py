"""What a person changes on their own account page: their password and their language.

Unlike the admin operations of `proxy/accounts.py`, these act on the account of whoever asks, so they
need no admin; a new password needs the current one. Both are journaled with the person as the actor.
The log in throttle (web/throttle.py) counts a check of the current password as a log in attempt: the
web view takes the attempt before calling `change_own_password`, so a session left open cannot be used
to guess the password any faster than the log in page allows.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from proxy.accounts import AccountError, hash_password_off_loop, password_matches_off_loop
from proxy.audit import journal
from proxy.models import ActorKind, Operator, Outcome
from proxy.password_policy import password_problem

# "" follows the browser's language (web/i18n.py `preferred_locale`); the others are a choice.
LOCALE_CHOICES = ("", "ru", "en")


class WrongPassword(AccountError):
    """The current password given was not the account's."""


def check_new_password(current: str, new: str, repeated: str) -> None:
    """Refuse a password change that cannot succeed, before the current password is checked (and
    counted as a log in attempt): a field left empty, two different new passwords, the policy."""
    if not current:
        raise AccountError("type your current password", field="current_password")
    if not new:
        raise AccountError("type the new password", field="new_password")
    if new != repeated:
        raise AccountError("the two new passwords differ: type the same one twice", field="repeat_password")
    problem = password_problem(new)
    if problem is not None:
        message, params = problem
        raise AccountError(message, field="new_password", **params)
    if new == current:
        raise AccountError("the new password is the current one: choose another", field="new_password")


async def change_own_password(
    operator: Operator, current: str, new: str, repeated: str, *, end_other_sessions: bool
) -> Operator:
    """Set a new password for `operator`, who gave their current one; journaled ("account.password_change").

    With `end_other_sessions`, every session of the account ends (the session version moves on): the
    caller keeps its own by carrying the returned account's version on. A refusal changes nothing.
    """
    check_new_password(current, new, repeated)
    if not await password_matches_off_loop(operator.password_hash, current):
        raise WrongPassword("the current password is wrong", field="current_password")
    password_hash = await hash_password_off_loop(new)
    async with in_transaction() as conn:
        account = await Operator.filter(id=operator.id).select_for_update().using_db(conn).first()
        if account is None or not account.is_active:
            raise AccountError("this account is disabled")
        if account.password_hash != operator.password_hash:
            # Changed since this request read it (another tab, an admin's reset): checked against a stale one.
            raise WrongPassword("the password changed meanwhile: log in again", field="current_password")
        account.password_hash = password_hash
        fields = ["password_hash"]
        if end_other_sessions:
            account.session_version += 1
            fields.append("session_version")
        await account.save(update_fields=fields, using_db=conn)
        await journal.record(
            "account.password_change",
            actor_kind=ActorKind.OPERATOR,
            operator_id=account.id,
            params={
                "login": account.login,
                "account_id": account.id,
                "other_sessions_ended": end_other_sessions,
            },
            outcome=Outcome.DONE,
            connection=conn,
        )
    return account


async def set_own_locale(operator: Operator, locale: str) -> bool:
    """Set the language `operator` reads the pages in ("" for the browser's); journaled
    ("account.locale"). Whether anything changed."""
    if locale not in LOCALE_CHOICES:
        raise AccountError("choose one of the languages offered", field="locale")
    async with in_transaction() as conn:
        account = await Operator.filter(id=operator.id).select_for_update().using_db(conn).first()
        if account is None:
            raise AccountError("this account does not exist")
        if account.locale == locale:
            return False
        before = account.locale
        account.locale = locale
        await account.save(update_fields=["locale"], using_db=conn)
        await journal.record(
            "account.locale",
            actor_kind=ActorKind.OPERATOR,
            operator_id=account.id,
            params={"login": account.login, "account_id": account.id, "from": before, "to": locale},
            outcome=Outcome.DONE,
            connection=conn,
        )
    operator.locale = locale
    return True
