"""The vault as a real process (python -m services.vault): an intent written before an order
is sent survives a crash of the vault."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2, vault_pb2_grpc
from services.launcher.processes import ServiceProcess
from tests.kit.service_tokens import SERVICE_TOKEN_ENV, service_channel
from tests.kit.vault_builders import completion, intent, key
from tests.kit.vault_databases import database_url

pytestmark = pytest.mark.integration


async def test_a_pending_intent_survives_a_crash_and_restart_of_the_vault_process(
    backend: str, tmp_path: Path
) -> None:
    async with database_url(backend, tmp_path) as url:
        vault = ServiceProcess(
            "vault", {"PORT": "0", "DATABASE_URL": url, "LOG_FORMAT": "text", **SERVICE_TOKEN_ENV},
            tmp_path / "vault.log",
        )
        address = await vault.start()
        try:
            async with service_channel(address) as channel:
                health = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service="dne.vault.v1.VaultService"))
                assert health.status == health_pb2.HealthCheckResponse.SERVING
                recorded = await vault_pb2_grpc.VaultServiceStub(channel).RecordIntent(
                    intent("order-before-crash", requested_size="1.5"))
                assert recorded.created

            vault.kill()  # SIGKILL: no shutdown, no flush, nothing but what was committed
            assert await vault.wait() != 0

            address = await vault.start()
            async with service_channel(address) as channel:
                stub = vault_pb2_grpc.VaultServiceStub(channel)
                trades = (await stub.ListTrades(vault_pb2.ListTradesRequest(key=key()))).trades
                assert [(t.client_order_id, t.status, t.requested_size) for t in trades] == [
                    ("order-before-crash", common_pb2.TRADE_STATUS_PENDING, "1.5")
                ]
                again = await stub.RecordIntent(intent("order-before-crash"))
                assert not again.created
                done = await stub.CompleteTrade(completion("order-before-crash"))
                assert done.trade.status == common_pb2.TRADE_STATUS_FILLED
        finally:
            await vault.stop()
        assert "vault database ready" in vault.log_tail(200)
