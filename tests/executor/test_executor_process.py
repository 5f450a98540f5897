"""`python -m services.executor` as a real process, against a fake feed served on loopback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from dne.common.v1 import common_pb2
from dne.executor.v1 import executor_pb2 as pb
from dne.executor.v1 import executor_pb2_grpc
from services.launcher.processes import ServiceProcess
from tests.kit.executor_fakes import FakeFeed, serve_fake_feed
from tests.kit.service_tokens import SERVICE_TOKEN_ENV, service_channel

pytestmark = pytest.mark.integration


async def test_the_executor_process_deposits_opens_and_reports_over_grpc(tmp_path: Path) -> None:
    state_path = tmp_path / "paper_venue.json"
    async with serve_fake_feed(FakeFeed()) as feed_address:
        env = {"PORT": "0", "FEED_ADDRESS": feed_address, "PAPER_STATE_PATH": str(state_path),
               "LOG_FORMAT": "text", "PAPER_START_USDC": "20000", **SERVICE_TOKEN_ENV}
        process = ServiceProcess("executor", env, tmp_path / "executor.log")
        address = await process.start(timeout=30)
        try:
            async with service_channel(address) as channel:
                stub = executor_pb2_grpc.ExecutorServiceStub(channel)
                deposit = (await stub.Deposit(pb.DepositRequest(
                    client_order_id="dep", amount="1000"))).result
                assert deposit.status == common_pb2.TRADE_STATUS_FILLED, deposit.error
                opened = (await stub.OpenPosition(pb.OpenPositionRequest(
                    client_order_id="open", market="SOL-PERP", side=common_pb2.SIDE_SHORT,
                    size="10"))).result
                assert opened.status == common_pb2.TRADE_STATUS_FILLED, opened.error
                assert opened.fill_price == "84.930019"
                state = (await stub.GetAccountState(pb.GetAccountStateRequest())).state
                assert (state.collateral, state.wallet.usdc) == ("998.965579", "19000")
                assert [p.size for p in state.positions] == ["10"]
        finally:
            assert await process.stop() == 0

        # Restarted on the same state file: the old id is answered, nothing trades again.
        process = ServiceProcess("executor", env, tmp_path / "executor.log")
        address = await process.start(timeout=30)
        try:
            async with service_channel(address) as channel:
                stub = executor_pb2_grpc.ExecutorServiceStub(channel)
                again = (await stub.OpenPosition(pb.OpenPositionRequest(
                    client_order_id="open", market="SOL-PERP", side=common_pb2.SIDE_SHORT,
                    size="10"))).result
                assert again.replayed and again.tx_signature == opened.tx_signature
                state = (await stub.GetAccountState(pb.GetAccountStateRequest())).state
                assert [p.size for p in state.positions] == ["10"]
        finally:
            await process.stop()
    assert "fill" in (tmp_path / "executor.log").read_text()


async def test_the_drift_driver_without_rpc_url_is_refused_at_start_with_a_clear_message(
    tmp_path: Path,
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.executor",
        env={**os.environ, "EXECUTOR_DRIVER": "drift", "PORT": "0", **SERVICE_TOKEN_ENV},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 2
    assert b"listening" not in out
    assert b"EXECUTOR_DRIVER=drift needs RPC_URL" in err
