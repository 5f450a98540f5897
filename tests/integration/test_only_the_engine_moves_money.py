"""Issue 11: only the engine may move money. The executor and the vault answer only calls that
carry the run's service token; the engine's commands need the user's API token. Real service
processes on loopback, wired as `make run` wires them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from dne.vault.v1 import vault_pb2, vault_pb2_grpc
from services.common.grpc_client import open_channel
from tests.kit.databases import sqlite_url
from tests.kit.system import TEST_API_TOKEN, RunningSystem, running_system
from tests.kit.vault_builders import intent, key

pytestmark = pytest.mark.integration

WRONG_TOKEN = "wrong-token-that-must-not-be-echoed-42"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("money-path")
    # DEBUG: the tokens must stay out of the most talkative logs too.
    async with running_system(var, sqlite_url(var), common_env={"LOG_LEVEL": "DEBUG"}) as running:
        yield running


def executor_stub(
    system: RunningSystem, token: str | None
) -> executor_pb2_grpc.ExecutorServiceStub:
    return executor_pb2_grpc.ExecutorServiceStub(
        open_channel(system.system.address("executor"), token))


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("token", [None, WRONG_TOKEN], ids=["no-token", "wrong-token"])
async def test_an_order_sent_to_the_executor_without_the_service_token_is_refused_unjournaled(
    system: RunningSystem, token: str | None,
) -> None:
    stub = executor_stub(system, token)
    calls = {
        "open": stub.OpenPosition(executor_pb2.OpenPositionRequest(
            client_order_id=f"intruder-open-{token}", market="SOL-PERP",
            side=common_pb2.SIDE_SHORT, size="1")),
        "withdraw": stub.Withdraw(executor_pb2.WithdrawRequest(
            client_order_id=f"intruder-withdraw-{token}", amount="100")),
        "swap": stub.Swap(executor_pb2.SwapRequest(
            client_order_id=f"intruder-swap-{token}", side=common_pb2.SIDE_LONG, size="1")),
        "state": stub.GetAccountState(executor_pb2.GetAccountStateRequest()),
    }
    for name, call in calls.items():
        error = await refused(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, name
        assert "authorization: Bearer" in (error.details() or ""), name
        assert WRONG_TOKEN not in (error.details() or "")
        assert system.service_token not in (error.details() or "")
    # The engine's own channel (the kit's stub carries the service token) finds no such order.
    for name in ("open", "withdraw", "swap"):
        lookup = await system.stubs.executor.GetOrder(executor_pb2.GetOrderRequest(
            client_order_id=f"intruder-{name}-{token}"))
        assert not lookup.found, name


@pytest.mark.asyncio(loop_scope="module")
async def test_with_the_service_token_the_executor_and_the_vault_answer(
    system: RunningSystem,
) -> None:
    stub = executor_stub(system, system.service_token)
    deposit = (await stub.Deposit(executor_pb2.DepositRequest(
        client_order_id="engine-deposit", amount="10"))).result
    assert deposit.status == common_pb2.TRADE_STATUS_FILLED, deposit.error
    vault = vault_pb2_grpc.VaultServiceStub(
        open_channel(system.system.address("vault"), system.service_token))
    assert (await vault.RecordIntent(intent("engine-intent"))).created


async def recorded_orders(system: RunningSystem) -> list[str]:
    """The vault's trades for the paper account, read as the engine reads them (none yet: the
    account has no vault)."""
    try:
        reply = await system.stubs.vault.ListTrades(vault_pb2.ListTradesRequest(key=key()))
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND, error
        return []
    return [trade.client_order_id for trade in reply.trades]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("token", [None, WRONG_TOKEN, TEST_API_TOKEN],
                         ids=["no-token", "wrong-token", "the-api-token"])
async def test_a_vault_write_without_the_service_token_is_refused(
    system: RunningSystem, token: str | None,
) -> None:
    vault = vault_pb2_grpc.VaultServiceStub(open_channel(system.system.address("vault"), token))
    error = await refused(vault.RecordIntent(intent(f"intruder-intent-{token}")))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert WRONG_TOKEN not in (error.details() or "")
    assert f"intruder-intent-{token}" not in await recorded_orders(system)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("service", ["executor", "vault", "engine"])
async def test_health_and_reflection_answer_without_any_token(
    system: RunningSystem, service: str,
) -> None:
    async with grpc.aio.insecure_channel(system.system.address(service)) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = [s.name async for reply in replies for s in reply.list_services_response.service]
        assert "grpc.health.v1.Health" in names


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("token", [None, WRONG_TOKEN], ids=["no-token", "wrong-token"])
async def test_engine_commands_without_the_api_token_are_refused_and_reads_stay_open(
    system: RunningSystem, token: str | None,
) -> None:
    engine = engine_pb2_grpc.EngineServiceStub(
        open_channel(system.system.address("engine"), token))
    for name, call in {
        "deposit": engine.Deposit(engine_pb2.DepositRequest(amount="100")),
        "open": engine.OpenPosition(engine_pb2.OpenPositionRequest(
            market="SOL-PERP", direction="short", size="1")),
        "start": engine.StartEngine(engine_pb2.StartEngineRequest(mode="paper")),
    }.items():
        error = await refused(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, name
        assert "DNE_API_TOKEN" in (error.details() or "") and "Bearer" in (error.details() or "")
        assert WRONG_TOKEN not in (error.details() or "")
    status = await engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest())
    assert not status.status.running


@pytest.mark.asyncio(loop_scope="module")
async def test_the_tokens_appear_in_no_service_log(system: RunningSystem) -> None:
    # After the refusals above (and the kit's own authorized calls), every log is read whole.
    logs = {path.name: path.read_text(errors="replace")
            for path in (system.var_dir / "log").glob("*.log")}
    assert {"engine.log", "executor.log", "vault.log"} <= set(logs)
    for name, text in logs.items():
        assert system.service_token not in text, name
        assert TEST_API_TOKEN not in text, name
        assert WRONG_TOKEN not in text, name
