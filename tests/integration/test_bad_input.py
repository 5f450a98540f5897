"""Bad input on every engine command gets its code and a message; no service crashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dne.engine.v1 import engine_pb2
from services.launcher.processes import wait_serving
from tests.integration.flow import pause_clock_at, request_id
from tests.kit.confirmations import confirm_stub
from tests.kit.databases import sqlite_url
from tests.kit.system import running_system

START = datetime(2026, 1, 15, 12, tzinfo=UTC)


async def test_every_bad_command_answers_a_code_and_a_message(tmp_path: Path) -> None:
    async with running_system(tmp_path, sqlite_url(tmp_path)) as running:
        stubs = running.stubs
        await pause_clock_at(stubs, START)
        bad_mode = await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode="yolo"))
        assert not bad_mode.result.ok and bad_mode.result.error.code == "INVALID_MODE"
        assert (await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode="paper"))).result.ok
        assert (await stubs.engine.Deposit(engine_pb2.DepositRequest(
            request_id=request_id(), amount="1000"))).result.ok

        def open_(market: str, direction: str, size: str) -> engine_pb2.OpenPositionRequest:
            return engine_pb2.OpenPositionRequest(
                request_id=request_id(), market=market, direction=direction, size=size)

        cases = [
            (stubs.engine.OpenPosition, open_("DOGE-PERP", "short", "1"), {"INVALID_MARKET"}),
            (stubs.engine.OpenPosition, open_("SOL-PERP", "short", "-1"), {"INVALID_SIZE"}),
            (stubs.engine.OpenPosition, open_("SOL-PERP", "short", "NaN"), {"INVALID_SIZE"}),
            (stubs.engine.OpenPosition, open_("SOL-PERP", "short", "abc"), {"INVALID_SIZE"}),
            (stubs.engine.OpenPosition, open_("SOL-PERP", "sideways", "1"), {"INVALID_DIRECTION"}),
            (stubs.engine.OpenPosition, open_("SOL-PERP", "short", "100000"),
             {"LEVERAGE_LIMIT", "INSUFFICIENT_COLLATERAL", "SIZE_LIMIT"}),
            (stubs.engine.Deposit, engine_pb2.DepositRequest(
                request_id=request_id(), amount="-5"), {"INVALID_AMOUNT"}),
            (stubs.engine.Deposit, engine_pb2.DepositRequest(
                request_id=request_id(), amount="1e12"), {"INSUFFICIENT_BALANCE"}),
            (stubs.engine.Withdraw, engine_pb2.WithdrawRequest(
                request_id=request_id(), amount="inf"), {"INVALID_AMOUNT"}),
            (stubs.engine.ClosePosition, engine_pb2.ClosePositionRequest(
                request_id=request_id(), market="SOL-PERP"), {"NO_POSITION"}),
            (stubs.engine.Swap, engine_pb2.SwapRequest(
                request_id=request_id(), direction="hodl", size="1"), {"INVALID_DIRECTION"}),
            (stubs.engine.Deposit, engine_pb2.DepositRequest(
                request_id="x" * 10_000, amount="1"), {"INVALID_ARGUMENT"}),
        ]
        # Issue 11: exponents a formatter would expand in full (once 3.7 GB of the engine).
        for extreme in ("1E-999999999", "1E+999999999", "-1E-999999999", "1e-10", "sNaN",
                        "-Infinity", "9" * 10_000, "0." + "0" * 10_000 + "1"):
            cases += [
                (stubs.engine.Deposit, engine_pb2.DepositRequest(
                    request_id=request_id(), amount=extreme), {"INVALID_AMOUNT"}),
                (stubs.engine.Withdraw, engine_pb2.WithdrawRequest(
                    request_id=request_id(), amount=extreme), {"INVALID_AMOUNT"}),
                (stubs.engine.OpenPosition, open_("SOL-PERP", "short", extreme),
                 {"INVALID_SIZE"}),
                (stubs.engine.Swap, engine_pb2.SwapRequest(
                    request_id=request_id(), direction="buy", size=extreme),
                 {"INVALID_SIZE"}),
            ]
        for call, request, codes in cases:
            reply = await call(request, timeout=5)
            assert not reply.result.ok, request
            assert reply.result.error.code in codes, (request, reply.result.error)
            assert reply.result.error.message, request

        # A withdrawal that would take health below 80 % is refused (property 12).
        assert (await confirm_stub(stubs.engine.OpenPosition,
                                   open_("SOL-PERP", "short", "50"))).result.ok
        too_much = await stubs.engine.Withdraw(engine_pb2.WithdrawRequest(
            request_id=request_id(), amount="900"))
        assert not too_much.result.ok
        assert too_much.result.error.code in {"HEALTH_LIMIT", "INSUFFICIENT_COLLATERAL"}

        for name, process in running.system.processes.items():
            assert process.running, f"{name} died"
            await wait_serving(running.system.address(name), timeout=5)


@pytest.mark.parametrize("mode", ["live"])
async def test_live_mode_is_refused_until_the_live_venue_lands(tmp_path: Path, mode: str) -> None:
    async with running_system(tmp_path, sqlite_url(tmp_path)) as running:
        reply = await running.stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode=mode))
        assert not reply.result.ok
        assert reply.result.error.code == "LIVE_MODE_UNAVAILABLE"
        assert "live" in reply.result.error.message.lower()
