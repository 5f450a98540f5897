"""Properties 5 and 47-50: what every FUNDING_UPDATE and every log record must carry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dne.common.v1 import common_pb2 as K
from dne.engine.v1 import engine_pb2 as E
from services.common.decimals import to_wire
from services.common.venue_wire import account_state_of
from services.engine import commands
from services.engine.account import AccountView
from services.engine.snapshot import funding_update
from tests.kit.confirmations import confirm_quoted
from tests.kit.engine_fakes import build_engine

sizes = st.decimals(min_value="0.01", max_value="20", places=3)
amounts = st.integers(min_value=200, max_value=5000)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def named(self, message: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.getMessage() == message]


@contextmanager
def captured_logs() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@settings(max_examples=100)
@given(spot=sizes, perp=sizes, price=st.decimals(min_value="50", max_value="500", places=2),
       collateral=st.decimals(min_value="0", max_value="100000", places=2))
def test_property_5_every_funding_update_carries_health_leverage_positions_collateral_margin_delta(
    spot: Decimal, perp: Decimal, price: Decimal, collateral: Decimal
) -> None:
    state = K.AccountState(
        account="paper-wallet", collateral=to_wire(collateral), free_collateral="1",
        equity=to_wire(collateral), health_ratio="87", leverage="1.5", margin_requirement="12",
        wallet=K.Wallet(usdc="10", sol=to_wire(spot)),
        positions=[K.Position(market="SOL-PERP", side=K.SIDE_SHORT, size=to_wire(perp))],
    )
    update = funding_update(
        account=AccountView(account_state_of(state)), hedge_market="SOL-PERP",
        reserved_sol=Decimal("0.017"),
        sol_price=price, vault_status=None, mode="paper", blocked_reason="",
        moment=datetime(2026, 1, 15, tzinfo=UTC),
    )
    for field in ("health", "leverage", "total_collateral", "maintenance_margin", "net_delta",
                  "spot_sol", "perp_sol", "sol_price", "free_collateral", "equity"):
        assert getattr(update, field) != "", field
    assert update.HasField("timestamp")
    assert len(update.positions) == 1
    assert Decimal(update.net_delta) == spot - Decimal("0.017") - perp


@settings(max_examples=100)
@given(amount=st.integers(min_value=2000, max_value=5000), size=sizes)
def test_property_46_47_50_trades_state_and_profitability_are_logged_with_their_fields(
    amount: int, size: Decimal
) -> None:
    async def scenario() -> _Capture:
        harness = build_engine()
        with captured_logs() as logs:
            await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
            await harness.engine.trade(commands.deposit(  # type: ignore[attr-defined]
                E.DepositRequest(request_id="d", amount=str(amount))))
            await confirm_quoted(lambda confirmation_id: harness.engine.trade(  # type: ignore
                commands.open_position(E.OpenPositionRequest(
                    request_id="o", market="SOL-PERP", direction="short", size=str(size),
                    confirmation_id=confirmation_id))))
            await harness.engine.tick()  # type: ignore[attr-defined]
            await harness.engine.shutdown()  # type: ignore[attr-defined]
        return logs

    logs = asyncio.run(scenario())
    trades = logs.named("trade executed")
    assert trades, "a filled deposit at least"
    for record in trades:  # property 46
        for field in ("timestamp", "market", "side", "size", "price", "tx_signature"):
            assert hasattr(record, field), field
    states = logs.named("account state")
    assert states
    for record in states:  # property 47
        for field in ("health_ratio", "leverage", "total_collateral", "free_collateral"):
            assert hasattr(record, field), field
    for record in logs.named("profitability"):  # property 50
        revenue = Decimal(record.expected_revenue)  # type: ignore[attr-defined]
        costs = Decimal(record.estimated_costs)  # type: ignore[attr-defined]
        assert Decimal(record.net_profit) == revenue - costs  # type: ignore[attr-defined]
    assert logs.named("profitability"), "opening a position computes profitability"


@settings(max_examples=100)
@given(latency=st.floats(min_value=301, max_value=10_000), amount=amounts)
def test_property_49_a_trade_blocked_by_a_safety_gate_is_logged_at_warning(
    latency: float, amount: int
) -> None:
    async def scenario() -> _Capture:
        harness = build_engine()
        with captured_logs() as logs:
            await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
            harness.executor.latency_ms = latency
            result = await harness.engine.trade(commands.deposit(  # type: ignore[attr-defined]
                E.DepositRequest(request_id="late", amount=str(amount))))
            assert not result.ok and result.error.code == "LATENCY_TOO_HIGH"
            await harness.engine.shutdown()  # type: ignore[attr-defined]
        return logs

    blocked = asyncio.run(scenario()).named("trade blocked by a safety gate")
    assert blocked and all(record.levelno == logging.WARNING for record in blocked)


@settings(max_examples=100)
@given(amount=amounts)
def test_property_48_an_error_is_logged_at_error_level_with_its_details(amount: int) -> None:
    async def scenario() -> _Capture:
        harness = build_engine()
        with captured_logs() as logs:
            await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
            harness.vault.failing.add("CompleteTrade")
            await harness.engine.trade(commands.deposit(  # type: ignore[attr-defined]
                E.DepositRequest(request_id="lost", amount=str(amount))))
            await harness.engine.shutdown()  # type: ignore[attr-defined]
        return logs

    logs = asyncio.run(scenario())
    errors = [r for r in logs.records if r.levelno == logging.ERROR]
    assert errors, "a vault that cannot record a completion is an error"
    assert all(getattr(r, "client_order_id", None) or r.exc_info for r in errors)
