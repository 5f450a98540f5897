"""Venue state pushed in by SyncAccount: balance, margin, positions, funding; exact money."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from services.common.timeutil import from_timestamp, to_timestamp
from tests.kit.vault_builders import (
    HOUR_ZERO,
    account_state,
    completion,
    funding_payment,
    intent,
    key,
    position,
    sync,
)
from tests.kit.vault_databases import START, VaultUnderTest


async def status_of(vault: VaultUnderTest, sub_account: int = 0) -> vault_pb2.VaultStatus:
    request = vault_pb2.GetVaultStatusRequest(key=key(sub_account))
    return (await vault.stub.GetVaultStatus(request)).status


async def test_opening_a_vault_twice_answers_the_same_empty_vault(vault: VaultUnderTest) -> None:
    first = await vault.stub.OpenVault(vault_pb2.OpenVaultRequest(key=key()))
    second = await vault.stub.OpenVault(vault_pb2.OpenVaultRequest(key=key()))
    assert (first.created, second.created) == (True, False)
    assert first.status == second.status
    status = first.status
    assert (status.balance, status.allocated_capital, status.available_capital,
            status.realized_funding_pnl) == ("0", "0", "0", "0")
    assert not status.HasField("last_synced_at")
    assert from_timestamp(status.created_at) == START


async def test_available_capital_never_goes_below_zero(vault: VaultUnderTest) -> None:
    reply = await vault.stub.SyncAccount(sync(account_state("100", initial_margin="250")))
    assert (reply.status.balance, reply.status.allocated_capital,
            reply.status.available_capital) == ("100", "250", "0")


async def test_a_sync_replaces_positions_with_the_venue_ones(vault: VaultUnderTest) -> None:
    await vault.stub.SyncAccount(sync(account_state(positions=[
        position("SOL-PERP", common_pb2.SIDE_SHORT, "2", "150.5"),
        position("BTC-PERP", common_pb2.SIDE_LONG, "0.01", "97000"),
    ])))
    closed = await vault.stub.SyncAccount(sync(account_state(positions=[
        position("SOL-PERP", common_pb2.SIDE_SHORT, "1.25", "150.25"),
        position("BTC-PERP", common_pb2.SIDE_LONG, "0", "97000"),
    ])))
    assert [(p.market, p.side, p.size, p.entry_price) for p in closed.status.positions] == [
        ("SOL-PERP", common_pb2.SIDE_SHORT, "1.25", "150.25")
    ]
    emptied = await vault.stub.SyncAccount(sync(account_state()))
    assert list(emptied.status.positions) == []


async def test_last_synced_at_is_the_state_time_or_else_the_vault_clock(
    vault: VaultUnderTest,
) -> None:
    as_of = HOUR_ZERO + timedelta(minutes=7)
    stamped = await vault.stub.SyncAccount(sync(account_state(as_of=as_of)))
    assert from_timestamp(stamped.status.last_synced_at) == as_of
    vault.clock.advance(90)
    unstamped = await vault.stub.SyncAccount(sync(account_state()))
    assert from_timestamp(unstamped.status.last_synced_at) == START + timedelta(seconds=90)


async def test_a_payment_repeated_within_one_sync_is_recorded_once(vault: VaultUnderTest) -> None:
    payment = funding_payment(0, "0.0187")
    reply = await vault.stub.SyncAccount(sync(account_state(funding=[payment, payment])))
    assert reply.funding_payments_recorded == 1
    assert reply.status.realized_funding_pnl == "0.0187"


async def test_funding_payments_are_listed_oldest_first_from_a_time_with_their_total(
    vault: VaultUnderTest,
) -> None:
    amounts = ["0.0187", "-0.0042", "0.0311", "0.0005"]
    payments = [funding_payment(hour, amount) for hour, amount in enumerate(amounts)]
    await vault.stub.SyncAccount(sync(account_state(funding=list(reversed(payments)))))

    everything = await vault.stub.ListFundingPayments(
        vault_pb2.ListFundingPaymentsRequest(key=key()))
    assert [p.amount for p in everything.payments] == amounts
    assert everything.total == "0.0461"
    assert everything.payments[0] == payments[0]

    since_hour_two = await vault.stub.ListFundingPayments(vault_pb2.ListFundingPaymentsRequest(
        key=key(), since=to_timestamp(HOUR_ZERO + timedelta(hours=2))))
    assert [p.amount for p in since_hour_two.payments] == ["0.0311", "0.0005"]
    assert since_hour_two.total == "0.0316"


async def test_money_stays_exact_beyond_float_and_default_decimal_precision(
    vault: VaultUnderTest,
) -> None:
    balance = "999999999999999.1234567890123456789012345678901234567891"
    tiny = "0.0000000000000000000000000000000000000001"
    reply = await vault.stub.SyncAccount(sync(account_state(
        balance, initial_margin=tiny,
        funding=[funding_payment(0, balance), funding_payment(1, tiny)],
    )))
    status = reply.status
    assert status.balance == balance
    assert status.allocated_capital == tiny
    # 55 significant digits: Python's default 28-digit context would have rounded these.
    assert status.available_capital == "999999999999999.123456789012345678901234567890123456789"
    assert status.realized_funding_pnl == (
        "999999999999999.1234567890123456789012345678901234567892")
    assert reply.balance_change == balance


@pytest.mark.parametrize(
    "request_",
    [
        vault_pb2.GetVaultStatusRequest(key=key(42)),
        vault_pb2.ListTradesRequest(key=key(42)),
        vault_pb2.ListFundingPaymentsRequest(key=key(42)),
    ],
    ids=lambda r: type(r).__name__,
)
async def test_reading_a_vault_that_was_never_opened_is_not_found(
    vault: VaultUnderTest, request_: object
) -> None:
    method = {
        vault_pb2.GetVaultStatusRequest: vault.stub.GetVaultStatus,
        vault_pb2.ListTradesRequest: vault.stub.ListTrades,
        vault_pb2.ListFundingPaymentsRequest: vault.stub.ListFundingPayments,
    }[type(request_)]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await method(request_)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "sub-account 42" in missing.value.details()


async def test_a_completion_with_the_account_it_left_writes_both_in_one_call(
    vault: VaultUnderTest,
) -> None:
    await vault.stub.RecordIntent(intent("open-1"))
    request = completion("open-1")
    request.sync.CopyFrom(sync(account_state("990", positions=[position()],
                                             funding=[funding_payment(0, "0.25")])))
    reply = await vault.stub.CompleteTrade(request)
    assert reply.trade.status == common_pb2.TRADE_STATUS_FILLED
    assert reply.HasField("sync") and reply.sync.funding_payments_recorded == 1
    status = await status_of(vault)
    assert (status.balance, status.realized_funding_pnl) == ("990", "0.25")
    assert [(p.market, p.size) for p in status.positions] == [("SOL-PERP", "1")]
    # A sync's answer counts the pending trades; the total is GetVaultStatus' alone.
    assert not reply.sync.status.HasField("trade_count") and status.trade_count == 1
    status.ClearField("trade_count")
    assert reply.sync.status == status


async def test_a_sync_beside_a_completion_that_cannot_be_made_leaves_the_completion_alone(
    vault: VaultUnderTest,
) -> None:
    await vault.stub.SyncAccount(sync(account_state("1000")))
    await vault.stub.RecordIntent(intent("open-2"))
    request = completion("open-2")
    # A state of another sub-account under this key: refused, as SyncAccount refuses it.
    request.sync.CopyFrom(sync(account_state("5", sub_account=1), key(0)))
    reply = await vault.stub.CompleteTrade(request)
    assert reply.trade.status == common_pb2.TRADE_STATUS_FILLED
    assert not reply.HasField("sync")
    assert (await status_of(vault)).balance == "1000"
    trades = await vault.stub.ListTrades(vault_pb2.ListTradesRequest(
        key=key(), client_order_id="open-2"))
    assert [t.status for t in trades.trades] == [common_pb2.TRADE_STATUS_FILLED]


async def test_a_sync_that_fails_beside_a_completion_costs_the_completion_nothing(
    vault: VaultUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    await vault.stub.SyncAccount(sync(account_state("1000")))
    await vault.stub.RecordIntent(intent("open-3"))

    def broken_sync(*_args: object) -> None:
        raise RuntimeError("a bug in the sync")

    monkeypatch.setattr(vault.store, "_sync_in", broken_sync)
    request = completion("open-3")
    request.sync.CopyFrom(sync(account_state("7")))
    reply = await vault.stub.CompleteTrade(request)
    assert reply.trade.status == common_pb2.TRADE_STATUS_FILLED
    assert not reply.HasField("sync")
    monkeypatch.undo()
    assert (await status_of(vault)).balance == "1000"
    trades = await vault.stub.ListTrades(vault_pb2.ListTradesRequest(
        key=key(), client_order_id="open-3"))
    assert [t.status for t in trades.trades] == [common_pb2.TRADE_STATUS_FILLED]
