"""The running service writes MACs with the configured journal key, and stops when it stops."""

from __future__ import annotations

from dataclasses import replace

import pytest

from proxy.audit import journal
from proxy.audit.verify import verify_chain
from proxy.models import ActorKind
from proxy.settings import Settings
from tests.test_journal_checkpoints import KEY


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, journal_key=KEY)


async def test_entries_carry_the_key_s_mac_while_the_app_runs(client) -> None:
    entry = await journal.record("note.add", actor_kind=ActorKind.SYSTEM, text="x")
    assert entry.mac == journal.entry_mac(entry, KEY.mac_secret())
    assert (await verify_chain(key=KEY)).keyed_from == entry.id
    await client.close()
    assert journal._mac_secret is None  # the next app (or test) starts without it
