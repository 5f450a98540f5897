"""Issue 11: the executor reads its wallet key from a file (SOLANA_PRIVATE_KEY_FILE, as the Helm
chart mounts the Secret) that others cannot read, and never shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from solders.keypair import Keypair

from dne.executor.v1 import executor_pb2 as pb
from dne.executor.v1 import executor_pb2_grpc
from services.executor.drift.wallet_key import WalletKeyError, take_wallet_key
from services.executor.settings import ExecutorSettings
from services.launcher.processes import ServiceProcess, ServiceStartError
from tests.kit.executor_live_builders import SIM_GENESIS
from tests.kit.executor_live_secrets import secret_forms
from tests.kit.service_tokens import SERVICE_TOKEN_ENV, service_channel

CANARY = Keypair()


def key_file(tmp_path: Path, text: str | bytes, mode: int = 0o400) -> Path:
    path = tmp_path / "solana-key"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    path.chmod(mode)
    return path


def assert_quotes_no_secret(message: str) -> None:
    for form in secret_forms(CANARY):
        assert form not in message


@pytest.mark.parametrize(
    "text",
    [str(CANARY), str(CANARY) + "\n", json.dumps(list(bytes(CANARY))) + "\n",
     json.dumps(list(bytes(CANARY)), indent=1)],
    ids=["base58", "base58-newline", "solana-keygen-json", "json-over-lines"],
)
def test_the_key_is_read_from_an_owner_only_file(tmp_path: Path, text: str) -> None:
    key = take_wallet_key({}, key_file(tmp_path, text))
    assert key.pubkey == CANARY.pubkey()


def test_group_read_is_allowed_as_kubernetes_mounts_a_secret_with_an_fs_group(
    tmp_path: Path,
) -> None:
    assert take_wallet_key({}, key_file(tmp_path, str(CANARY), 0o440)).pubkey == CANARY.pubkey()


def test_a_file_and_the_variable_at_once_are_refused_and_the_variable_still_removed(
    tmp_path: Path,
) -> None:
    env = {"SOLANA_PRIVATE_KEY": str(Keypair())}
    with pytest.raises(WalletKeyError, match="set only one") as refused:
        take_wallet_key(env, key_file(tmp_path, str(CANARY)))
    assert env == {}
    assert_quotes_no_secret(str(refused.value))


@pytest.mark.parametrize(
    ("content", "mode", "says"),
    [
        (str(CANARY), 0o644, "readable or writable by others"),
        (str(CANARY), 0o604, "readable or writable by others"),
        (str(CANARY), 0o460, "readable or writable by others"),
        ("", 0o400, "is empty"),
        (str(CANARY)[:-3] + "O0l", 0o400, "neither base58"),
        (json.dumps(list(bytes(CANARY)))[:-1], 0o400, "not valid JSON"),
        (b"\xff" * 70, 0o400, "is not text"),
        ("1" * 5000, 0o400, "larger than a key file"),
    ],
    ids=["world-readable", "world-only", "group-writable", "empty", "bad-base58",
         "broken-json", "binary", "huge"],
)
def test_an_unsafe_or_malformed_key_file_is_refused_without_quoting_it(
    tmp_path: Path, content: str | bytes, mode: int, says: str
) -> None:
    path = key_file(tmp_path, content, mode)
    with pytest.raises(WalletKeyError) as refused:
        take_wallet_key({}, path)
    message = str(refused.value)
    assert says in message and "SOLANA_PRIVATE_KEY_FILE" in message
    assert_quotes_no_secret(message)
    if isinstance(content, str) and len(content) > 12:
        assert content[4:12] not in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WalletKeyError, match="cannot read"):
        take_wallet_key({}, tmp_path / "absent")


def test_the_setting_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOLANA_PRIVATE_KEY_FILE", str(tmp_path / "k"))
    assert ExecutorSettings().solana_private_key_file == tmp_path / "k"


@pytest.mark.integration
async def test_the_live_executor_signs_with_the_key_from_its_file(tmp_path: Path) -> None:
    path = key_file(tmp_path, json.dumps(list(bytes(CANARY))))
    sim = ServiceProcess("venue_sim", {"PORT": "0", "SIM_WALLETS": json.dumps(
        [str(CANARY.pubkey())]), "SIM_GENESIS_HASH": SIM_GENESIS}, tmp_path / "venue_sim.log",
        readiness="http")
    sim_address = await sim.start(timeout=60)
    executor = ServiceProcess("executor", {
        "PORT": "0", "EXECUTOR_DRIVER": "drift", "RPC_URL": f"http://{sim_address}",
        "SOLANA_PRIVATE_KEY_FILE": str(path), "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG",
        "LIVE_STATE_PATH": str(tmp_path / "live_orders.json"), **SERVICE_TOKEN_ENV,
    }, tmp_path / "executor.log")
    try:
        address = await executor.start(timeout=60)
        async with service_channel(address) as channel:
            stub = executor_pb2_grpc.ExecutorServiceStub(channel)
            state = (await stub.GetAccountState(pb.GetAccountStateRequest())).state
            deposit = (await stub.Deposit(pb.DepositRequest(client_order_id="dep",
                                                            amount="250"))).result
    finally:
        await executor.stop()
        await sim.stop()
    assert state.account == str(CANARY.pubkey())
    assert deposit.tx_signature, deposit.error
    log = (tmp_path / "executor.log").read_text()
    assert_quotes_no_secret(log)


@pytest.mark.integration
async def test_the_live_executor_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    path = key_file(tmp_path, str(CANARY), 0o644)
    executor = ServiceProcess("executor", {
        "PORT": "0", "EXECUTOR_DRIVER": "drift", "RPC_URL": "http://127.0.0.1:1",
        "SOLANA_PRIVATE_KEY_FILE": str(path)}, tmp_path / "executor.log")
    with pytest.raises(ServiceStartError):
        await executor.start(timeout=30)
    assert await executor.wait() == 2
    assert "readable or writable by others" in executor.log_tail()
    assert_quotes_no_secret(executor.log_tail())
