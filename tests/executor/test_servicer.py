"""The executor's gRPC surface on a real in-process server: round trips and bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import grpc
import pytest

from dne.common.v1 import common_pb2
from dne.executor.v1 import executor_pb2 as pb
from dne.executor.v1 import executor_pb2_grpc
from services.executor.paper_driver import PaperDriver
from services.executor.servicer import ExecutorServicer, PaperVenueControlServicer
from tests.kit.executor_fakes import FakeFeed, paper_driver

FILLED = common_pb2.TRADE_STATUS_FILLED
REJECTED = common_pb2.TRADE_STATUS_REJECTED
FAILED = common_pb2.TRADE_STATUS_FAILED
SHORT, LONG = common_pb2.SIDE_SHORT, common_pb2.SIDE_LONG


@dataclass
class Wire:
    executor: executor_pb2_grpc.ExecutorServiceStub
    paper: executor_pb2_grpc.PaperVenueControlServiceStub
    feed: FakeFeed


async def serve(driver: object, paper: PaperDriver | None) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    executor_pb2_grpc.add_ExecutorServiceServicer_to_server(ExecutorServicer(driver), server)
    executor_pb2_grpc.add_PaperVenueControlServiceServicer_to_server(
        PaperVenueControlServicer(paper), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def wire(feed: FakeFeed) -> AsyncIterator[Wire]:
    driver = paper_driver(feed)
    await driver.start()
    server, address = await serve(driver, driver)
    async with grpc.aio.insecure_channel(address) as channel:
        yield Wire(executor_pb2_grpc.ExecutorServiceStub(channel),
                   executor_pb2_grpc.PaperVenueControlServiceStub(channel), feed)
    await server.stop(0)


async def test_deposit_open_close_and_state_round_trip_as_decimal_strings(wire: Wire) -> None:
    deposit = (await wire.executor.Deposit(pb.DepositRequest(
        client_order_id="d", amount="1000"))).result
    assert deposit.status == FILLED and deposit.kind == common_pb2.TRADE_KIND_DEPOSIT
    assert (deposit.market, deposit.notional) == ("USDC", "1000")
    opened = (await wire.executor.OpenPosition(pb.OpenPositionRequest(
        client_order_id="o", market="SOL-PERP", side=SHORT, size="10",
        kind=common_pb2.TRADE_KIND_PERP_REBALANCE))).result
    assert opened.status == FILLED, opened.error
    assert opened.kind == common_pb2.TRADE_KIND_PERP_REBALANCE
    assert (opened.fill_price, opened.fee, opened.filled_size) == ("84.930019", "0.169861", "10")
    assert (opened.oracle_price, opened.slippage) == ("85.016475", "0.001016931221")
    assert opened.tx_signature.startswith("paper:") and opened.executed_at.seconds > 0

    state = (await wire.executor.GetAccountState(pb.GetAccountStateRequest())).state
    assert (state.account, state.venue, state.collateral) == ("paper-wallet", "paper", "998.965579")
    assert (state.wallet.usdc, state.wallet.sol, state.quote_balance) == ("9000", "1", "999.830139")
    [position] = state.positions
    assert (position.side, position.size, position.entry_price) == (SHORT, "10", "84.930019")
    assert position.liq_price == "176.10765"
    assert Decimal(state.health_ratio) == Decimal("95.744775")

    wire.feed.prices["SOL-PERP"] = Decimal(80)
    closed = await wire.executor.ClosePosition(pb.ClosePositionRequest(
        client_order_id="c", market="SOL-PERP", settle_pnl=True))
    assert closed.result.status == FILLED and closed.result.side == LONG
    assert closed.HasField("settlement") and closed.settlement.status == FILLED
    assert closed.settlement.client_order_id == "c:settle"
    assert Decimal(closed.settlement.notional) > 1
    found = await wire.executor.GetOrder(pb.GetOrderRequest(client_order_id="o"))
    assert found.found and found.result.fill_price == "84.930019"
    missing = await wire.executor.GetOrder(pb.GetOrderRequest(client_order_id="nope"))
    assert not missing.found


async def test_a_repeated_client_order_id_is_answered_as_replayed(wire: Wire) -> None:
    request = pb.DepositRequest(client_order_id="same", amount="10")
    first = (await wire.executor.Deposit(request)).result
    second = (await wire.executor.Deposit(request)).result
    assert not first.replayed and second.replayed
    assert second.tx_signature == first.tx_signature
    state = (await wire.executor.GetAccountState(pb.GetAccountStateRequest())).state
    assert state.quote_balance == "10"


BAD_NUMBERS = ["", "NaN", "-1", "0", "1e20", "abc", "inf", "  "]


def bad_input_cases() -> list[tuple[str, object, str]]:
    cases: list[tuple[str, object, str]] = []
    for text in BAD_NUMBERS:
        cases += [
            ("Deposit", pb.DepositRequest(client_order_id="x", amount=text), "INVALID_AMOUNT"),
            ("Withdraw", pb.WithdrawRequest(client_order_id="x", amount=text), "INVALID_AMOUNT"),
            ("OpenPosition", pb.OpenPositionRequest(
                client_order_id="x", market="SOL-PERP", side=SHORT, size=text), "INVALID_SIZE"),
            ("Swap", pb.SwapRequest(client_order_id="x", side=LONG, size=text), "INVALID_SIZE"),
        ]
    cases += [
        ("Deposit", pb.DepositRequest(amount="1"), "MISSING_REQUEST_ID"),
        ("Deposit", pb.DepositRequest(client_order_id="x" * 200, amount="1"), "INVALID_ARGUMENT"),
        ("Withdraw", pb.WithdrawRequest(amount="1"), "MISSING_REQUEST_ID"),
        ("Withdraw", pb.WithdrawRequest(client_order_id="x", amount="1"),
         "INSUFFICIENT_COLLATERAL"),
        ("Deposit", pb.DepositRequest(client_order_id="x", amount="1e12"), "INSUFFICIENT_BALANCE"),
        ("OpenPosition", pb.OpenPositionRequest(market="SOL-PERP", side=SHORT, size="1"),
         "MISSING_REQUEST_ID"),
        ("OpenPosition", pb.OpenPositionRequest(client_order_id="x", side=SHORT, size="1"),
         "INVALID_MARKET"),
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="DOGE-PERP", side=SHORT, size="1"), "INVALID_MARKET"),
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="SOL-PERP", size="1"), "INVALID_DIRECTION"),
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="SOL-PERP", side=9, size="1"), "INVALID_DIRECTION"),
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="SOL-PERP", side=SHORT, size="1", price_limit="cheap"),
         "INVALID_ARGUMENT"),
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="SOL-PERP", side=SHORT, size="1",
            kind=common_pb2.TRADE_KIND_DEPOSIT), "INVALID_ARGUMENT"),
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="SOL-PERP", side=SHORT, size="999999999"),
         "INSUFFICIENT_COLLATERAL"),  # nothing deposited
        ("OpenPosition", pb.OpenPositionRequest(
            client_order_id="x", market="SOL-PERP", side=SHORT, size="0.0000000001"),
         "INVALID_SIZE"),
        ("ClosePosition", pb.ClosePositionRequest(market="SOL-PERP"), "MISSING_REQUEST_ID"),
        ("ClosePosition", pb.ClosePositionRequest(client_order_id="x"), "INVALID_MARKET"),
        ("ClosePosition", pb.ClosePositionRequest(client_order_id="x", market="SOL-PERP"),
         "NO_POSITION"),
        ("ClosePosition", pb.ClosePositionRequest(
            client_order_id="x", market="SOL-PERP", price_limit="-5"), "INVALID_ARGUMENT"),
        ("SettlePnl", pb.SettlePnlRequest(market="SOL-PERP"), "MISSING_REQUEST_ID"),
        ("SettlePnl", pb.SettlePnlRequest(client_order_id="x", market="ZZZ"), "INVALID_MARKET"),
        ("Swap", pb.SwapRequest(client_order_id="x", size="1"), "INVALID_DIRECTION"),
        ("Swap", pb.SwapRequest(side=LONG, size="1"), "MISSING_REQUEST_ID"),
        ("Swap", pb.SwapRequest(client_order_id="x", side=SHORT, size="5"),
         "INSUFFICIENT_BALANCE"),
    ]
    return cases


async def test_bad_input_on_every_order_rpc_is_rejected_with_a_code_and_a_message(
    wire: Wire,
) -> None:
    for number, (method, request, code) in enumerate(bad_input_cases()):
        if getattr(request, "client_order_id", "") == "x":
            request.client_order_id = f"bad-{number}"  # type: ignore[attr-defined]
        reply = await getattr(wire.executor, method)(request)
        assert reply.result.status == REJECTED, (method, request, reply)
        assert reply.result.error.code == code, (method, request, reply.result.error)
        assert reply.result.error.message, (method, request)
    state = (await wire.executor.GetAccountState(pb.GetAccountStateRequest())).state
    assert state.wallet.usdc == "10000" and not state.positions  # nothing moved


async def test_bad_input_on_reads_and_controls_answers_invalid_argument(wire: Wire) -> None:
    calls = [
        wire.executor.GetOrder(pb.GetOrderRequest(client_order_id="")),
        wire.paper.SetSimulatedLatency(pb.SetSimulatedLatencyRequest(latency_ms=float("nan"))),
        wire.paper.SetSimulatedLatency(pb.SetSimulatedLatencyRequest(latency_ms=-1)),
        wire.paper.SetSimulatedLatency(pb.SetSimulatedLatencyRequest(latency_ms=1e9)),
        wire.paper.FailNextOrders(pb.FailNextOrdersRequest(count=1, error_code="BOOM")),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details()


async def test_feed_outage_fails_orders_and_makes_state_unavailable(wire: Wire) -> None:
    wire.feed.down = True
    result = (await wire.executor.Deposit(pb.DepositRequest(
        client_order_id="d", amount="1"))).result
    assert (result.status, result.error.code) == (FAILED, "FEED_UNAVAILABLE")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wire.executor.GetAccountState(pb.GetAccountStateRequest())
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    status = await wire.executor.GetVenueStatus(pb.GetVenueStatusRequest())
    assert not status.connected


async def test_the_account_with_the_venue_status_is_one_read_of_the_market_clock(
    wire: Wire, feed: FakeFeed
) -> None:
    await wire.executor.Deposit(pb.DepositRequest(client_order_id="d", amount="100"))
    before = feed.clock_reads
    both = await wire.executor.GetAccountState(pb.GetAccountStateRequest(with_venue_status=True))
    assert feed.clock_reads - before == 1
    assert (both.venue.venue, both.venue.account) == ("paper", "paper-wallet")
    assert both.venue.connected and both.venue.as_of == both.state.as_of
    assert both.state.collateral == "100"
    alone = await wire.executor.GetAccountState(pb.GetAccountStateRequest())
    assert not alone.HasField("venue")
    feed.down = True
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wire.executor.GetAccountState(pb.GetAccountStateRequest(with_venue_status=True))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_order_that_asks_answers_the_account_its_fill_left(wire: Wire) -> None:
    wanted = pb.AccountAfter(sub_account=0)
    deposited = await wire.executor.Deposit(pb.DepositRequest(
        client_order_id="d", amount="1000", account_after=wanted))
    assert deposited.result.status == FILLED and deposited.account.collateral == "1000"
    opened = await wire.executor.OpenPosition(pb.OpenPositionRequest(
        client_order_id="o", market="SOL-PERP", side=common_pb2.SIDE_SHORT, size="2",
        account_after=wanted))
    [position] = opened.account.positions
    assert (position.market, position.size) == ("SOL-PERP", "2")
    read = await wire.executor.GetAccountState(pb.GetAccountStateRequest())
    assert opened.account == read.state
    replayed = await wire.executor.OpenPosition(pb.OpenPositionRequest(
        client_order_id="o", market="SOL-PERP", side=common_pb2.SIDE_SHORT, size="2",
        account_after=wanted))
    assert replayed.result.replayed and not replayed.HasField("account")
    refused = await wire.executor.Withdraw(pb.WithdrawRequest(
        client_order_id="w", amount="1000000", account_after=wanted))
    assert refused.result.status != FILLED and not refused.HasField("account")
    unasked = await wire.executor.Deposit(pb.DepositRequest(client_order_id="d2", amount="1"))
    assert unasked.result.status == FILLED and not unasked.HasField("account")


async def test_paper_controls_set_latency_and_fail_the_next_orders(wire: Wire) -> None:
    await wire.paper.SetSimulatedLatency(pb.SetSimulatedLatencyRequest(latency_ms=20))
    status = await wire.executor.GetVenueStatus(pb.GetVenueStatusRequest())
    assert (status.venue, status.account, status.latency_ms) == ("paper", "paper-wallet", 20)
    assert status.connected and not status.trading_halted
    await wire.paper.FailNextOrders(pb.FailNextOrdersRequest(
        count=1, error_code="VENUE_UNAVAILABLE", message="simulated outage"))
    failed = (await wire.executor.Deposit(pb.DepositRequest(
        client_order_id="d", amount="1"))).result
    assert (failed.status, failed.error.code, failed.error.message) == (
        FAILED, "VENUE_UNAVAILABLE", "simulated outage")
    again = (await wire.executor.Deposit(pb.DepositRequest(
        client_order_id="d", amount="1"))).result
    assert again.status == FAILED and again.replayed  # an answered id is final
    filled = (await wire.executor.Deposit(pb.DepositRequest(
        client_order_id="d2", amount="1"))).result
    assert filled.status == FILLED


class ExplodingDriver:
    name = "exploding"

    def __getattr__(self, name: str) -> object:
        async def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError(f"{name} exploded")

        return explode


async def test_an_unexpected_driver_error_is_a_failed_internal_answer_not_a_crash() -> None:
    server, address = await serve(ExplodingDriver(), None)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = executor_pb2_grpc.ExecutorServiceStub(channel)
            result = (await stub.OpenPosition(pb.OpenPositionRequest(
                client_order_id="o", market="SOL-PERP", side=SHORT, size="1"))).result
            assert (result.status, result.error.code) == (FAILED, "INTERNAL")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetAccountState(pb.GetAccountStateRequest())
            assert caught.value.code() == grpc.StatusCode.INTERNAL
            paper = executor_pb2_grpc.PaperVenueControlServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await paper.SetSimulatedLatency(pb.SetSimulatedLatencyRequest(latency_ms=1))
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        await server.stop(0)
