"""Property 45 with real processes: while the vault is away, no trade is made blind, and
nothing recorded before the crash is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from dne.vault.v1 import vault_pb2
from tests.integration.flow import (
    EventRecorder,
    account,
    pause_clock_at,
    perp_size,
    request_id,
    vault_key,
    wait_for,
)
from tests.kit.confirmations import confirm_stub
from tests.kit.databases import sqlite_url
from tests.kit.system import running_system

START = datetime(2026, 1, 15, 12, tzinfo=UTC)


async def test_vault_crash_blocks_trades_until_it_is_back_and_loses_nothing(tmp_path: Path) -> None:
    async with running_system(tmp_path, sqlite_url(tmp_path)) as running:
        stubs = running.stubs
        await pause_clock_at(stubs, START)
        events = EventRecorder(stubs)
        assert (await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode="paper"))).result.ok
        deposit_id = request_id()
        assert (await stubs.engine.Deposit(engine_pb2.DepositRequest(
            request_id=deposit_id, amount="3000"))).result.ok
        key = await vault_key(stubs)

        vault = running.system.processes["vault"]
        vault.kill()
        await vault.wait()

        refused = await confirm_stub(stubs.engine.OpenPosition, engine_pb2.OpenPositionRequest(
            request_id=request_id(), market="SOL-PERP", direction="short", size="1"))
        assert not refused.result.ok
        assert refused.result.error.code in {"VAULT_UNAVAILABLE", "TRADING_DISABLED"}
        assert refused.result.error.message
        assert perp_size(await account(stubs)) == 0  # nothing reached the venue

        await wait_for(lambda: events.of_type(engine_pb2.EVENT_TYPE_VAULT_SYNC_ERROR), timeout=15)
        status = (await stubs.engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest())).status
        assert not status.trading_enabled and status.blocked_reason

        # Back on its address: the engine re-syncs by itself (no person needed, issue 10);
        # ResetVault stays available and does the same at once.
        await vault.restart()

        async def trading_enabled() -> bool:
            reply = await stubs.engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest())
            return reply.status.trading_enabled

        await wait_for(trading_enabled, timeout=10)
        reset = await stubs.engine.ResetVault(engine_pb2.ResetVaultRequest(request_id=request_id()))
        assert reset.result.ok, reset.result.error
        open_id = request_id()
        opened = await confirm_stub(stubs.engine.OpenPosition, engine_pb2.OpenPositionRequest(
            request_id=open_id, market="SOL-PERP", direction="short", size="1"))
        assert opened.result.ok, opened.result.error
        assert perp_size(await account(stubs)) == Decimal(-1)

        trades = (await stubs.vault.ListTrades(vault_pb2.ListTradesRequest(key=key))).trades
        by_id = {trade.client_order_id: trade for trade in trades}
        assert by_id[deposit_id].status == common_pb2.TRADE_STATUS_FILLED
        assert by_id[open_id].status == common_pb2.TRADE_STATUS_FILLED
        assert refused.result.client_order_id not in by_id or by_id[
            refused.result.client_order_id
        ].status != common_pb2.TRADE_STATUS_FILLED
        await events.close()
        await asyncio.sleep(0)
