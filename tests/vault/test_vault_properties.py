"""design.md's vault properties (11, 31-35, 46), each for at least 100 generated cases."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from tests.kit.vault_builders import (
    account_state,
    completion,
    funding_payment,
    intent,
    key,
    position,
    sync,
)
from tests.kit.vault_databases import VaultUnderTest

# One database and one server per test, emptied at the start of every example.
examples = settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])

collateral = st.decimals(min_value=0, max_value=10**9, places=9)
move = st.decimals(min_value=-50_000, max_value=50_000, places=6).filter(lambda a: a != 0)
positive = st.decimals(min_value=Decimal("0.000001"), max_value=10**6, places=9)
signed_amount = st.decimals(min_value=-1000, max_value=1000, places=12).filter(lambda a: a != 0)
sub_account = st.integers(min_value=0, max_value=2**32 - 1)
markets = st.sampled_from(["SOL-PERP", "BTC-PERP", "ETH-PERP", "JUP-PERP"])
sides = st.sampled_from([common_pb2.SIDE_LONG, common_pb2.SIDE_SHORT])
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def wire(value: Decimal) -> str:
    return format(value, "f")


@examples
@given(start=collateral.map(lambda c: c + 100_000), moves=st.lists(move, min_size=1, max_size=3))
async def test_property_11_a_deposit_or_withdrawal_of_a_moves_the_synced_balance_by_exactly_a(
    vault: VaultUnderTest, start: Decimal, moves: list[Decimal]
) -> None:
    await vault.reset()
    await vault.stub.SyncAccount(sync(account_state(start)))
    balance = start
    for amount in moves:
        balance += amount
        reply = await vault.stub.SyncAccount(sync(account_state(balance)))
        assert Decimal(reply.balance_change) == amount
        assert Decimal(reply.status.balance) == balance


@examples
@given(amount=collateral, sub=sub_account)
async def test_property_31_the_first_sync_sets_the_balance_to_the_sub_account_collateral(
    vault: VaultUnderTest, amount: Decimal, sub: int
) -> None:
    await vault.reset()
    reply = await vault.stub.SyncAccount(sync(account_state(amount, sub_account=sub)))
    assert Decimal(reply.status.balance) == amount
    assert Decimal(reply.balance_change) == amount
    opened = await vault.stub.OpenVault(vault_pb2.OpenVaultRequest(key=key(sub)))
    assert not opened.created
    assert Decimal(opened.status.balance) == amount


snapshot = st.dictionaries(
    markets, st.tuples(sides, positive | st.just(Decimal(0)), positive), max_size=4
)


@examples
@given(snapshots=st.lists(snapshot, min_size=1, max_size=3))
async def test_property_32_positions_keep_the_venue_size_and_entry_price_as_they_open_and_close(
    vault: VaultUnderTest, snapshots: list[dict[str, tuple[int, Decimal, Decimal]]]
) -> None:
    await vault.reset()
    for venue in snapshots:
        state = account_state(positions=[
            position(market, side, wire(size), wire(entry))
            for market, (side, size, entry) in venue.items()
        ])
        status = (await vault.stub.SyncAccount(sync(state))).status
        held = {
            p.market: (p.side, Decimal(p.size), Decimal(p.entry_price)) for p in status.positions
        }
        assert held == {market: held_ for market, held_ in venue.items() if held_[1] != 0}


@st.composite
def payments_and_syncs(draw: st.DrawFn) -> tuple[list[Decimal], list[list[int]]]:
    amounts = draw(st.lists(signed_amount, min_size=1, max_size=6))
    indexes = st.integers(min_value=0, max_value=len(amounts) - 1)
    syncs = draw(st.lists(st.lists(indexes, max_size=6), min_size=1, max_size=3))
    return amounts, syncs


@examples
@given(case=payments_and_syncs())
async def test_property_33_funding_is_recorded_once_however_often_a_payment_is_synced(
    vault: VaultUnderTest, case: tuple[list[Decimal], list[list[int]]]
) -> None:
    await vault.reset()
    amounts, syncs = case
    payments = [funding_payment(hour, amount) for hour, amount in enumerate(amounts)]
    seen: set[int] = set()
    realized = Decimal(0)
    for chosen in syncs:
        new = {index for index in chosen if index not in seen}
        reply = await vault.stub.SyncAccount(
            sync(account_state(funding=[payments[index] for index in chosen]))
        )
        seen |= new
        realized += sum((amounts[index] for index in new), Decimal(0))
        assert reply.funding_payments_recorded == len(new)
        assert Decimal(reply.status.realized_funding_pnl) == realized

    again = await vault.stub.SyncAccount(
        sync(account_state(funding=[payments[index] for index in seen]))
    )
    assert again.funding_payments_recorded == 0
    assert Decimal(again.status.realized_funding_pnl) == realized
    listed = await vault.stub.ListFundingPayments(vault_pb2.ListFundingPaymentsRequest(key=key()))
    assert sorted(p.payment_id for p in listed.payments) == sorted(
        payments[index].payment_id for index in seen
    )
    assert Decimal(listed.total) == realized


@examples
@given(balance=collateral, margin=collateral)
async def test_property_34_status_has_balance_allocated_and_available_capital(
    vault: VaultUnderTest, balance: Decimal, margin: Decimal
) -> None:
    await vault.reset()
    await vault.stub.SyncAccount(sync(account_state(balance, initial_margin=margin)))
    status = (await vault.stub.GetVaultStatus(vault_pb2.GetVaultStatusRequest(key=key()))).status
    assert Decimal(status.balance) == balance
    assert Decimal(status.allocated_capital) == margin
    assert Decimal(status.available_capital) == max(Decimal(0), balance - margin)


@examples
@given(
    subs=st.lists(sub_account, min_size=2, max_size=2, unique=True),
    amount=collateral,
    funding=signed_amount,
)
async def test_property_35_engines_on_different_sub_accounts_have_separate_vaults(
    vault: VaultUnderTest, subs: list[int], amount: Decimal, funding: Decimal
) -> None:
    await vault.reset()
    first, second = subs
    other = (await vault.stub.OpenVault(vault_pb2.OpenVaultRequest(key=key(second)))).status

    mine = (await vault.stub.SyncAccount(sync(account_state(
        amount, sub_account=first, positions=[position()],
        funding=[funding_payment(0, funding, sub_account=first)],
    )))).status
    await vault.stub.RecordIntent(intent(f"order-{first}", sub_account=first))

    assert mine.vault_id != other.vault_id
    after = (await vault.stub.GetVaultStatus(
        vault_pb2.GetVaultStatusRequest(key=key(second)))).status
    assert after == other  # balance, positions, funding, trade counts: all untouched


@examples
@given(
    market=markets,
    side=sides,
    size=positive,
    price=positive,
    signature=st.text(alphabet=BASE58, min_size=64, max_size=88),
)
async def test_property_46_every_executed_trade_keeps_and_logs_timestamp_market_side_size_price_signature(  # noqa: E501
    vault: VaultUnderTest,
    caplog: pytest.LogCaptureFixture,
    market: str,
    side: int,
    size: Decimal,
    price: Decimal,
    signature: str,
) -> None:
    await vault.reset()
    caplog.clear()
    await vault.stub.RecordIntent(intent("order-46", market=market, side=side))
    with caplog.at_level(logging.INFO, logger="services.vault.store"):
        await vault.stub.CompleteTrade(completion(
            "order-46", filled_size=wire(size), fill_price=wire(price), tx_signature=signature))

    (trade,) = (await vault.stub.ListTrades(vault_pb2.ListTradesRequest(key=key()))).trades
    assert trade.status == common_pb2.TRADE_STATUS_FILLED
    assert (trade.market, trade.side, trade.tx_signature) == (market, side, signature)
    assert (Decimal(trade.filled_size), Decimal(trade.price)) == (size, price)
    assert trade.created_at.seconds > 0 and trade.updated_at.seconds > 0

    (logged,) = [r for r in caplog.records if r.getMessage() == "trade completed"]
    assert logged.levelno == logging.INFO
    assert logged.market == market  # type: ignore[attr-defined]
    assert logged.side == common_pb2.Side.Name(side).removeprefix("SIDE_")  # type: ignore[attr-defined]
    assert Decimal(logged.size) == size  # type: ignore[attr-defined]
    assert Decimal(logged.price) == price  # type: ignore[attr-defined]
    assert logged.tx_signature == signature  # type: ignore[attr-defined]
    assert logged.timestamp  # type: ignore[attr-defined]
