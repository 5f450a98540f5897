"""The gRPC calls one paper trade makes, counted by the services' own request counters: the
trade's cost is mostly the cost of its calls (issue 12), so a call added to the order path
shows here first. bench/trade_floor.py replays the same graph on bare servers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from dne.engine.v1 import engine_pb2
from tests.integration.flow import request_id
from tests.kit.confirmations import confirm_stub
from tests.kit.databases import sqlite_url
from tests.kit.ports import free_port
from tests.kit.system import running_system
from tests.observability.test_metrics import SERVICES, samples

pytestmark = pytest.mark.integration

# One OpenPosition on a market other than the hedge market, as the bench times it.
EXPECTED_CALLS = {
    # The completion syncs the account the fill left, in the same call.
    "vault": {"ListTrades": 1, "RecordIntent": 1, "CompleteTrade": 1},
    # The gates' status and account in one call; the order, whose answer carries the account
    # the fill left.
    "executor": {"GetAccountState": 1, "OpenPosition": 1},
    # The gates' markets table carrying both prices; the executor's clock on each of its two
    # calls, the order's carrying the fill's price. The executor's own markets table too: its
    # first trade asks it, later ones within 5 s use its copy.
    "feed": {"ListFundingMarkets": 2, "GetClock": 2},
}


async def calls_by_method(
    http: httpx.AsyncClient, ports: dict[str, int]
) -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for service, port in ports.items():
        found = samples((await http.get(f"http://127.0.0.1:{port}/metrics")).text)
        for (name, labels), value in found.items():
            method = dict(labels).get("method", "")
            if name == "dne_rpc_requests_total" and not method.startswith("Check"):
                counted[(service, method)] += int(value)
    return counted


async def test_one_paper_open_makes_the_documented_calls_and_no_more(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    env = {name: {"METRICS_PORT": str(port)} for name, port in ports.items()}
    # No tick during the trade: its reads would be counted with the trade's.
    env["engine"]["TICK_INTERVAL_SEC"] = "3600"
    async with running_system(
        tmp_path, sqlite_url(tmp_path), feed_env=env["feed"], engine_env=env["engine"],
        executor_env=env["executor"], vault_env=env["vault"],
    ) as running:
        engine = running.stubs.engine
        assert (await engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode="paper"))).result.ok
        assert (await engine.Deposit(engine_pb2.DepositRequest(
            request_id=request_id(), amount="5000"))).result.ok
        del ports["engine"]  # its calls out are what the others count
        async with httpx.AsyncClient(timeout=5) as http:
            before = await calls_by_method(http, ports)
            opened = await confirm_stub(engine.OpenPosition, engine_pb2.OpenPositionRequest(
                request_id=request_id(), market="BTC-PERP", direction="short", size="0.0005"))
            assert opened.result.ok, opened.result.error
            after = await calls_by_method(http, ports)
    made = after - before
    expected = Counter({(service, method): count for service, methods in EXPECTED_CALLS.items()
                        for method, count in methods.items()})
    assert made == expected
