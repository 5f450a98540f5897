"""gRPC servicers: translate proto <-> domain and never let an exception escape.

Refusals are OrderResults (REJECTED with a code and a message); an unexpected error is logged
with its traceback and answered as FAILED INTERNAL. Only reads without a result field (account
state, order lookup) answer a gRPC status, and only for transport-like causes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from dne.common.v1 import common_pb2
from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from services.common.errors import DomainError, ErrorCode
from services.common.metrics import COLLATERAL, HEALTH_RATIO, LEVERAGE, TRADES
from services.common.timeutil import from_timestamp
from services.common.venue import (
    AccountState,
    OpenOrder,
    OrderKind,
    OrderResult,
    OrderStatus,
)
from services.common.venue_wire import account_state_proto, order_result_proto
from services.executor import convert
from services.executor.driver import VenueDriver
from services.executor.paper_driver import PaperDriver

log = logging.getLogger(__name__)
Reply = TypeVar("Reply")

_STATUS_FOR_CODE = {
    ErrorCode.FEED_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.VENUE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.INVALID_MARKET: grpc.StatusCode.INVALID_ARGUMENT,
}


async def _guarded(
    cid: str, kind: OrderKind, market: str, run: Callable[[], Awaitable[OrderResult]]
) -> OrderResult:
    """Runs an order; malformed input and surprises become answers, and every answer counts."""
    try:
        result = await run()
    except DomainError as error:
        result = convert.rejected(cid, kind, market, error, OrderStatus.REJECTED)
    except Exception:
        log.error("order failed unexpectedly", exc_info=True,
                  extra={"client_order_id": cid, "kind": kind.value, "market": market})
        error = DomainError(ErrorCode.INTERNAL, "the executor failed on this order; see its log")
        result = convert.rejected(cid, kind, market, error, OrderStatus.FAILED)
    if not result.replayed:
        TRADES.labels(kind.value, result.status.value).inc()
    if result.status is OrderStatus.REJECTED:
        log.warning("order refused", extra={
            "client_order_id": cid, "kind": kind.value, "market": market,
            "error_code": result.error_code, "error_message": result.error_message,
        })
    return result


def _account_proto(sub_account: int, state: AccountState) -> common_pb2.AccountState:
    label = str(sub_account)
    HEALTH_RATIO.labels(label).set(float(state.health_ratio))
    if state.leverage.is_finite():
        LEVERAGE.labels(label).set(float(state.leverage))
    COLLATERAL.labels(label).set(float(state.collateral))
    return account_state_proto(state)


class ExecutorServicer(executor_pb2_grpc.ExecutorServiceServicer):
    def __init__(self, driver: VenueDriver) -> None:
        self._driver = driver

    async def _answer(self, response: Reply, request: Any) -> Reply:
        """`response` with the account after its fill when the request asked for it. A venue
        that cannot describe it now answers the order alone: the caller reads it itself."""
        result = response.result  # type: ignore[attr-defined]
        if (not request.HasField("account_after") or result.replayed
                or result.status != common_pb2.TRADE_STATUS_FILLED):
            return response
        wanted = request.account_after
        since = (from_timestamp(wanted.funding_since) if wanted.HasField("funding_since")
                 else None)
        try:
            state = await self._driver.account_after_fill(wanted.sub_account, since)
        except Exception as error:
            log.warning("no account after the fill; the caller reads it", extra={
                "client_order_id": result.client_order_id, "reason": str(error)})
            return response
        if state is None:
            return response
        response.account.CopyFrom(_account_proto(wanted.sub_account, state))  # type: ignore[attr-defined]
        return response

    async def GetVenueStatus(
        self, request: executor_pb2.GetVenueStatusRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.GetVenueStatusResponse:
        try:
            return convert.venue_status(await self._driver.status())
        except Exception:
            log.error("venue status failed", exc_info=True)
            await context.abort(grpc.StatusCode.INTERNAL, "venue status failed; see the log")
            raise  # unreachable: abort raises

    async def GetAccountState(
        self, request: executor_pb2.GetAccountStateRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.GetAccountStateResponse:
        since = from_timestamp(request.funding_since) if request.HasField("funding_since") else None
        failure: tuple[grpc.StatusCode, str] | None = None
        venue = None
        try:
            if request.with_venue_status:
                venue, state = await self._driver.status_and_account_state(
                    request.sub_account, since)
            else:
                state = await self._driver.account_state(request.sub_account, since)
        except DomainError as error:
            code = _STATUS_FOR_CODE.get(error.code, grpc.StatusCode.FAILED_PRECONDITION)
            failure = (code, f"{error.code}: {error.message}")
        except Exception:
            log.error("account state failed", exc_info=True,
                      extra={"sub_account": request.sub_account})
            failure = (grpc.StatusCode.INTERNAL, "account state failed; see the executor log")
        if failure is not None:
            await context.abort(*failure)
        response = executor_pb2.GetAccountStateResponse(
            state=_account_proto(request.sub_account, state))
        if venue is not None:
            response.venue.CopyFrom(convert.venue_status(venue))
        return response

    async def Deposit(
        self, request: executor_pb2.DepositRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.DepositResponse:
        async def run() -> OrderResult:
            cid = convert.client_order_id(request.client_order_id)
            return await self._driver.deposit(cid, request.sub_account,
                                              convert.amount(request.amount))

        result = await _guarded(request.client_order_id, OrderKind.DEPOSIT, "USDC", run)
        return await self._answer(
            executor_pb2.DepositResponse(result=order_result_proto(result)), request)

    async def Withdraw(
        self, request: executor_pb2.WithdrawRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.WithdrawResponse:
        async def run() -> OrderResult:
            cid = convert.client_order_id(request.client_order_id)
            return await self._driver.withdraw(cid, request.sub_account,
                                               convert.amount(request.amount))

        result = await _guarded(request.client_order_id, OrderKind.WITHDRAW, "USDC", run)
        return await self._answer(
            executor_pb2.WithdrawResponse(result=order_result_proto(result)), request)

    async def OpenPosition(
        self, request: executor_pb2.OpenPositionRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.OpenPositionResponse:
        async def run() -> OrderResult:
            order = OpenOrder(
                client_order_id=convert.client_order_id(request.client_order_id),
                sub_account=request.sub_account,
                market=convert.market(request.market),
                side=convert.side(request.side),
                size=convert.size(request.size),
                price_limit=convert.price_limit(request.price_limit),
                reduce_only=request.reduce_only,
                kind=convert.open_kind(request.kind),
            )
            return await self._driver.open_position(order)

        rebalance = request.kind == common_pb2.TRADE_KIND_PERP_REBALANCE
        kind = OrderKind.PERP_REBALANCE if rebalance else OrderKind.PERP_OPEN
        result = await _guarded(request.client_order_id, kind, request.market[:40], run)
        return await self._answer(
            executor_pb2.OpenPositionResponse(result=order_result_proto(result)), request)

    async def ClosePosition(
        self, request: executor_pb2.ClosePositionRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.ClosePositionResponse:
        settlement: list[OrderResult] = []

        async def run() -> OrderResult:
            outcome = await self._driver.close_position(
                convert.client_order_id(request.client_order_id),
                request.sub_account,
                convert.market(request.market),
                settle_pnl=request.settle_pnl,
                price_limit=convert.price_limit(request.price_limit),
            )
            if outcome.settlement is not None:
                settlement.append(outcome.settlement)
            return outcome.result

        result = await _guarded(
            request.client_order_id, OrderKind.PERP_CLOSE, request.market[:40], run
        )
        reply = executor_pb2.ClosePositionResponse(result=order_result_proto(result))
        if settlement:
            reply.settlement.CopyFrom(order_result_proto(settlement[0]))
        return await self._answer(reply, request)

    async def SettlePnl(
        self, request: executor_pb2.SettlePnlRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.SettlePnlResponse:
        async def run() -> OrderResult:
            return await self._driver.settle_pnl(
                convert.client_order_id(request.client_order_id),
                request.sub_account,
                convert.market(request.market),
            )

        result = await _guarded(
            request.client_order_id, OrderKind.SETTLE_PNL, request.market[:40], run
        )
        return await self._answer(
            executor_pb2.SettlePnlResponse(result=order_result_proto(result)), request)

    async def Swap(
        self, request: executor_pb2.SwapRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.SwapResponse:
        async def run() -> OrderResult:
            cid = convert.client_order_id(request.client_order_id)
            side = convert.side(request.side)
            return await self._driver.swap(
                cid, side, convert.size(request.size), convert.price_limit(request.price_limit)
            )

        selling = request.side == common_pb2.SIDE_SHORT
        kind = OrderKind.SPOT_SELL if selling else OrderKind.SPOT_BUY
        result = await _guarded(request.client_order_id, kind, "SOL", run)
        return await self._answer(
            executor_pb2.SwapResponse(result=order_result_proto(result)), request)

    async def GetOrder(
        self, request: executor_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.GetOrderResponse:
        failure: str | None = None
        result: OrderResult | None = None
        try:
            result = await self._driver.get_order(convert.client_order_id(request.client_order_id))
        except DomainError as error:
            failure = f"{error.code}: {error.message}"
        except Exception:
            log.error("order lookup failed", exc_info=True)
            await context.abort(grpc.StatusCode.INTERNAL, "order lookup failed; see the log")
        if failure is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, failure)
        if result is None:
            return executor_pb2.GetOrderResponse(found=False)
        return executor_pb2.GetOrderResponse(found=True, result=order_result_proto(result))


class PaperVenueControlServicer(executor_pb2_grpc.PaperVenueControlServiceServicer):
    """Knobs of the paper venue; without one (a live driver) every call is FAILED_PRECONDITION."""

    def __init__(self, driver: PaperDriver | None) -> None:
        self._driver = driver

    async def _paper(self, context: grpc.aio.ServicerContext) -> PaperDriver:
        if self._driver is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "PaperVenueControl works only with EXECUTOR_DRIVER=paper",
            )
        assert self._driver is not None
        return self._driver

    async def SetSimulatedLatency(
        self, request: executor_pb2.SetSimulatedLatencyRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.SetSimulatedLatencyResponse:
        driver = await self._paper(context)
        try:
            driver.set_latency(request.latency_ms)
        except DomainError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{error.code}: {error.message}")
        log.info("simulated latency set", extra={"latency_ms": request.latency_ms})
        return executor_pb2.SetSimulatedLatencyResponse()

    async def FailNextOrders(
        self, request: executor_pb2.FailNextOrdersRequest, context: grpc.aio.ServicerContext
    ) -> executor_pb2.FailNextOrdersResponse:
        driver = await self._paper(context)
        code = request.error_code.strip()
        if code and code not in ErrorCode.__members__:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"INVALID_ARGUMENT: error_code {code[:40]!r} is not one of the shared error codes",
            )
        driver.fail_next(request.count, code, request.message[:500])
        log.info("next orders will fail", extra={"count": request.count, "error_code": code})
        return executor_pb2.FailNextOrdersResponse()

