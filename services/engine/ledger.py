"""The engine's side of the vault: intents, completions (with an outbox), sync, status.

Never trade blind (property 45): an intent that cannot be written refuses the trade. A
completion that cannot be written waits in the outbox and blocks trading until it is flushed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2, vault_pb2_grpc
from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import to_timestamp
from services.common.venue import AccountState, OrderResult, OrderStatus
from services.common.venue_wire import (
    KIND_TO_PROTO,
    STATUS_TO_PROTO,
    account_state_proto,
    order_result_of,
    order_result_proto,
    side_proto,
)
from services.engine.outcome import RecordedOrder
from services.engine.preflight import ApprovedTrade

log = logging.getLogger(__name__)
CALL_TIMEOUT_SEC = 5.0
# Only these mean "the vault is away"; any other status is the vault's answer and will not
# change by asking again (a conflicting outcome, an unknown id).
TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass(frozen=True)
class PendingCompletion:
    client_order_id: str
    result: OrderResult
    settlement: OrderResult | None = None  # a close's, written with it


class Ledger:
    def __init__(self, vault: vault_pb2_grpc.VaultServiceStub, account: str, sub_account: int):
        self._vault = vault
        self.key = vault_pb2.VaultKey(account=account, sub_account=sub_account)
        self.outbox: list[PendingCompletion] = []

    async def open(self) -> vault_pb2.VaultStatus:
        reply = await self._call("OpenVault", vault_pb2.OpenVaultRequest(key=self.key))
        return reply.status

    async def status(self) -> vault_pb2.VaultStatus:
        reply = await self._call("GetVaultStatus", vault_pb2.GetVaultStatusRequest(key=self.key))
        return reply.status

    async def find(self, client_order_id: str) -> RecordedOrder | None:
        reply = await self._call(
            "ListTrades",
            vault_pb2.ListTradesRequest(key=self.key, client_order_id=client_order_id, limit=1),
        )
        for trade in reply.trades:
            if trade.client_order_id == client_order_id:
                return recorded_order(trade)
        return None

    async def unresolved(self) -> list[RecordedOrder]:
        """Trades whose outcome the vault does not know yet: PENDING and UNKNOWN."""
        reply = await self._call("ListTrades", vault_pb2.ListTradesRequest(
            key=self.key, statuses=[STATUS_TO_PROTO[OrderStatus.PENDING],
                                    STATUS_TO_PROTO[OrderStatus.UNKNOWN]]))
        return [recorded_order(trade) for trade in reply.trades]

    async def record_intent(self, trade: ApprovedTrade) -> tuple[RecordedOrder, bool]:
        """Writes the approved trade as a PENDING intent; answers the vault's record of the id
        and whether this call created it (False: an earlier request holds it)."""
        reply = await self._call("RecordIntent", vault_pb2.RecordIntentRequest(
            trade=self._intent(trade)))
        return recorded_order(reply.trade), reply.created

    def _intent(self, trade: ApprovedTrade) -> common_pb2.Trade:
        request = trade.request
        now = to_timestamp(datetime.now(UTC))
        return common_pb2.Trade(
            client_order_id=request.request_id, account=self.key.account,
            sub_account=self.key.sub_account, kind=KIND_TO_PROTO[request.kind],
            status=STATUS_TO_PROTO[OrderStatus.PENDING], market=request.order_market,
            side=side_proto(trade.side), requested_size=to_wire(trade.size),
            price=to_wire(trade.price) if trade.price is not None else "",
            notional=to_wire(trade.notional), source=request.source,
            created_at=now, updated_at=now,
        )

    async def complete(
        self, client_order_id: str, result: OrderResult,
        settlement: OrderResult | None = None,
    ) -> bool:
        """Writes the outcome (with a close's settlement, in one transaction); when the vault
        is away keeps it for later. Answers written?"""
        request = _completion(client_order_id, result, settlement)
        return await self._complete(request, result, settlement) is not None

    async def complete_and_sync(
        self, client_order_id: str, result: OrderResult,
        settlement: OrderResult | None, state: AccountState,
    ) -> vault_pb2.SyncAccountResponse | None:
        """complete() with the account the trade left synced in the same transaction. Answers
        the sync's outcome; None when it was not made (the completion may still have been
        written, or kept for later, as complete() does): the caller syncs as usual."""
        request = _completion(client_order_id, result, settlement)
        request.sync.CopyFrom(vault_pb2.SyncAccountRequest(
            key=self.key, state=account_state_proto(state)))
        reply = await self._complete(request, result, settlement)
        return reply.sync if reply is not None and reply.HasField("sync") else None

    async def _complete(
        self, request: vault_pb2.CompleteTradeRequest, result: OrderResult,
        settlement: OrderResult | None,
    ) -> vault_pb2.CompleteTradeResponse | None:
        client_order_id = request.client_order_id
        try:
            return await self._call("CompleteTrade", request)
        except DomainError as error:
            if error.code != ErrorCode.VAULT_UNAVAILABLE:
                log.error("vault refused a trade completion", extra={
                    "client_order_id": client_order_id, "error": error.message})
                return None
            log.error("vault unreachable: trade completion kept in the outbox",
                      extra={"client_order_id": client_order_id})
            self.outbox.append(PendingCompletion(client_order_id, result, settlement=settlement))
            return None

    async def flush_outbox(self, *, patient: bool = False) -> int:
        """Writes waiting completions in order; stops at the first failure. Answers how many."""
        written = 0
        while self.outbox:
            pending = self.outbox[0]
            try:
                await self._call(
                    "CompleteTrade",
                    _completion(pending.client_order_id, pending.result, pending.settlement),
                    patient=patient,
                )
                written += 1
            except DomainError as error:
                if error.code == ErrorCode.VAULT_UNAVAILABLE:
                    raise
                # Refused for good: keeping it would block trading forever. A human reads this.
                log.error("vault refused a kept trade completion; dropped from the outbox",
                          extra={"client_order_id": pending.client_order_id,
                                 "error": error.message})
            self.outbox.pop(0)
        return written

    async def sync(
        self, state: AccountState, *, patient: bool = False
    ) -> vault_pb2.SyncAccountResponse:
        return await self._call(
            "SyncAccount",
            vault_pb2.SyncAccountRequest(key=self.key, state=account_state_proto(state)),
            patient=patient,
        )

    async def _call(self, method: str, request: object, *, patient: bool = False):  # type: ignore[no-untyped-def]
        # patient: wait (within the timeout) for a vault that is coming back, instead of
        # failing at once while the channel is still in its reconnect backoff.
        try:
            return await getattr(self._vault, method)(
                request, timeout=CALL_TIMEOUT_SEC, wait_for_ready=patient)
        except grpc.RpcError as error:
            code = error.code() if callable(getattr(error, "code", None)) else None
            if code is not None and code not in TRANSIENT:
                details = error.details() if callable(getattr(error, "details", None)) else ""
                raise DomainError(
                    ErrorCode.INTERNAL, f"the vault refused {method}: {code.name}: {details}"
                ) from None
            raise DomainError(
                ErrorCode.VAULT_UNAVAILABLE,
                f"the vault is unreachable ({getattr(code, 'name', error)}); "
                "no trade runs without its record",
            ) from None


def _completion(
    client_order_id: str, result: OrderResult, settlement: OrderResult | None,
) -> vault_pb2.CompleteTradeRequest:
    request = vault_pb2.CompleteTradeRequest(client_order_id=client_order_id,
                                             result=order_result_proto(result))
    if settlement is not None and settlement.client_order_id:
        request.settlement.CopyFrom(order_result_proto(settlement))
    return request


def recorded_order(trade: common_pb2.Trade) -> RecordedOrder:
    """The vault's record as the order it stands for, marked as a replay: the fill price is
    the record's price, its time the record's last update."""
    message = common_pb2.OrderResult(
        client_order_id=trade.client_order_id, kind=trade.kind, status=trade.status,
        market=trade.market, side=trade.side, requested_size=trade.requested_size,
        filled_size=trade.filled_size, fill_price=trade.price, fee=trade.fee,
        notional=trade.notional, tx_signature=trade.tx_signature, slippage=trade.slippage,
        replayed=True,
    )
    if trade.HasField("error"):
        message.error.CopyFrom(trade.error)
    if trade.HasField("updated_at"):
        message.executed_at.CopyFrom(trade.updated_at)
    return RecordedOrder(order_result_of(message), trade.source)
