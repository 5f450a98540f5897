"""Every service serves Prometheus metrics; after a paper trade the numbers it should have moved
have moved."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.flow import account, advance_hours, pause_clock_at
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import browser
from tests.kit.ports import free_port
from tests.kit.system import running_system

pytestmark = pytest.mark.integration
SERVICES = ("feed", "vault", "executor", "engine")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return found[(name, frozenset(labels.items()))]


async def test_metrics_after_a_paper_trade(tmp_path: Path) -> None:
    ports = {name: free_port() for name in SERVICES}
    per_service = {name: {"METRICS_PORT": str(port)} for name, port in ports.items()}
    async with running_system(
        tmp_path, sqlite_url(tmp_path), gateway=True,
        feed_env=per_service["feed"], engine_env=per_service["engine"],
        executor_env=per_service["executor"],
    ) as running:
        await pause_clock_at(running.stubs, datetime(2026, 1, 15, 12, tzinfo=UTC))
        async with browser(running) as page:
            assert (await page.command("START_ENGINE", {"mode": "paper"}))["payload"]["ok"]
            assert (await page.command("DRIFT_DEPOSIT", {"amount": "2000"}))["payload"]["ok"]
            assert (await page.confirmed_command("DRIFT_OPEN_POSITION", {
                "market": "SOL-PERP", "direction": "short", "size": "2"}))["payload"]["ok"]
            await advance_hours(running.stubs, 2)
            async with httpx.AsyncClient(timeout=5) as http:
                async def scrape(name: str) -> dict:  # type: ignore[type-arg]
                    reply = await http.get(f"http://127.0.0.1:{ports[name]}/metrics")
                    assert reply.status_code == 200
                    return samples(reply.text)

                engine = await scrape("engine")
                assert value(engine, "dne_trades_total", kind="perp_open", result="filled") >= 1
                assert value(engine, "dne_trades_total", kind="deposit", result="filled") >= 1
                state = await account(running.stubs)
                assert value(engine, "dne_collateral_usd", sub_account="0") == pytest.approx(
                    float(state.collateral), rel=1e-3)
                assert 0 < value(engine, "dne_health_ratio_percent", sub_account="0") <= 100
                assert value(engine, "dne_leverage_ratio", sub_account="0") > 0
                assert abs(value(engine, "dne_net_delta_sol", sub_account="0")) < 1e-6

                executor = await scrape("executor")
                assert value(executor, "dne_rpc_requests_total", service="executor",
                             method="OpenPosition", code="OK") >= 1
                feed = await scrape("feed")
                apr = value(feed, "dne_funding_apr_percent", market="SOL-PERP")
                assert apr == pytest.approx(9.68e-06 * 24 * 365 * 100, rel=1e-6)
                gateway = samples((await http.get(f"{running.gateway_url}/metrics")).text)
                assert value(gateway, "dne_websocket_clients") == 1
