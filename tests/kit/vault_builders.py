"""Builders of the vault's wire messages, with defaults that make a valid request."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from services.common.decimals import to_wire
from services.common.timeutil import to_timestamp

ACCOUNT = "paper-authority"
MARKET = "SOL-PERP"
HOUR_ZERO = datetime(2026, 1, 15, tzinfo=UTC)


def key(sub_account: int = 0, account: str = ACCOUNT) -> vault_pb2.VaultKey:
    return vault_pb2.VaultKey(account=account, sub_account=sub_account)


def intent(
    client_order_id: str,
    *,
    sub_account: int = 0,
    account: str = ACCOUNT,
    kind: int = common_pb2.TRADE_KIND_PERP_OPEN,
    market: str = MARKET,
    side: int = common_pb2.SIDE_SHORT,
    requested_size: str = "1",
    source: str = "user",
) -> vault_pb2.RecordIntentRequest:
    return vault_pb2.RecordIntentRequest(
        trade=common_pb2.Trade(
            client_order_id=client_order_id,
            account=account,
            sub_account=sub_account,
            kind=kind,
            market=market,
            side=side,
            requested_size=requested_size,
            source=source,
        )
    )


def completion(
    client_order_id: str,
    status: int = common_pb2.TRADE_STATUS_FILLED,
    *,
    filled_size: str = "1",
    fill_price: str = "150.25",
    fee: str = "0.05",
    notional: str = "150.25",
    slippage: str = "0.0012",
    tx_signature: str = "sig-1",
    error_code: str = "",
    error_message: str = "",
    executed_at: datetime | None = None,
) -> vault_pb2.CompleteTradeRequest:
    error = common_pb2.Error(code=error_code, message=error_message) if error_code else None
    return vault_pb2.CompleteTradeRequest(
        client_order_id=client_order_id,
        result=common_pb2.OrderResult(
            client_order_id=client_order_id,
            status=status,
            filled_size=filled_size,
            fill_price=fill_price,
            fee=fee,
            notional=notional,
            slippage=slippage,
            tx_signature=tx_signature,
            error=error,
            executed_at=to_timestamp(executed_at),
        ),
    )


def failure(client_order_id: str, status: int) -> vault_pb2.CompleteTradeRequest:
    """A result that moved nothing: REJECTED, FAILED or UNKNOWN with its error."""
    return completion(
        client_order_id, status, filled_size="", fill_price="", fee="", notional="",
        slippage="", tx_signature="", error_code="VENUE_REJECTED",
        error_message="the venue said no",
    )


def position(
    market: str = MARKET,
    side: int = common_pb2.SIDE_SHORT,
    size: str = "1",
    entry_price: str = "150",
) -> common_pb2.Position:
    return common_pb2.Position(market=market, side=side, size=size, entry_price=entry_price)


def funding_payment(
    hour: int,
    amount: Decimal | str,
    *,
    sub_account: int = 0,
    market: str = MARKET,
) -> common_pb2.FundingPayment:
    """The payment that settles hour `hour` after HOUR_ZERO, with the shared payment id."""
    period_start = HOUR_ZERO.timestamp() + hour * 3600
    return common_pb2.FundingPayment(
        payment_id=f"{sub_account}:{market}:{int(period_start)}",
        market=market,
        period_start=to_timestamp(datetime.fromtimestamp(period_start, UTC)),
        rate_1h="0.0000125",
        side=common_pb2.SIDE_SHORT,
        size="1",
        oracle_price="150",
        amount=amount if isinstance(amount, str) else to_wire(amount),
    )


def account_state(
    collateral: Decimal | str = "1000",
    *,
    sub_account: int = 0,
    account: str = ACCOUNT,
    initial_margin: Decimal | str = "0",
    positions: list[common_pb2.Position] | None = None,
    funding: list[common_pb2.FundingPayment] | None = None,
    as_of: datetime | None = None,
) -> common_pb2.AccountState:
    def text(value: Decimal | str) -> str:
        return value if isinstance(value, str) else to_wire(value)

    return common_pb2.AccountState(
        account=account,
        sub_account=sub_account,
        venue="paper",
        collateral=text(collateral),
        initial_margin_requirement=text(initial_margin),
        positions=positions or [],
        funding_payments=funding or [],
        health_ratio="100",
        leverage="0",
        free_collateral=text(collateral),
        as_of=to_timestamp(as_of),
    )


def sync(
    state: common_pb2.AccountState, vault_key: vault_pb2.VaultKey | None = None
) -> vault_pb2.SyncAccountRequest:
    return vault_pb2.SyncAccountRequest(
        key=vault_key or key(state.sub_account, state.account), state=state
    )
