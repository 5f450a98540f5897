"""The engine's state file is written in the order saves were asked, whichever thread writes:
the balances after a sync are written aside (beside the vault's answer), the rest at once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from services.engine import engine_state
from services.engine.engine_state import EngineState, EngineStateFile


async def test_a_save_aside_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    file = EngineStateFile(str(tmp_path / "state.json"))
    await file.save_aside(EngineState(started=True, mode="paper"))
    assert file.load().started and file.load().mode == "paper"


async def test_an_older_save_that_lands_late_never_overwrites_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The aside write of an older state is held until a newer save has been written: it is
    skipped, and the file keeps the newer state."""
    file = EngineStateFile(str(tmp_path / "state.json"))
    release = threading.Event()
    held: list[bool] = []
    real_to_thread = asyncio.to_thread

    async def late_thread(function, *args):  # type: ignore[no-untyped-def]
        held.append(True)
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        return await real_to_thread(function, *args)

    monkeypatch.setattr(engine_state.asyncio, "to_thread", late_thread)
    older = asyncio.create_task(file.save_aside(EngineState(started=False, mode="old")))
    await asyncio.sleep(0.05)
    assert held == [True]              # rendered, its write not yet done
    file.save(EngineState(started=True, mode="new"))
    release.set()
    await older
    assert file.load().mode == "new" and file.load().started
