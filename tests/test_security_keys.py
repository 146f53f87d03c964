"""The secret key signs every session and encrypts VK tokens: production refuses a public or weak one.

A session cookie forged with the README's development key opened the admin pages of a production
instance (issue "Security: sessions that end, keys that are secret"); these tests show production no longer
starts with such a key, and that `proxy key generate` makes one it accepts.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from proxy.crypto import estimated_key_bits, generate_secret_key
from proxy.runtime.app import create_app
from proxy.settings import DEVELOPMENT_SECRET_KEY, Settings, SettingsError

WEAK_KEYS = [
    DEVELOPMENT_SECRET_KEY,
    "aaaaaaaaaaaaaaaa",
    "a" * 200,
    "ab" * 100,
    secrets.token_hex(16),  # 128 bits
    "correct horse battery staple and more words",
    "development-only-secret-key-change-me-please-really-now",
]


def production(key: str) -> Settings:
    return Settings.from_env({"PROXY_PRODUCTION": "true", "PROXY_SECRET_KEY": key})


@pytest.mark.parametrize("key", WEAK_KEYS)
def test_production_refuses_a_public_or_weak_key(key: str) -> None:
    with pytest.raises(SettingsError, match="proxy key generate"):
        production(key)


def test_the_development_key_is_named_as_public() -> None:
    with pytest.raises(SettingsError, match="public development key"):
        production(DEVELOPMENT_SECRET_KEY)


def test_production_accepts_generated_and_256_bit_keys() -> None:
    for _ in range(500):
        assert production(generate_secret_key()).production
    production("c21163920a6927aaf6fa8386ea0932cc012c9e0723f14b0f33012fc184facd28")  # token_hex(32)
    production("l6bRELMvh++oxcTRdf0p7C1iSLZ9+Yaf7kYdgo4UNOI=")  # base64 of 32 random bytes


def test_the_estimate_counts_what_a_key_spells() -> None:
    assert estimated_key_bits("aaaaaaaaaaaaaaaa") == 0
    assert estimated_key_bits(secrets.token_hex(16)) <= 128
    assert estimated_key_bits(generate_secret_key()) >= 256


def run_proxy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_in_production_with_the_development_key_stops_with_one_line() -> None:
    done = run_proxy(
        "serve",
        "--port",
        "1",
        env={"PROXY_PRODUCTION": "true", "PROXY_SECRET_KEY": DEVELOPMENT_SECRET_KEY},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: PROXY_SECRET_KEY is the public development key")
    assert "proxy key generate" in done.stderr and "Traceback" not in done.stderr


def test_key_generate_works_even_where_the_configured_key_is_refused() -> None:
    done = run_proxy("key", "generate", env={"PROXY_PRODUCTION": "true", "PROXY_SECRET_KEY": "aaaaaaaaaaaaaaaa"})
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert production(key).secret_key == key


async def test_an_instance_outside_production_warns_loudly_at_start(settings: Settings, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="proxy.runtime.app"):
        async with TestClient(TestServer(create_app(settings))):
            pass
    assert any("NOT IN PRODUCTION MODE" in record.getMessage() for record in caplog.records)


async def test_production_starts_without_the_warning(settings: Settings, caplog) -> None:
    import dataclasses

    strong = dataclasses.replace(settings, production=True, secret_key=generate_secret_key())
    with caplog.at_level(logging.WARNING, logger="proxy.runtime.app"):
        async with TestClient(TestServer(create_app(strong))):
            pass
    assert not any("NOT IN PRODUCTION MODE" in record.getMessage() for record in caplog.records)
