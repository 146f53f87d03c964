"""Logins during an incident (issue 19): argon2 runs in a worker thread, never on the event loop that
answers VK's callbacks and feeds the live streams."""

from __future__ import annotations

import threading

from proxy import accounts
from proxy.models import Operator, Role


async def test_password_hashing_and_checking_run_off_the_event_loop(db, monkeypatch) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    real = accounts._hasher

    class RecordingHasher:
        def hash(self, password: str) -> str:
            threads.append(threading.get_ident())
            return real.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            threads.append(threading.get_ident())
            return real.verify(password_hash, password)

    monkeypatch.setattr(accounts, "_hasher", RecordingHasher())
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    created = await accounts.create_operator("anna", "correct horse 1", created_by=admin)
    assert await accounts.authenticate("anna", "correct horse 1") == created
    assert await accounts.authenticate("anna", "wrong horse") is None
    assert await accounts.authenticate("nobody", "correct horse 1") is None
    await accounts.reset_password(created.id, by=admin, password="battery staple 2")
    assert await accounts.authenticate("anna", "battery staple 2") == created
    assert len(threads) == 6
    assert loop_thread not in threads
