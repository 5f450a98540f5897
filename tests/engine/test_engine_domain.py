"""The engine's decisions are plain Python: the gates take and return domain types, and the
modules they live in import no protobuf, so the backtester can run them without the wire."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dne.common.v1 import common_pb2
from services.common.errors import ErrorCode
from services.common.venue import AccountState, OrderKind, PositionState, Side
from services.common.venue_wire import account_state_of, account_state_proto
from services.engine.account import AccountView
from services.engine.gates import GateDenied
from services.engine.preflight import MarketTerms, Preflight, TradeContext, VenueStatus
from services.engine.settings import EngineSettings
from services.engine.trade_request import ACTION_BY_KIND, TradeRequest

DECISION_MODULES = ("services.engine.preflight", "services.engine.gates",
                    "services.engine.delta", "services.engine.entry_economics",
                    "services.engine.account", "services.engine.trade_request",
                    "services.common.venue", "services.engine.outcome",
                    "services.engine.confirmations", "services.engine.trade_path",
                    "services.engine.hedged_entry")
AT = datetime(2026, 2, 15, tzinfo=UTC)


def test_the_decision_modules_import_no_protobuf() -> None:
    probe = (f"import sys\nfor name in {DECISION_MODULES!r}: __import__(name)\n"
             "print(sorted(m for m in sys.modules if m.startswith(('dne.', 'google.protobuf'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"


def account(collateral: str = "1000", positions: tuple[PositionState, ...] = ()) -> AccountState:
    return AccountState(
        account="paper-wallet", sub_account=0, venue="paper", collateral=Decimal(collateral),
        free_collateral=Decimal(collateral), equity=Decimal(collateral),
        health_ratio=Decimal(100), leverage=Decimal(0), margin_requirement=Decimal(0),
        initial_margin_requirement=Decimal(0), quote_balance=Decimal(collateral),
        wallet_usdc=Decimal(500), wallet_sol=Decimal(1), as_of=AT, positions=list(positions))


def context(state: AccountState, rate_1h: str = "0.0001") -> TradeContext:
    return TradeContext(
        account=AccountView(state),
        venue=VenueStatus("paper", "paper-wallet", connected=True, trading_halted=False,
                          halt_reason="", latency_ms=1.0, measured_ms=1.0),
        markets={"BTC-PERP": MarketTerms("BTC-PERP", True, Decimal(rate_1h))},
        price=Decimal(50_000), sol_price=Decimal(150))


def open_btc(side: Side, size: str) -> TradeRequest:
    return TradeRequest("r-1", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP", side,
                        Decimal(size))


def test_an_open_is_approved_as_domain_values() -> None:
    preflight = Preflight(EngineSettings.model_construct(), leverage_limit=Decimal(10))
    approved = preflight.evaluate(open_btc(Side.SHORT, "0.01"), context(account()))
    assert approved.side is Side.SHORT and approved.size == Decimal("0.01")
    assert approved.notional == Decimal(500)
    assert approved.price_limit == Decimal(50_000) * (1 - Decimal("0.005"))  # a sell's limit
    assert approved.expected_revenue is not None and approved.expected_revenue > 0
    assert approved.details()["side"] == "short"


@pytest.mark.parametrize(("side", "size", "code"), [
    (Side.SHORT, "1", ErrorCode.LEVERAGE_LIMIT),        # 50,000 on 1,000 of collateral
    (Side.LONG, "0.01", ErrorCode.UNPROFITABLE),      # a long pays a positive rate
])
def test_a_denied_open_names_its_gate(side: Side, size: str, code: ErrorCode) -> None:
    preflight = Preflight(EngineSettings.model_construct(), leverage_limit=Decimal(10))
    with pytest.raises(GateDenied) as denied:
        preflight.evaluate(open_btc(side, size), context(account()))
    assert denied.value.code == code


def test_a_close_takes_the_opposite_side_of_the_held_position() -> None:
    held = PositionState("BTC-PERP", Side.SHORT, Decimal("0.02"), Decimal(49_000),
                         Decimal(50_000), Decimal(-20), Decimal(0), Decimal(-20), None,
                         Decimal(1000), Decimal(0))
    close = TradeRequest("r-2", "DRIFT_CLOSE_POSITION", OrderKind.PERP_CLOSE, "BTC-PERP")
    preflight = Preflight(EngineSettings.model_construct(), leverage_limit=Decimal(10))
    approved = preflight.evaluate(close, context(account(positions=(held,))))
    assert approved.side is Side.LONG and approved.size == Decimal("0.02")


def test_the_executor_answer_reads_back_as_the_state_it_was_written_from() -> None:
    held = PositionState("SOL-PERP", Side.SHORT, Decimal("2.5"), Decimal("150.25"),
                         Decimal(151), Decimal("-1.875"), Decimal("0.5"), Decimal("-1.375"),
                         Decimal("290.123456"), Decimal("377.5"), Decimal("0.12"))
    state = account(positions=(held,))
    wire = account_state_proto(state)
    assert account_state_of(wire) == state
    # A position the wire gives no side holds nothing the engine could act on: left out.
    wire.positions.add(market="BTC-PERP", side=common_pb2.SIDE_UNSPECIFIED, size="1")
    assert account_state_of(wire).positions == [held]


def test_a_resolved_intent_answers_as_the_command_that_sent_it() -> None:
    """After a restart an intent is answered under ACTION_BY_KIND's name: the same one its
    command's parser gave it (a swap is "SWAP" to the engine, never "DRIFT_SWAP")."""
    from dne.engine.v1 import engine_pb2 as E
    from services.engine import commands
    parsed = [
        commands.deposit(E.DepositRequest(request_id="d", amount="5")),
        commands.withdraw(E.WithdrawRequest(request_id="w", amount="5")),
        commands.open_position(E.OpenPositionRequest(
            request_id="o", market="BTC-PERP", direction="short", size="1")),
        commands.close_position(E.ClosePositionRequest(request_id="c", market="BTC-PERP")),
        commands.settle_pnl(E.SettlePnlRequest(request_id="s", market="BTC-PERP")),
        commands.swap(E.SwapRequest(request_id="b", direction="buy", size="1")),
        commands.swap(E.SwapRequest(request_id="x", direction="sell", size="1")),
    ]
    assert {request.kind for request in parsed} == set(ACTION_BY_KIND) - {
        OrderKind.PERP_REBALANCE}
    for request in parsed:
        assert request.action == ACTION_BY_KIND[request.kind], request
