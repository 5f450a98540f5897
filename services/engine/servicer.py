"""EngineService over gRPC: parses untrusted requests, calls the engine, never lets an
exception escape as a transport error (refusals are CommandResults, property 40)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from dne.engine.v1 import engine_pb2 as E
from dne.engine.v1 import engine_pb2_grpc
from services.common.errors import DomainError, ErrorCode
from services.engine import commands, outcome
from services.engine.backend_health import BackendHealth
from services.engine.engine import FundingEngine
from services.engine.events import KNOWN_TYPES
from services.engine.outcome_wire import command_result_proto
from services.engine.trade_request import TradeRequest

log = logging.getLogger(__name__)


class EngineServicer(engine_pb2_grpc.EngineServiceServicer):
    def __init__(self, engine: FundingEngine, backends: BackendHealth | None = None) -> None:
        self._engine = engine
        self._backends = backends

    async def StartEngine(self, request: E.StartEngineRequest, context) -> E.StartEngineResponse:
        result = await self._command(request.request_id, commands.START_ENGINE, lambda rid: (
            self._engine.start(
                request.mode, request.sub_account or self._engine.settings.drift_sub_account,
                rid)))
        return E.StartEngineResponse(result=result, status=self._engine.status())

    async def StopEngine(self, request: E.StopEngineRequest, context) -> E.StopEngineResponse:
        result = await self._command(request.request_id, commands.STOP_ENGINE,
                                     self._engine.stop)
        return E.StopEngineResponse(result=result, status=self._engine.status())

    async def GetEngineStatus(self, request, context) -> E.GetEngineStatusResponse:
        response = E.GetEngineStatusResponse(status=self._engine.status())
        if self._engine.running and self._engine.last_update is not None:
            response.snapshot.CopyFrom(self._engine.last_update)
        return response

    async def GetBackendHealth(self, request, context) -> E.GetBackendHealthResponse:
        if self._backends is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                                "this engine was built without its backends' health")
        return await self._backends.get()

    async def Deposit(self, request: E.DepositRequest, context) -> E.DepositResponse:
        return E.DepositResponse(result=await self._trade(
            request.request_id, commands.DEPOSIT, lambda: commands.deposit(request)))

    async def Withdraw(self, request: E.WithdrawRequest, context) -> E.WithdrawResponse:
        return E.WithdrawResponse(result=await self._trade(
            request.request_id, commands.WITHDRAW, lambda: commands.withdraw(request)))

    async def OpenPosition(self, request: E.OpenPositionRequest, context):
        return E.OpenPositionResponse(result=await self._trade(
            request.request_id, commands.OPEN_POSITION, lambda: commands.open_position(request)))

    async def ClosePosition(self, request: E.ClosePositionRequest, context):
        return E.ClosePositionResponse(result=await self._trade(
            request.request_id, commands.CLOSE_POSITION,
            lambda: commands.close_position(request)))

    async def SettlePnl(self, request: E.SettlePnlRequest, context) -> E.SettlePnlResponse:
        return E.SettlePnlResponse(result=await self._trade(
            request.request_id, commands.SETTLE_PNL, lambda: commands.settle_pnl(request)))

    async def Swap(self, request: E.SwapRequest, context) -> E.SwapResponse:
        return E.SwapResponse(result=await self._trade(
            request.request_id, commands.SWAP, lambda: commands.swap(request)))

    async def ResetVault(self, request: E.ResetVaultRequest, context) -> E.ResetVaultResponse:
        return E.ResetVaultResponse(result=await self._command(
            request.request_id, commands.RESET_VAULT, self._engine.reset_vault))

    async def CheckRebalance(self, request: E.CheckRebalanceRequest, context):
        request_id = request.request_id
        try:
            if request_id:
                request_id = commands.parse_request_id(request_id)
            plan, result = await self._engine.check_rebalance(request.simulate, request_id)
        except DomainError as error:
            return E.CheckRebalanceResponse(
                result=command_result_proto(outcome.failure(request_id, commands.REBALANCE, error)))
        except Exception as error:  # never a bare transport error for a command
            log.error("CheckRebalance failed", exc_info=error)
            return E.CheckRebalanceResponse(result=_internal(request_id, commands.REBALANCE))
        response = E.CheckRebalanceResponse(plan=plan)
        if result is not None:
            response.result.CopyFrom(result)
        return response

    async def StreamEvents(
        self, request: E.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[E.StreamEventsResponse]:
        unknown = [value for value in request.types if value not in KNOWN_TYPES]
        if unknown:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"unknown event types {unknown}; expected values of EventType")
        subscription = self._engine.bus.subscribe(request.types)
        # Headers now, before any event: a follower that awaits them knows it is subscribed and
        # that a status it reads next misses no event.
        await context.send_initial_metadata(())
        try:
            async for event in subscription.events():
                yield E.StreamEventsResponse(event=event)
        finally:
            self._engine.bus.unsubscribe(subscription)

    # --- helpers -----------------------------------------------------------------------------

    async def _trade(
        self, raw_request_id: str, action: str, parse: Callable[[], TradeRequest]
    ) -> E.CommandResult:
        try:
            trade = parse()
        except DomainError as error:
            return self._engine.publish_result(outcome.failure(raw_request_id[:128], action,
                                                                     error))
        return await self._guard(trade.request_id, action, lambda: self._engine.trade(trade))

    async def _command(
        self, raw_request_id: str, action: str,
        call: Callable[[str], Awaitable[E.CommandResult]],
    ) -> E.CommandResult:
        """Start, stop and reset move no money: an id is generated when none is given."""
        try:
            request_id = (commands.parse_request_id(raw_request_id) if raw_request_id
                          else f"cmd-{uuid.uuid4().hex}")
        except DomainError as error:
            return self._engine.publish_result(
                outcome.failure(raw_request_id[:128], action, error))
        return await self._guard(request_id, action, lambda: call(request_id))

    async def _guard(
        self, request_id: str, action: str, call: Callable[[], Awaitable[E.CommandResult]]
    ) -> E.CommandResult:
        try:
            return await call()
        except DomainError as error:
            return command_result_proto(outcome.failure(request_id, action, error))
        except Exception as error:
            log.error("command failed unexpectedly", extra={"action": action}, exc_info=error)
            return _internal(request_id, action)


def _internal(request_id: str, action: str) -> E.CommandResult:
    return command_result_proto(outcome.failure(request_id, action, DomainError(
        ErrorCode.INTERNAL, "the engine failed unexpectedly; the error is in its log")))
