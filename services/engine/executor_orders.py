"""The executor's order side, as the trade path uses it: send an approved trade and look an order
up by its client order id. Transport errors are retried with the same id, which the executor
makes idempotent; answers come back as the venue's domain types."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import grpc
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt

from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import to_timestamp
from services.common.venue import OrderKind, OrderResult
from services.common.venue_wire import KIND_TO_PROTO, account_state_of, order_result_of, side_proto
from services.engine.gates import LIMIT_PLACES
from services.engine.outcome import ExecutorUnreachable, Sent
from services.engine.preflight import ApprovedTrade
from services.engine.vault_sync import WaitFromList

log = logging.getLogger(__name__)
CALL_TIMEOUT_SEC = 5.0
Sleep = Callable[[float], Awaitable[None]]


class ExecutorOrders:
    def __init__(
        self, executor: executor_pb2_grpc.ExecutorServiceStub, sub_account: int,
        retry_delays: tuple[float, ...], sleep: Sleep,
    ) -> None:
        self._executor = executor
        self._sub_account = sub_account
        self._retry_delays = retry_delays
        self._sleep = sleep

    async def send(self, trade: ApprovedTrade, funding_since: datetime | None) -> Sent:
        """`funding_since`: where the payments of the account the answer carries start."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(len(self._retry_delays) + 1),
            wait=WaitFromList(self._retry_delays),
            retry=retry_if_exception_type(grpc.RpcError),
            sleep=self._sleep,
        )
        try:
            return await retrying(self._send_once, trade, funding_since)
        except RetryError as failure:
            error = failure.last_attempt.exception()
            log.error("executor unreachable while sending an order",
                      extra={"client_order_id": trade.request.request_id}, exc_info=error)
            raise ExecutorUnreachable(trade.request.request_id) from error

    async def lookup(self, client_order_id: str, asked: OrderKind) -> OrderResult | None:
        """The executor's record of an order: None when it has none; VENUE_UNAVAILABLE when it
        cannot be asked (which says nothing about the order)."""
        try:
            reply = await self._executor.GetOrder(
                executor_pb2.GetOrderRequest(client_order_id=client_order_id),
                timeout=CALL_TIMEOUT_SEC)
        except grpc.RpcError:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              f"the executor cannot be asked about order {client_order_id}"
                              ) from None
        return order_result_of(reply.result, asked) if reply.found else None

    async def _send_once(self, trade: ApprovedTrade, funding_since: datetime | None) -> Sent:
        request = trade.request
        executor = self._executor
        sub_account = self._sub_account
        common = {"client_order_id": request.request_id,
                  "account_after": self._account_after(funding_since)}
        limit = (to_wire(trade.price_limit, LIMIT_PLACES) if trade.price_limit is not None
                 else "")
        settlement = None
        if request.kind is OrderKind.DEPOSIT:
            reply = await executor.Deposit(executor_pb2.DepositRequest(
                **common, sub_account=sub_account, amount=to_wire(trade.size)),
                timeout=CALL_TIMEOUT_SEC)
        elif request.kind is OrderKind.WITHDRAW:
            reply = await executor.Withdraw(executor_pb2.WithdrawRequest(
                **common, sub_account=sub_account, amount=to_wire(trade.size)),
                timeout=CALL_TIMEOUT_SEC)
        elif request.kind is OrderKind.SETTLE_PNL:
            reply = await executor.SettlePnl(executor_pb2.SettlePnlRequest(
                **common, sub_account=sub_account, market=request.market),
                timeout=CALL_TIMEOUT_SEC)
        elif request.kind is OrderKind.PERP_CLOSE:
            # Property 16: settling PnL above $1 after a close is always on; the proto's bool
            # cannot tell "unset" from "false", so the engine does not offer to skip it.
            reply = await executor.ClosePosition(executor_pb2.ClosePositionRequest(
                **common, sub_account=sub_account, market=request.market,
                settle_pnl=True, price_limit=limit), timeout=CALL_TIMEOUT_SEC)
            if reply.HasField("settlement"):
                settlement = order_result_of(reply.settlement, OrderKind.SETTLE_PNL)
        elif request.is_swap:
            reply = await executor.Swap(executor_pb2.SwapRequest(
                **common, side=side_proto(trade.side), size=to_wire(trade.size),
                price_limit=limit),
                timeout=CALL_TIMEOUT_SEC)
        else:
            reply = await executor.OpenPosition(executor_pb2.OpenPositionRequest(
                **common, sub_account=sub_account, market=request.market,
                side=side_proto(trade.side), size=to_wire(trade.size), price_limit=limit,
                reduce_only=request.reduce_only, kind=KIND_TO_PROTO[request.kind]),
                timeout=CALL_TIMEOUT_SEC)
        account = account_state_of(reply.account) if reply.HasField("account") else None
        return Sent(order_result_of(reply.result, request.kind), settlement, account)

    def _account_after(self, funding_since: datetime | None) -> executor_pb2.AccountAfter:
        wanted = executor_pb2.AccountAfter(sub_account=self._sub_account)
        if funding_since is not None:
            wanted.funding_since.CopyFrom(to_timestamp(funding_since))
        return wanted
