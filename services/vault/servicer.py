"""VaultService over gRPC: validates, asks the store, answers; refusals become gRPC statuses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from dne.vault.v1 import vault_pb2, vault_pb2_grpc
from services.common.errors import ERROR_CODE_METADATA, DomainError, ErrorCode
from services.vault import wire
from services.vault.store import VaultStore

log = logging.getLogger(__name__)

Answer = TypeVar("Answer")

# The vault's answers have no error field, so a refusal travels as the gRPC status; its
# stable code also travels in the trailing metadata (ERROR_CODE_METADATA).

_STATUS_OF: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_AMOUNT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_SIZE: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_MARKET: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_DIRECTION: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.VAULT_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


class VaultServicer(vault_pb2_grpc.VaultServiceServicer):
    def __init__(self, store: VaultStore) -> None:
        self._store = store

    async def _answer(
        self, context: grpc.aio.ServicerContext, work: Callable[[], Awaitable[Answer]]
    ) -> Answer:
        try:
            return await work()
        except DomainError as error:
            status = _STATUS_OF.get(error.code, grpc.StatusCode.INTERNAL)
            code, message = error.code, error.message
            if status is grpc.StatusCode.INVALID_ARGUMENT:
                log.warning("request refused", extra={"code": code, "reason": message})
        except Exception:
            log.error("vault call failed", exc_info=True)
            status, code = grpc.StatusCode.INTERNAL, ErrorCode.INTERNAL
            message = "the vault failed to answer this call; the error is in its log"
        await context.abort(status, message, trailing_metadata=((ERROR_CODE_METADATA, code),))
        raise AssertionError("context.abort returned")  # abort always raises

    async def OpenVault(
        self, request: vault_pb2.OpenVaultRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.OpenVaultResponse:
        async def work() -> vault_pb2.OpenVaultResponse:
            view, created = await self._store.open_vault(wire.parse_key(request))
            return vault_pb2.OpenVaultResponse(status=wire.status_proto(view), created=created)

        return await self._answer(context, work)

    async def GetVaultStatus(
        self, request: vault_pb2.GetVaultStatusRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.GetVaultStatusResponse:
        async def work() -> vault_pb2.GetVaultStatusResponse:
            view = await self._store.vault_status(wire.parse_key(request))
            return vault_pb2.GetVaultStatusResponse(status=wire.status_proto(view))

        return await self._answer(context, work)

    async def RecordIntent(
        self, request: vault_pb2.RecordIntentRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.RecordIntentResponse:
        async def work() -> vault_pb2.RecordIntentResponse:
            trade, created = await self._store.record_intent(wire.parse_intent(request))
            return vault_pb2.RecordIntentResponse(trade=wire.trade_proto(trade), created=created)

        return await self._answer(context, work)

    async def CompleteTrade(
        self, request: vault_pb2.CompleteTradeRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.CompleteTradeResponse:
        async def work() -> vault_pb2.CompleteTradeResponse:
            client_order_id, outcome = wire.parse_completion(request)
            settlement = wire.parse_settlement(request)
            sync = None
            if request.HasField("sync"):
                try:
                    sync = wire.parse_sync(request.sync)
                except DomainError as error:  # the completion is written all the same
                    log.warning("sync beside a completion refused; the completion stands",
                                extra={"code": str(error.code), "reason": error.message})
            trade, synced = await self._store.complete_trade(
                client_order_id, outcome, settlement=settlement, sync=sync)
            response = vault_pb2.CompleteTradeResponse(trade=wire.trade_proto(trade))
            if synced is not None:
                response.sync.CopyFrom(wire.sync_proto(synced))
            return response

        return await self._answer(context, work)

    async def ListTrades(
        self, request: vault_pb2.ListTradesRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.ListTradesResponse:
        async def work() -> vault_pb2.ListTradesResponse:
            key, statuses, client_order_id, limit = wire.parse_list_trades(request)
            trades = await self._store.list_trades(
                key, statuses=statuses, client_order_id=client_order_id, limit=limit
            )
            return vault_pb2.ListTradesResponse(trades=[wire.trade_proto(t) for t in trades])

        return await self._answer(context, work)

    async def SyncAccount(
        self, request: vault_pb2.SyncAccountRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.SyncAccountResponse:
        async def work() -> vault_pb2.SyncAccountResponse:
            key, sync = wire.parse_sync(request)
            return wire.sync_proto(await self._store.sync_account(key, sync))

        return await self._answer(context, work)

    async def ListFundingPayments(
        self, request: vault_pb2.ListFundingPaymentsRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.ListFundingPaymentsResponse:
        async def work() -> vault_pb2.ListFundingPaymentsResponse:
            key = wire.parse_key(request)
            rows = await self._store.list_funding_payments(key, wire.parse_since(request))
            return wire.funding_proto(rows)

        return await self._answer(context, work)


def register(servicer: VaultServicer, server: grpc.aio.Server) -> list[str]:
    vault_pb2_grpc.add_VaultServiceServicer_to_server(servicer, server)
    return [vault_pb2.DESCRIPTOR.services_by_name["VaultService"].full_name]
