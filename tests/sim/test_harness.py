"""The campaign's harness itself: a broken set-up is caught, and a seed replays exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.common.venue import OrderKind, Side
from services.engine import delta as delta_module
from services.engine.trade_request import TradeRequest
from sim import schedule as S
from sim.runner import Workspace, run_seed
from sim.world import World

HEDGE = "SOL-PERP"


def scripted(*ops: S.Op, seed: int = 900_001) -> S.Schedule:
    """A hand-written schedule on a calm network: only the set-up under test misbehaves."""
    prologue = (S.SetFunding(HEDGE, Decimal("0.0001")),
                S.Command("StartEngine", f"s{seed}-start", (("mode", "paper"),)))
    return S.Schedule(seed, 0.0, ops, 2000, prologue)


def hedge(request_id: str, size: str) -> S.Command:
    return S.Command("OpenPosition", request_id, (("market", HEDGE), ("direction", "short"),
                                                  ("size", size), ("confirmed", True)),
                     role="hedge_entry")


def swap(request_id: str, direction: str, size: str) -> S.Command:
    return S.Command("Swap", request_id, (("direction", direction), ("size", size),
                                          ("confirmed", True)))


# A carry of 2 SOL, then the user sells 1 SOL of its spot: the next tick must reduce the short.
DRIFT_THEN_TICK = scripted(hedge("h-1", "2"), swap("h-2", "sell", "1"), S.Tick())


def test_a_sound_set_up_passes_the_scripted_drift(workspace: Workspace) -> None:
    outcome = run_seed(900_001, workspace, schedule=DRIFT_THEN_TICK)
    assert outcome.violations == [], "\n".join(outcome.trace)
    assert any("REBALANCE" in line or "rebalance" in line for line in outcome.trace)


def test_an_engine_whose_rebalancer_flips_the_hedge_is_caught(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flipping(request_id: str, action: str, kind: OrderKind, market: str, side: Side | None,
                 size: Decimal, **fields: Any) -> TradeRequest:
        if fields.get("source") == "rebalance":
            # Buys twice the short plus the correction, not reduce-only: a long remains.
            fields["reduce_only"] = False
            size = size * 5
        return TradeRequest(request_id, action, kind, market, side, size, **fields)

    # The rebalancer's correction is built by RebalancePlan.request (services/engine/delta.py).
    monkeypatch.setattr(delta_module, "TradeRequest", flipping)
    outcome = run_seed(900_001, workspace, schedule=DRIFT_THEN_TICK)
    assert "position_resized" in outcome.kinds, "\n".join(outcome.trace)


def test_a_transport_that_duplicates_orders_under_new_ids_is_caught(
    workspace: Workspace
) -> None:
    def duplicating(world: World) -> None:
        deliver = world.network._deliver

        async def twice(callee: Any, method: str, request: Any) -> Any:
            reply = await deliver(callee, method, request)
            if method == "Swap":
                again = type(request)()
                again.CopyFrom(request)
                again.client_order_id = f"{request.client_order_id}:again"
                await deliver(callee, method, again)
            return reply

        world.network._deliver = twice  # type: ignore[method-assign]

    outcome = run_seed(900_002, workspace, tamper=duplicating,
                       schedule=scripted(swap("d-1", "buy", "0.5"), seed=900_002))
    assert "double_execution" in outcome.kinds, "\n".join(outcome.trace)
    assert "ledger_mismatch" in outcome.kinds, "\n".join(outcome.trace)


def test_a_venue_fill_the_vault_never_hears_of_is_caught(workspace: Workspace) -> None:
    def forgetful(world: World) -> None:
        deliver = world.network._deliver

        async def drop_completions(callee: Any, method: str, request: Any) -> Any:
            if method == "CompleteTrade":
                return await deliver(callee, "GetVaultStatus", _status_request(request))
            return await deliver(callee, method, request)

        world.network._deliver = drop_completions  # type: ignore[method-assign]

    outcome = run_seed(900_003, workspace, tamper=forgetful,
                       schedule=scripted(swap("f-1", "buy", "0.5"), seed=900_003))
    assert {"ledger_mismatch", "stuck_pending"} <= set(outcome.kinds), "\n".join(outcome.trace)


def _status_request(_completion: Any) -> Any:
    from dne.vault.v1 import vault_pb2

    return vault_pb2.GetVaultStatusRequest(
        key=vault_pb2.VaultKey(account="paper-wallet", sub_account=0))


@pytest.mark.parametrize("seed", [186, 4242])
def test_the_same_seed_twice_gives_the_identical_trace(seed: int, workspace: Workspace) -> None:
    first = run_seed(seed, workspace)
    second = run_seed(seed, workspace)
    assert first.trace == second.trace
    assert first.faults == second.faults


def test_a_seed_draws_the_same_schedule_every_time() -> None:
    assert S.draw(77) == S.draw(77)
    assert S.draw(77) != S.draw(78)


def test_the_report_ends_with_one_summary_line_after_the_faults() -> None:
    from collections import Counter

    from sim.campaign import Report

    report = Report()
    report.add(1, [], Counter({"drop": 2}))
    report.add(2, [("naked_leg", "x"), ("ledger_mismatch", "y")], Counter({"delay": 1}))
    lines = report.lines()
    summaries = [line for line in lines if line.startswith("sim: ")]
    assert summaries == ["sim: 2 schedules, 2 violations"]
    assert lines.index("faults injected: delay 1, drop 2") < lines.index(summaries[0])
    assert lines[lines.index(summaries[0]) + 1:] == ["seed 2: ledger_mismatch naked_leg"]
