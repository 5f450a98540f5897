"""Trades: written PENDING before they are sent, completed once, by the legal transitions."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from tests.kit.vault_builders import completion, failure, intent, key
from tests.kit.vault_databases import VaultUnderTest

PENDING = common_pb2.TRADE_STATUS_PENDING
FILLED = common_pb2.TRADE_STATUS_FILLED
REJECTED = common_pb2.TRADE_STATUS_REJECTED
FAILED = common_pb2.TRADE_STATUS_FAILED
UNKNOWN = common_pb2.TRADE_STATUS_UNKNOWN
OUTCOMES = (FILLED, REJECTED, FAILED, UNKNOWN)
LEGAL = {
    PENDING: {FILLED, REJECTED, FAILED, UNKNOWN},
    UNKNOWN: {FILLED, FAILED},
    FILLED: set(),
    REJECTED: set(),
    FAILED: set(),
}


def name(status: int) -> str:
    return common_pb2.TradeStatus.Name(status).removeprefix("TRADE_STATUS_")


def outcome(client_order_id: str, status: int) -> vault_pb2.CompleteTradeRequest:
    if status == FILLED:
        return completion(client_order_id)
    return failure(client_order_id, status)


async def trade_in(vault: VaultUnderTest, client_order_id: str, status: int) -> None:
    """A recorded trade that has reached `status` by legal steps."""
    await vault.stub.RecordIntent(intent(client_order_id))
    if status != PENDING:
        await vault.stub.CompleteTrade(outcome(client_order_id, status))


async def stored(vault: VaultUnderTest, client_order_id: str) -> common_pb2.Trade:
    reply = await vault.stub.ListTrades(
        vault_pb2.ListTradesRequest(key=key(), client_order_id=client_order_id)
    )
    (trade,) = reply.trades
    return trade


async def test_an_intent_is_stored_pending_before_anything_is_sent(vault: VaultUnderTest) -> None:
    request = intent("order-1", requested_size="2.5")
    request.trade.status = FILLED  # a caller cannot record a trade as already done
    reply = await vault.stub.RecordIntent(request)
    assert reply.created
    assert reply.trade.status == PENDING
    assert reply.trade.requested_size == "2.5"
    status = (await vault.stub.GetVaultStatus(vault_pb2.GetVaultStatusRequest(key=key()))).status
    assert (status.pending_trades, status.trade_count) == (1, 1)


async def test_recording_the_same_client_order_id_again_changes_nothing(
    vault: VaultUnderTest,
) -> None:
    first = await vault.stub.RecordIntent(intent("order-1", requested_size="1"))
    vault.clock.advance(60)
    second = await vault.stub.RecordIntent(intent("order-1", requested_size="9"))
    assert first.created and not second.created
    assert second.trade == first.trade
    assert (await stored(vault, "order-1")).requested_size == "1"


async def test_concurrent_intents_with_one_client_order_id_make_one_trade(
    vault: VaultUnderTest,
) -> None:
    replies = await asyncio.gather(
        *(vault.stub.RecordIntent(intent("order-race")) for _ in range(8))
    )
    assert sum(reply.created for reply in replies) == 1
    assert len({reply.trade.SerializeToString() for reply in replies}) == 1
    trades = (await vault.stub.ListTrades(vault_pb2.ListTradesRequest(key=key()))).trades
    assert [trade.client_order_id for trade in trades] == ["order-race"]


async def test_concurrent_opens_of_one_vault_create_it_once(vault: VaultUnderTest) -> None:
    replies = await asyncio.gather(
        *(vault.stub.OpenVault(vault_pb2.OpenVaultRequest(key=key(7))) for _ in range(8))
    )
    assert sum(reply.created for reply in replies) == 1
    assert len({reply.status.vault_id for reply in replies}) == 1


async def test_an_intent_for_a_vault_not_yet_opened_opens_it(vault: VaultUnderTest) -> None:
    await vault.stub.RecordIntent(intent("order-1", sub_account=3))
    opened = await vault.stub.OpenVault(vault_pb2.OpenVaultRequest(key=key(3)))
    assert not opened.created
    assert opened.status.trade_count == 1


async def test_completion_follows_the_legal_transitions(vault: VaultUnderTest) -> None:
    for start, allowed in LEGAL.items():
        for target in OUTCOMES:
            order = f"order-{name(start)}-to-{name(target)}"
            await trade_in(vault, order, start)
            before = await stored(vault, order)
            vault.clock.advance(5)
            if target in allowed:
                reply = await vault.stub.CompleteTrade(outcome(order, target))
                assert reply.trade.status == target, order
                assert reply.trade == await stored(vault, order)
            elif target == start:
                # The same outcome again is answered unchanged: a retry is harmless.
                reply = await vault.stub.CompleteTrade(outcome(order, target))
                assert reply.trade == before, order
            else:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await vault.stub.CompleteTrade(outcome(order, target))
                assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION, order
                assert name(start) in refused.value.details()
                assert name(target) in refused.value.details()
                assert await stored(vault, order) == before


async def test_a_fill_completed_twice_with_the_same_outcome_is_answered_unchanged(
    vault: VaultUnderTest,
) -> None:
    await vault.stub.RecordIntent(intent("order-1"))
    first = await vault.stub.CompleteTrade(completion("order-1", fill_price="150.5"))
    vault.clock.advance(30)
    again = await vault.stub.CompleteTrade(completion("order-1", fill_price="150.50"))
    assert again.trade == first.trade


async def test_a_different_fill_for_a_filled_trade_is_refused(vault: VaultUnderTest) -> None:
    await vault.stub.RecordIntent(intent("order-1"))
    first = await vault.stub.CompleteTrade(completion("order-1", fill_price="150.5"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vault.stub.CompleteTrade(completion("order-1", fill_price="151"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "different fill" in refused.value.details()
    assert await stored(vault, "order-1") == first.trade


async def test_completing_an_unknown_client_order_id_is_not_found(vault: VaultUnderTest) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await vault.stub.CompleteTrade(completion("never-recorded"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "never-recorded" in missing.value.details()


async def test_a_completed_trade_keeps_the_venue_answer(vault: VaultUnderTest) -> None:
    await vault.stub.RecordIntent(intent("order-1", requested_size="2"))
    vault.clock.advance(2)
    reply = await vault.stub.CompleteTrade(completion(
        "order-1", filled_size="2", fill_price="149.875", fee="0.0599", notional="299.75",
        slippage="0.0017", tx_signature="5abc"))
    trade = reply.trade
    assert (trade.filled_size, trade.price, trade.fee, trade.notional, trade.slippage) == (
        "2", "149.875", "0.0599", "299.75", "0.0017")
    assert trade.tx_signature == "5abc"
    assert trade.updated_at.ToSeconds() == trade.created_at.ToSeconds() + 2
    assert not trade.HasField("error")


async def test_a_failed_trade_keeps_the_venue_error(vault: VaultUnderTest) -> None:
    await vault.stub.RecordIntent(intent("order-1"))
    trade = (await vault.stub.CompleteTrade(failure("order-1", FAILED))).trade
    assert trade.status == FAILED
    assert (trade.error.code, trade.error.message) == ("VENUE_REJECTED", "the venue said no")
    status = (await vault.stub.GetVaultStatus(vault_pb2.GetVaultStatusRequest(key=key()))).status
    assert (status.pending_trades, status.trade_count) == (0, 1)


async def test_failures_are_not_logged_as_executed_trades_but_completions_are(
    vault: VaultUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    await vault.stub.RecordIntent(intent("order-1"))
    with caplog.at_level(logging.INFO, logger="services.vault.store"):
        await vault.stub.CompleteTrade(failure("order-1", REJECTED))
    (record,) = [r for r in caplog.records if r.getMessage() == "trade completed"]
    assert record.status == "REJECTED"  # type: ignore[attr-defined]


async def test_trades_are_listed_newest_first_with_filters_and_a_limit(
    vault: VaultUnderTest,
) -> None:
    for number in range(5):
        await vault.stub.RecordIntent(intent(f"order-{number}"))
        vault.clock.advance(1)
    await vault.stub.CompleteTrade(completion("order-1"))
    await vault.stub.CompleteTrade(failure("order-3", FAILED))

    def ids(reply: vault_pb2.ListTradesResponse) -> list[str]:
        return [trade.client_order_id for trade in reply.trades]

    everything = await vault.stub.ListTrades(vault_pb2.ListTradesRequest(key=key()))
    assert ids(everything) == ["order-4", "order-3", "order-2", "order-1", "order-0"]
    newest_two = await vault.stub.ListTrades(vault_pb2.ListTradesRequest(key=key(), limit=2))
    assert ids(newest_two) == ["order-4", "order-3"]
    pending = await vault.stub.ListTrades(
        vault_pb2.ListTradesRequest(key=key(), statuses=[PENDING]))
    assert ids(pending) == ["order-4", "order-2", "order-0"]
    done = await vault.stub.ListTrades(
        vault_pb2.ListTradesRequest(key=key(), statuses=[FILLED, FAILED]))
    assert ids(done) == ["order-3", "order-1"]
    one = await vault.stub.ListTrades(
        vault_pb2.ListTradesRequest(key=key(), client_order_id="order-2"))
    assert ids(one) == ["order-2"]


async def test_a_close_and_its_settlement_are_written_in_one_completion(
    vault: VaultUnderTest,
) -> None:
    """Issue 9: a settlement written in a second call was lost when the engine died between
    the two (make sim, seed 1388). Now it rides on the close's completion, once."""
    await vault.stub.RecordIntent(intent("close-1"))
    request = completion("close-1")
    request.settlement.CopyFrom(common_pb2.OrderResult(
        client_order_id="close-1:settle", kind=common_pb2.TRADE_KIND_SETTLE_PNL,
        status=FILLED, market="SOL-PERP", notional="50", tx_signature="sig-settle"))
    await vault.stub.CompleteTrade(request)
    await vault.stub.CompleteTrade(request)  # a lost reply's retry changes nothing
    settled = await stored(vault, "close-1:settle")
    assert settled.status == FILLED and settled.kind == common_pb2.TRADE_KIND_SETTLE_PNL
    assert settled.notional == "50" and settled.tx_signature == "sig-settle"
    assert (await stored(vault, "close-1")).status == FILLED
    wrong = completion("close-2")
    await vault.stub.RecordIntent(intent("close-2"))
    wrong.settlement.CopyFrom(common_pb2.OrderResult(client_order_id="x", status=FILLED))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vault.stub.CompleteTrade(wrong)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
