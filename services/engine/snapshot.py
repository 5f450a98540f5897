"""Builds FUNDING_UPDATE and RebalancePlan messages from domain values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dne.engine.v1 import engine_pb2
from dne.vault.v1 import vault_pb2
from services.common.decimals import to_wire
from services.common.timeutil import to_timestamp
from services.common.venue_wire import position_proto, ratio_wire
from services.engine import delta
from services.engine.account import AccountView


def funding_update(
    *,
    account: AccountView,
    hedge_market: str,
    reserved_sol: Decimal,
    sol_price: Decimal | None,
    vault_status: vault_pb2.VaultStatus | None,
    mode: str,
    blocked_reason: str,
    moment: datetime,
) -> engine_pb2.FundingUpdate:
    spot = account.wallet_sol
    perp = account.signed_size(hedge_market)
    drift = delta.drift_pct(spot, reserved_sol, perp)
    state = account.state
    update = engine_pb2.FundingUpdate(
        timestamp=to_timestamp(moment),
        spot_sol=to_wire(spot),
        perp_sol=to_wire(perp),
        net_delta=to_wire(delta.net_delta(spot, reserved_sol, perp)),
        drift_pct=to_wire(drift, 4) if drift is not None else "",
        sol_price=to_wire(sol_price) if sol_price is not None else "",
        # As the executor writes them (venue_wire), so the update shows the venue's numbers.
        health=ratio_wire(state.health_ratio),
        total_collateral=to_wire(state.collateral),
        equity=to_wire(state.equity),
        maintenance_margin=to_wire(state.margin_requirement),
        leverage=ratio_wire(state.leverage),
        free_collateral=to_wire(state.free_collateral),
        mode=mode,
        wallet_usdc=to_wire(state.wallet_usdc),
        funding_received=vault_status.realized_funding_pnl if vault_status else "0",
        trading_enabled=not blocked_reason,
        blocked_reason=blocked_reason,
    )
    update.positions.extend(position_proto(p) for p in state.positions)
    return update


def rebalance_plan(plan: delta.RebalancePlan) -> engine_pb2.RebalancePlan:
    message = engine_pb2.RebalancePlan(
        spot_sol=to_wire(plan.spot_sol),
        perp_sol=to_wire(plan.perp_sol),
        reserved_sol=to_wire(plan.reserved_sol),
        net_delta=to_wire(plan.net_delta),
        drift_pct=to_wire(plan.drift_pct, 4) if plan.drift_pct is not None else "",
        tolerance_pct=to_wire(plan.tolerance_pct),
        signal=plan.signal,
        action=plan.action,
        correction_size=to_wire(plan.correction_size),
        skip_reason=plan.skip_reason,
    )
    if plan.cooldown_until is not None:
        message.cooldown_until.CopyFrom(to_timestamp(plan.cooldown_until))
    return message
