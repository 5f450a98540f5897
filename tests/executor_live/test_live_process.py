"""`python -m services.executor` with EXECUTOR_DRIVER=drift, as a real process on the stand-in
process, and its refusals to start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from solders.keypair import Keypair

from dne.executor.v1 import executor_pb2 as pb
from dne.executor.v1 import executor_pb2_grpc
from services.launcher.processes import ServiceProcess, ServiceStartError
from tests.kit.executor_live_builders import SIM_GENESIS
from tests.kit.executor_live_secrets import secret_forms
from tests.kit.service_tokens import SERVICE_TOKEN_ENV, service_channel

pytestmark = pytest.mark.integration


async def test_the_live_executor_answers_account_state_and_status_over_grpc(
    tmp_path: Path,
) -> None:
    wallet = Keypair()
    sim = ServiceProcess("venue_sim", {"PORT": "0", "SIM_WALLETS": json.dumps(
        [str(wallet.pubkey())]), "SIM_GENESIS_HASH": SIM_GENESIS}, tmp_path / "venue_sim.log",
        readiness="http")
    sim_address = await sim.start(timeout=60)
    executor = ServiceProcess("executor", {
        "PORT": "0", "EXECUTOR_DRIVER": "drift", "RPC_URL": f"http://{sim_address}",
        "SOLANA_PRIVATE_KEY": json.dumps(list(bytes(wallet))), "LOG_FORMAT": "json",
        "LIVE_STATE_PATH": str(tmp_path / "live_orders.json"), "LOG_LEVEL": "DEBUG",
        **SERVICE_TOKEN_ENV,
    }, tmp_path / "executor.log")
    try:
        address = await executor.start(timeout=60)
        async with service_channel(address) as channel:
            stub = executor_pb2_grpc.ExecutorServiceStub(channel)
            state = (await stub.GetAccountState(pb.GetAccountStateRequest())).state
            status = await stub.GetVenueStatus(pb.GetVenueStatusRequest())
            deposit = (await stub.Deposit(pb.DepositRequest(client_order_id="dep",
                                                            amount="250"))).result
    finally:
        await executor.stop()
        await sim.stop()
    assert state.venue == "drift"
    assert state.account == str(wallet.pubkey())
    assert (state.wallet.usdc, state.wallet.sol) == ("10000", "1")
    assert state.health_ratio == "100"
    assert status.connected and status.account == str(wallet.pubkey())
    assert deposit.tx_signature, deposit.error
    log = (tmp_path / "executor.log").read_text()
    for form in secret_forms(wallet):
        assert form not in log and form not in str(state) and form not in str(deposit)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SOLANA_PRIVATE_KEY": "[1,2,3]"}, "RPC_URL"),
        ({"RPC_URL": "http://127.0.0.1:1"}, "SOLANA_PRIVATE_KEY is not set"),
        ({"RPC_URL": "http://127.0.0.1:1", "SOLANA_PRIVATE_KEY": "not a key"},
         "neither base58 nor a JSON byte array"),
    ],
)
async def test_live_mode_refuses_to_start_without_an_rpc_url_or_a_usable_key(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    process = ServiceProcess("executor", {"PORT": "0", "EXECUTOR_DRIVER": "drift", **env},
                             tmp_path / "executor.log")
    with pytest.raises(ServiceStartError):
        await process.start(timeout=30)
    assert await process.wait() == 2
    assert says in process.log_tail()
    assert "not a key" not in process.log_tail()
