"""Malformed requests are refused with INVALID_ARGUMENT and a message naming the field;
an unreachable database is UNAVAILABLE. Nothing ever escapes as UNKNOWN."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dne.common.v1 import common_pb2
from dne.vault.v1 import vault_pb2
from services.common.clock import ManualClock
from services.common.errors import ERROR_CODE_METADATA
from services.vault.database import create_engine
from services.vault.store import VaultStore
from tests.kit.vault_builders import (
    account_state,
    completion,
    funding_payment,
    intent,
    key,
    position,
    sync,
)
from tests.kit.vault_databases import START, VaultUnderTest, served_store

Build = Callable[[], Any]


def with_trade(**changes: Any) -> vault_pb2.RecordIntentRequest:
    request = intent("order-1")
    for field, value in changes.items():
        setattr(request.trade, field, value)
    return request


def with_result(**changes: Any) -> vault_pb2.CompleteTradeRequest:
    request = completion("order-1")
    for field, value in changes.items():
        setattr(request.result, field, value)
    return request


def with_state(**changes: Any) -> vault_pb2.SyncAccountRequest:
    request = sync(account_state())
    for field, value in changes.items():
        setattr(request.state, field, value)
    return request


def with_positions(*positions: common_pb2.Position) -> vault_pb2.SyncAccountRequest:
    return sync(account_state(positions=list(positions)))


def with_funding(**changes: Any) -> vault_pb2.SyncAccountRequest:
    payment = funding_payment(0, "0.01")
    for field, value in changes.items():
        if field == "period_start":
            payment.ClearField("period_start")
        else:
            setattr(payment, field, value)
    return sync(account_state(funding=[payment]))


# (method, request, words the message must contain)
CASES: list[tuple[str, Any, str]] = [
    ("OpenVault", vault_pb2.OpenVaultRequest(), "key is required"),
    ("OpenVault", vault_pb2.OpenVaultRequest(key=key(account="")), "key.account"),
    ("OpenVault", vault_pb2.OpenVaultRequest(key=key(account="   ")), "key.account"),
    ("OpenVault", vault_pb2.OpenVaultRequest(key=key(account="a" * 200)), "at most 128"),
    ("GetVaultStatus", vault_pb2.GetVaultStatusRequest(), "key is required"),
    ("RecordIntent", vault_pb2.RecordIntentRequest(), "trade is required"),
    ("RecordIntent", with_trade(client_order_id=""), "trade.client_order_id"),
    ("RecordIntent", with_trade(account=""), "trade.account"),
    ("RecordIntent", with_trade(kind=0), "trade.kind"),
    ("RecordIntent", with_trade(kind=77), "trade.kind"),
    ("RecordIntent", with_trade(market=""), "trade.market"),
    ("RecordIntent", with_trade(market="SOL\x00PERP"), "NUL"),
    ("RecordIntent", with_trade(side=9), "trade.side"),
    ("RecordIntent", with_trade(requested_size="NaN"), "trade.requested_size"),
    ("RecordIntent", with_trade(requested_size="-1"), "must not be negative"),
    ("RecordIntent", with_trade(requested_size="abc"), "decimal number"),
    ("RecordIntent", with_trade(requested_size="1e400"), "out of range"),
    ("RecordIntent", with_trade(requested_size="0." + "0" * 50 + "1"), "decimal places"),
    ("CompleteTrade", vault_pb2.CompleteTradeRequest(client_order_id="x"), "result"),
    ("CompleteTrade", with_result(status=common_pb2.TRADE_STATUS_PENDING), "result.status"),
    ("CompleteTrade", with_result(status=0), "result.status"),
    ("CompleteTrade", with_result(filled_size="inf"), "result.filled_size"),
    ("CompleteTrade", with_result(fee="1,5"), "result.fee"),
    ("CompleteTrade", with_result(client_order_id="other"), "does not match"),
    ("SyncAccount", vault_pb2.SyncAccountRequest(state=account_state()), "key is required"),
    ("SyncAccount", vault_pb2.SyncAccountRequest(key=key()), "state is required"),
    ("SyncAccount", with_state(collateral=""), "state.collateral"),
    ("SyncAccount", with_state(collateral="12abc"), "state.collateral"),
    ("SyncAccount", with_state(initial_margin_requirement="-5"), "initial_margin_requirement"),
    ("SyncAccount", with_state(sub_account=1), "state.sub_account"),
    ("SyncAccount", with_state(account="someone-else"), "state.account"),
    ("SyncAccount", with_positions(position(), position()), "appears twice"),
    ("SyncAccount", with_positions(position(size="-1")), "positions[0].size"),
    ("SyncAccount", with_positions(position(side=0)), "positions[0].side"),
    ("SyncAccount", with_funding(period_start=None), "funding_payments[0].period_start"),
    ("SyncAccount", with_funding(amount="NaN"), "funding_payments[0].amount"),
    ("SyncAccount", with_funding(payment_id=""), "funding_payments[0].payment_id"),
    ("ListTrades", vault_pb2.ListTradesRequest(key=key(), statuses=[0]), "statuses[0]"),
    ("ListTrades", vault_pb2.ListTradesRequest(key=key(), statuses=[99]), "statuses[0]"),
    ("ListFundingPayments", vault_pb2.ListFundingPaymentsRequest(), "key is required"),
]


async def test_malformed_requests_are_invalid_argument_with_a_message_naming_the_field(
    vault: VaultUnderTest,
) -> None:
    await vault.stub.RecordIntent(intent("order-1"))
    before = (await vault.stub.GetVaultStatus(vault_pb2.GetVaultStatusRequest(key=key()))).status
    for method, request, words in CASES:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await getattr(vault.stub, method)(request)
        error = refused.value
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, request, error)
        assert words in error.details(), (method, request, error.details())
        assert (ERROR_CODE_METADATA, "INVALID_ARGUMENT") in tuple(error.trailing_metadata())
    after = (await vault.stub.GetVaultStatus(vault_pb2.GetVaultStatusRequest(key=key()))).status
    assert after == before  # no refused request wrote anything


untrusted = st.one_of(
    st.text(max_size=40),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.integers().map(str),
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=untrusted, size=untrusted, market=st.text(max_size=80), order=st.text(max_size=140))
async def test_any_untrusted_text_is_accepted_or_refused_as_invalid_never_a_crash(
    vault: VaultUnderTest, amount: str, size: str, market: str, order: str
) -> None:
    calls = [
        (vault.stub.SyncAccount, sync(account_state(amount, initial_margin=size))),
        (vault.stub.RecordIntent, intent(order, market=market, requested_size=size)),
        (vault.stub.CompleteTrade, completion(order, filled_size=size, fill_price=amount)),
    ]
    for call, request in calls:
        try:
            await call(request)
        except grpc.aio.AioRpcError as error:
            assert error.code() in {
                grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION,
            }, error
            assert error.details()


async def test_an_unreachable_database_answers_unavailable_with_a_message(
    backend: str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        (tmp_path / "a-directory").mkdir()
        url = f"sqlite:///{tmp_path / 'a-directory'}"  # a directory cannot be opened
    else:
        url = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    store = VaultStore(create_engine(url), ManualClock(START))
    try:
        async with served_store(store) as stub:
            for call, request in [
                (stub.OpenVault, vault_pb2.OpenVaultRequest(key=key())),
                (stub.RecordIntent, intent("order-1")),
                (stub.SyncAccount, sync(account_state())),
            ]:
                with pytest.raises(grpc.aio.AioRpcError) as unavailable:
                    await call(request)
                assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "vault database is unavailable" in unavailable.value.details()
    finally:
        await store.dispose()
