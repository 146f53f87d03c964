"""The service starts, answers health checks, serves the login page, and refuses bad settings."""

from __future__ import annotations

import pytest

from proxy import accounts
from proxy.models import JournalEntry, Operator, Role
from proxy.settings import Settings, SettingsError


async def test_healthz_answers_when_database_does(client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_metrics_in_prometheus_text_format(client) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    assert "# TYPE proxy_events_ingested_total counter" in await resp.text()


async def test_pages_need_login(client) -> None:
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/login")
    resp = await client.get("/login")
    assert resp.status == 200
    assert 'name="password"' in await resp.text()


async def test_log_in_and_out_journaled(client) -> None:
    await accounts.create_operator("anna", "correct horse", Role.OPERATOR)
    resp = await client.post("/login", data={"login": "anna", "password": "wrong one!"})
    assert resp.status == 401
    resp = await client.post("/login", data={"login": "anna", "password": "correct horse", "next": "/"})
    assert resp.status == 200 and 'id="conversation-list"' in await resp.text()
    actions = [e.action for e in await JournalEntry.all().order_by("id")]
    assert actions == ["account.create", "auth.login_failed", "auth.login"]


async def test_disabled_operator_session_ends_at_once(client) -> None:
    await accounts.create_operator("boris", "correct horse", Role.OPERATOR)
    await client.post("/login", data={"login": "boris", "password": "correct horse"})
    assert (await client.get("/", allow_redirects=False)).status == 200
    await Operator.filter(login="boris").update(is_active=False)
    assert (await client.get("/", allow_redirects=False)).status == 302


def test_production_needs_secret_key() -> None:
    with pytest.raises(SettingsError, match="PROXY_SECRET_KEY must be set"):
        Settings.from_env({"PROXY_PRODUCTION": "true"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
        ({"PROXY_PORT": "eighty"}, "PROXY_PORT must be a whole number"),
        ({"PROXY_TIMEZONE": "Mars/Base"}, "not a known time zone"),
        ({"PROXY_SECRET_KEY": "short"}, "at least 16 characters"),
    ],
)
def test_bad_settings_are_one_line_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
