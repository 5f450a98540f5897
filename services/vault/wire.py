"""Requests in, answers out: validates what callers send and shapes what the vault answers.

Everything a caller sends is untrusted: a refusal names the field, what was expected and what
was found, and carries ErrorCode.INVALID_ARGUMENT (the servicer turns it into the gRPC status,
since the vault's answers have no error field).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from google.protobuf.message import Message

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from services.common.decimals import parse_decimal, to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import from_timestamp, is_set, to_timestamp
from services.vault.domain import (
    COMPLETION_STATES,
    EXACT,
    ZERO,
    AccountSync,
    FundingRecord,
    PositionRecord,
    StoredTrade,
    SyncOutcome,
    TradeIntent,
    TradeOutcome,
    TradeState,
    VaultKey,
    VaultView,
)
from services.vault.schema import (
    ACCOUNT_LENGTH,
    CLIENT_ORDER_ID_LENGTH,
    ERROR_CODE_LENGTH,
    MARKET_LENGTH,
    PAYMENT_ID_LENGTH,
    SIGNATURE_LENGTH,
    SOURCE_LENGTH,
)

MAX_DECIMAL_PLACES = 40
DEFAULT_LIST_LIMIT = 1000
MAX_LIST_LIMIT = 1000
MAX_ERROR_MESSAGE = 4000


def _refuse(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_ARGUMENT, message)


# Fields


def _decimal(
    text: str, field: str, *, required: bool = False, non_negative: bool = False
) -> Decimal | None:
    if not required and not (text or "").strip():
        return None
    value = parse_decimal(text, field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMAL_PLACES:
        raise _refuse(
            f"{field} has more than {MAX_DECIMAL_PLACES} decimal places, found {text[:60]!r}"
        )
    if non_negative and value < 0:
        raise _refuse(f"{field} must not be negative, found {text[:40]!r}")
    return value


def _required_decimal(text: str, field: str, *, non_negative: bool = False) -> Decimal:
    value = _decimal(text, field, required=True, non_negative=non_negative)
    assert value is not None
    return value


def _text(value: str, field: str, max_length: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise _refuse(f"{field} is required, found nothing")
    if len(value) > max_length:
        raise _refuse(f"{field} must be at most {max_length} characters, found {len(value)}")
    if "\x00" in value:
        raise _refuse(f"{field} must not contain NUL characters")
    return value


def _free_text(value: str, max_length: int) -> str:
    """Text from the venue (error messages): kept, cleaned, never a reason to refuse."""
    return value.replace("\x00", "")[:max_length]


def _time(stamp: Message, present: bool) -> datetime | None:
    return from_timestamp(stamp) if present and is_set(stamp) else None  # type: ignore[arg-type]


def _side(value: int, field: str) -> str:
    if value == common_pb2.SIDE_UNSPECIFIED:
        return ""
    try:
        return common_pb2.Side.Name(value).removeprefix("SIDE_")
    except ValueError:
        raise _refuse(f"{field} must be LONG or SHORT, found {value}") from None


def _kind(value: int, field: str) -> str:
    if value == common_pb2.TRADE_KIND_UNSPECIFIED:
        raise _refuse(f"{field} is required: a TradeKind such as PERP_OPEN")
    try:
        return common_pb2.TradeKind.Name(value).removeprefix("TRADE_KIND_")
    except ValueError:
        raise _refuse(f"{field} is not a known TradeKind, found {value}") from None


def _status(value: int, field: str) -> TradeState:
    try:
        return TradeState(common_pb2.TradeStatus.Name(value).removeprefix("TRADE_STATUS_"))
    except ValueError:
        raise _refuse(f"{field} is not a known TradeStatus, found {value}") from None


def parse_key(request: Message) -> VaultKey:
    if not request.HasField("key"):
        raise _refuse("key is required: the vault's account and sub-account")
    key = request.key  # type: ignore[attr-defined]
    account = _text(key.account, "key.account", ACCOUNT_LENGTH, required=True)
    return VaultKey(account, key.sub_account)


# Requests


def parse_intent(request: vault_pb2.RecordIntentRequest) -> TradeIntent:
    if not request.HasField("trade"):
        raise _refuse("trade is required")
    trade = request.trade
    account = _text(trade.account, "trade.account", ACCOUNT_LENGTH, required=True)
    return TradeIntent(
        key=VaultKey(account, trade.sub_account),
        client_order_id=_text(
            trade.client_order_id, "trade.client_order_id", CLIENT_ORDER_ID_LENGTH, required=True
        ),
        kind=_kind(trade.kind, "trade.kind"),
        market=_text(trade.market, "trade.market", MARKET_LENGTH, required=True),
        side=_side(trade.side, "trade.side"),
        requested_size=_decimal(trade.requested_size, "trade.requested_size", non_negative=True),
        price=_decimal(trade.price, "trade.price", non_negative=True),
        notional=_decimal(trade.notional, "trade.notional", non_negative=True),
        source=_text(trade.source, "trade.source", SOURCE_LENGTH),
        created_at=_time(trade.created_at, trade.HasField("created_at")),
    )


def parse_completion(request: vault_pb2.CompleteTradeRequest) -> tuple[str, TradeOutcome]:
    if not request.HasField("result"):
        raise _refuse("result is required: the venue's OrderResult")
    return _completion(request.client_order_id, request.result)


def parse_settlement(request: vault_pb2.CompleteTradeRequest) -> tuple[str, TradeOutcome] | None:
    """The settlement a close made, if the request carries one (a FILLED SETTLE_PNL)."""
    if not request.HasField("settlement"):
        return None
    settlement = request.settlement
    if settlement.kind != common_pb2.TRADE_KIND_SETTLE_PNL:
        raise _refuse("settlement.kind must be TRADE_KIND_SETTLE_PNL")
    client_order_id, outcome = _completion(settlement.client_order_id, settlement)
    return client_order_id, outcome


def _completion(raw_id: str, result: common_pb2.OrderResult) -> tuple[str, TradeOutcome]:
    client_order_id = _text(
        raw_id or result.client_order_id,
        "client_order_id",
        CLIENT_ORDER_ID_LENGTH,
        required=True,
    )
    if result.client_order_id and result.client_order_id.strip() != client_order_id:
        raise _refuse(
            f"result.client_order_id {result.client_order_id[:40]!r} does not match "
            f"client_order_id {client_order_id!r}"
        )
    status = _status(result.status, "result.status")
    if status not in COMPLETION_STATES:
        raise _refuse(
            "result.status must be FILLED, REJECTED, FAILED or UNKNOWN, "
            f"found {common_pb2.TradeStatus.Name(result.status)}"
        )
    error = result.error
    return client_order_id, TradeOutcome(
        status=status,
        market=_text(result.market, "result.market", MARKET_LENGTH),
        side=_side(result.side, "result.side"),
        filled_size=_decimal(result.filled_size, "result.filled_size", non_negative=True),
        price=_decimal(result.fill_price, "result.fill_price", non_negative=True),
        fee=_decimal(result.fee, "result.fee"),
        notional=_decimal(result.notional, "result.notional", non_negative=True),
        slippage=_decimal(result.slippage, "result.slippage"),
        tx_signature=_text(result.tx_signature, "result.tx_signature", SIGNATURE_LENGTH),
        error_code=_free_text(error.code, ERROR_CODE_LENGTH),
        error_message=_free_text(error.message, MAX_ERROR_MESSAGE),
        error_details={
            _free_text(name, 200): _free_text(value, 2000)
            for name, value in error.details.items()
        },
        executed_at=_time(result.executed_at, result.HasField("executed_at")),
    )


def _positions(positions: Iterable[common_pb2.Position]) -> tuple[PositionRecord, ...]:
    records: dict[str, PositionRecord] = {}
    for index, position in enumerate(positions):
        field = f"state.positions[{index}]"
        market = _text(position.market, f"{field}.market", MARKET_LENGTH, required=True)
        size = _required_decimal(position.size, f"{field}.size", non_negative=True)
        if market in records:
            raise _refuse(f"{field}.market {market!r} appears twice; one position per market")
        if size == 0:
            continue  # a closed position
        side = _side(position.side, f"{field}.side")
        if not side:
            raise _refuse(f"{field}.side is required for an open position: LONG or SHORT")
        entry = _decimal(position.entry_price, f"{field}.entry_price", non_negative=True)
        records[market] = PositionRecord(market, side, size, entry)
    return tuple(records.values())


def _funding(payments: Iterable[common_pb2.FundingPayment]) -> tuple[FundingRecord, ...]:
    records = []
    for index, payment in enumerate(payments):
        field = f"state.funding_payments[{index}]"
        period_start = _time(payment.period_start, payment.HasField("period_start"))
        if period_start is None:
            raise _refuse(f"{field}.period_start is required: the funding hour it settles")
        records.append(
            FundingRecord(
                payment_id=_text(
                    payment.payment_id, f"{field}.payment_id", PAYMENT_ID_LENGTH, required=True
                ),
                market=_text(payment.market, f"{field}.market", MARKET_LENGTH),
                period_start=period_start,
                rate_1h=_decimal(payment.rate_1h, f"{field}.rate_1h"),
                side=_side(payment.side, f"{field}.side"),
                size=_decimal(payment.size, f"{field}.size", non_negative=True),
                oracle_price=_decimal(
                    payment.oracle_price, f"{field}.oracle_price", non_negative=True
                ),
                amount=_required_decimal(payment.amount, f"{field}.amount"),
            )
        )
    return tuple(records)


def parse_sync(request: vault_pb2.SyncAccountRequest) -> tuple[VaultKey, AccountSync]:
    key = parse_key(request)
    if not request.HasField("state"):
        raise _refuse("state is required: the venue's AccountState")
    state = request.state
    # A state of another account or sub-account would mix two vaults (property 35).
    if state.account and state.account.strip() != key.account:
        raise _refuse(
            f"state.account {state.account[:60]!r} does not match key.account {key.account!r}"
        )
    if (state.account or state.sub_account) and state.sub_account != key.sub_account:
        raise _refuse(
            f"state.sub_account {state.sub_account} does not match "
            f"key.sub_account {key.sub_account}"
        )
    return key, AccountSync(
        collateral=_required_decimal(state.collateral, "state.collateral"),
        initial_margin=_decimal(
            state.initial_margin_requirement, "state.initial_margin_requirement",
            non_negative=True,
        )
        or ZERO,
        positions=_positions(state.positions),
        funding_payments=_funding(state.funding_payments),
        as_of=_time(state.as_of, state.HasField("as_of")),
        health_ratio=state.health_ratio[:40],
        leverage=state.leverage[:40],
        free_collateral=state.free_collateral[:40],
    )


def parse_list_trades(
    request: vault_pb2.ListTradesRequest,
) -> tuple[VaultKey, list[TradeState], str, int]:
    key = parse_key(request)
    statuses = []
    for index, value in enumerate(request.statuses):
        if value == common_pb2.TRADE_STATUS_UNSPECIFIED:
            raise _refuse(f"statuses[{index}] is TRADE_STATUS_UNSPECIFIED; leave statuses empty "
                          "for all trades")
        statuses.append(_status(value, f"statuses[{index}]"))
    client_order_id = _text(request.client_order_id, "client_order_id", CLIENT_ORDER_ID_LENGTH)
    limit = min(request.limit or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
    return key, statuses, client_order_id, limit


def parse_since(request: vault_pb2.ListFundingPaymentsRequest) -> datetime | None:
    return _time(request.since, request.HasField("since"))


# Answers


def _side_proto(side: str) -> common_pb2.Side.ValueType:
    return common_pb2.Side.Value(f"SIDE_{side}") if side else common_pb2.SIDE_UNSPECIFIED


def status_proto(view: VaultView) -> vault_pb2.VaultStatus:
    return vault_pb2.VaultStatus(
        key=vault_pb2.VaultKey(account=view.key.account, sub_account=view.key.sub_account),
        vault_id=view.vault_id,
        balance=to_wire(view.balance),
        allocated_capital=to_wire(view.allocated_capital),
        available_capital=to_wire(view.available_capital),
        realized_funding_pnl=to_wire(view.realized_funding_pnl),
        positions=[
            vault_pb2.VaultPosition(
                market=position.market,
                side=_side_proto(position.side),
                size=to_wire(position.size),
                entry_price=to_wire(position.entry_price),
            )
            for position in view.positions
        ],
        last_synced_at=to_timestamp(view.last_synced_at),
        pending_trades=view.pending_trades,
        trade_count=view.trade_count,  # None leaves it unset
        created_at=to_timestamp(view.created_at),
    )


def trade_proto(trade: StoredTrade) -> common_pb2.Trade:
    error = None
    if trade.error_code or trade.error_message:
        error = common_pb2.Error(
            code=trade.error_code, message=trade.error_message, details=trade.error_details
        )
    return common_pb2.Trade(
        client_order_id=trade.client_order_id,
        account=trade.account,
        sub_account=trade.sub_account,
        kind=common_pb2.TradeKind.Value(f"TRADE_KIND_{trade.kind}"),
        status=common_pb2.TradeStatus.Value(f"TRADE_STATUS_{trade.status}"),
        market=trade.market,
        side=_side_proto(trade.side),
        requested_size=to_wire(trade.requested_size),
        filled_size=to_wire(trade.filled_size),
        price=to_wire(trade.price),
        fee=to_wire(trade.fee),
        notional=to_wire(trade.notional),
        tx_signature=trade.tx_signature,
        source=trade.source,
        error=error,
        created_at=to_timestamp(trade.created_at),
        updated_at=to_timestamp(trade.updated_at),
        slippage=to_wire(trade.slippage),
    )


def sync_proto(outcome: SyncOutcome) -> vault_pb2.SyncAccountResponse:
    return vault_pb2.SyncAccountResponse(
        status=status_proto(outcome.view),
        funding_payments_recorded=outcome.funding_payments_recorded,
        balance_change=to_wire(outcome.balance_change),
    )


def funding_proto(rows: list[FundingRecord]) -> vault_pb2.ListFundingPaymentsResponse:
    total = ZERO
    for row in rows:
        total = EXACT.add(total, row.amount)
    return vault_pb2.ListFundingPaymentsResponse(
        payments=[
            common_pb2.FundingPayment(
                payment_id=row.payment_id,
                market=row.market,
                period_start=to_timestamp(row.period_start),
                rate_1h=to_wire(row.rate_1h),
                side=_side_proto(row.side),
                size=to_wire(row.size),
                oracle_price=to_wire(row.oracle_price),
                amount=to_wire(row.amount),
            )
            for row in rows
        ],
        total=to_wire(total),
    )
