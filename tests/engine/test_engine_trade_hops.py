"""dne_engine_trade_hop_seconds (issue 12): every hop of a trade is timed, so the share of each
in the order path is known."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from prometheus_client import REGISTRY

from dne.common.v1 import common_pb2 as K
from services.common.venue import OrderKind, Side
from services.engine.trade_request import TradeRequest
from tests.kit.engine_fakes import EngineHarness, hedge

HOPS = ("gates", "intent", "executor", "vault", "publish")


def samples(hop: str) -> float:
    return REGISTRY.get_sample_value("dne_engine_trade_hop_seconds_count", {"hop": hop}) or 0.0


async def test_a_filled_trade_is_timed_in_each_hop_of_its_path(running: EngineHarness) -> None:
    hedge(running.executor, Decimal(1), Decimal(0))
    before = {hop: samples(hop) for hop in HOPS}
    result = await running.engine.trade(TradeRequest(  # type: ignore[attr-defined]
        "hops-1", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP", Side.SHORT,
        Decimal("0.001"), confirmed=True))
    assert result.ok, result.error
    assert {hop: samples(hop) - before[hop] for hop in HOPS} == dict.fromkeys(HOPS, 1.0)


async def test_a_replayed_request_id_is_timed_only_in_the_gates(running: EngineHarness) -> None:
    hedge(running.executor, Decimal(1), Decimal(0))
    request = TradeRequest("hops-2", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP",
                           Side.SHORT, Decimal("0.001"), confirmed=True)
    assert (await running.engine.trade(request)).ok  # type: ignore[attr-defined]
    before = {hop: samples(hop) for hop in HOPS}
    replayed = await running.engine.trade(request)  # type: ignore[attr-defined]
    assert replayed.ok and replayed.order.replayed
    assert {hop: samples(hop) - before[hop] for hop in HOPS} == {
        "gates": 1.0, "intent": 0.0, "executor": 0.0, "vault": 0.0, "publish": 0.0}


async def record_syncs(vault):  # type: ignore[no-untyped-def]
    """The states the vault is asked to sync: (how, state), in order."""
    synced: list[tuple[str, K.AccountState]] = []
    sync, complete = vault.SyncAccount, vault.CompleteTrade

    async def kept_sync(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        synced.append(("SyncAccount", request.state))
        return await sync(request, context, **kwargs)

    async def kept_completion(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        if request.HasField("sync"):
            synced.append(("CompleteTrade", request.sync.state))
        return await complete(request, context, **kwargs)

    vault.SyncAccount, vault.CompleteTrade = kept_sync, kept_completion
    return synced


def btc_short(state: K.AccountState) -> bool:
    return ("BTC-PERP", K.SIDE_SHORT, "0.001") in {
        (p.market, p.side, p.size) for p in state.positions}


async def test_the_account_the_order_answer_carries_is_synced_with_the_completion(
    running: EngineHarness,
) -> None:
    """The executor's answer to the order carries the account the fill left, and the vault
    syncs it in the completion's own call: the only account read of the trade is the gates',
    and there is no SyncAccount call."""
    hedge(running.executor, Decimal(1), Decimal(0))
    executor, vault = running.executor, running.vault
    reads: list[str] = []
    read_account = executor.GetAccountState

    async def counted_read(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        reads.append("read")
        return await read_account(request, context, **kwargs)

    executor.GetAccountState = counted_read
    synced = await record_syncs(vault)
    result = await running.engine.trade(TradeRequest(  # type: ignore[attr-defined]
        "hops-4", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP", Side.SHORT,
        Decimal("0.001"), confirmed=True))
    assert result.ok, result.error
    assert reads == ["read"]
    asked = executor.last_requests["OpenPosition"]
    assert asked.account_after.sub_account == 0  # type: ignore[attr-defined]
    assert [how for how, _ in synced] == ["CompleteTrade"] and btc_short(synced[0][1])
    [status] = vault.statuses.values()
    assert any(p.market == "BTC-PERP" for p in status.positions)


async def test_a_vault_that_does_not_sync_with_the_completion_is_synced_after_it(
    running: EngineHarness,
) -> None:
    hedge(running.executor, Decimal(1), Decimal(0))
    running.vault.syncs_beside_completion = False
    synced = await record_syncs(running.vault)
    result = await running.engine.trade(TradeRequest(  # type: ignore[attr-defined]
        "hops-5", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP", Side.SHORT,
        Decimal("0.001"), confirmed=True))
    assert result.ok, result.error
    assert [how for how, _ in synced] == ["CompleteTrade", "SyncAccount"]
    assert btc_short(synced[1][1])


async def test_without_it_the_account_after_a_fill_is_read_while_the_vault_records_the_fill(
    running: EngineHarness,
) -> None:
    """An executor that does not carry the account: the sync after a trade reads it once, and
    that read is already under way while CompleteTrade is being written."""
    hedge(running.executor, Decimal(1), Decimal(0))
    executor, vault = running.executor, running.vault
    executor.answers_account_after = False
    reads: list[str] = []
    read_during_completion = asyncio.Event()
    completing = False
    read_account, complete = executor.GetAccountState, vault.CompleteTrade

    async def counted_read(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        reads.append("during completion" if completing else "other")
        if completing:
            read_during_completion.set()
        return await read_account(request, context, **kwargs)

    async def slow_completion(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal completing
        completing = True
        try:  # the vault answers only once the account read has started, or after 2 s
            await asyncio.wait_for(read_during_completion.wait(), timeout=2)
        except TimeoutError:
            pass
        finally:
            completing = False
        return await complete(request, context, **kwargs)

    executor.GetAccountState, vault.CompleteTrade = counted_read, slow_completion
    result = await running.engine.trade(TradeRequest(  # type: ignore[attr-defined]
        "hops-3", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP", Side.SHORT,
        Decimal("0.001"), confirmed=True))
    assert result.ok, result.error
    assert read_during_completion.is_set(), reads
    assert reads == ["other", "during completion"]  # the gates' read, then the one after the fill


async def test_an_order_answer_lost_with_its_account_is_replayed_and_the_account_read_again(
    running: EngineHarness,
) -> None:
    """The answer that carried the account is lost after the fill: the engine sends the same id
    again, the executor replays the result without an account (a replay is no fresh fill), and
    the engine reads the account itself: the vault still gets the position. To the caller it is
    the fresh fill it is, not a replay (found here: the sync after it was skipped)."""
    hedge(running.executor, Decimal(1), Decimal(0))
    running.executor.lost_replies = 1
    synced = await record_syncs(running.vault)
    result = await running.engine.trade(TradeRequest(  # type: ignore[attr-defined]
        "hops-6", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "BTC-PERP", Side.SHORT,
        Decimal("0.001"), confirmed=True))
    assert result.ok and not result.order.replayed, result
    assert running.executor.order_calls == [("OpenPosition", "hops-6")] * 2
    assert [how for how, _ in synced] == ["SyncAccount"] and btc_short(synced[0][1])
