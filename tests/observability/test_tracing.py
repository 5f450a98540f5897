"""One browser command is one trace through gateway, engine, feed, executor and vault, with the
domain attributes an operator needs and no secret in any of them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.common.trace_policy import READ_HTTP_METHODS, is_read_method
from tests.integration.flow import pause_clock_at
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import auth_headers, browser
from tests.kit.otlp_receiver import otlp_receiver
from tests.kit.system import TEST_API_TOKEN, RunningSystem, running_system

pytestmark = pytest.mark.integration


def telemetry(endpoint: str, *, read_ratio: float) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "100", "TRACE_READ_RATIO": str(read_ratio)}


def is_read_span(name: str) -> bool:
    """An HTTP server span of a read ("GET /api/drift/markets") or a gRPC read's."""
    verb, _, rest = name.partition(" ")
    return verb in READ_HTTP_METHODS if rest else name.startswith("/") and is_read_method(name)


async def markets_reads(running: RunningSystem, count: int) -> None:
    async with httpx.AsyncClient(base_url=running.gateway_url, headers=auth_headers()) as http:
        for _ in range(count):
            (await http.get("/api/drift/markets")).raise_for_status()


async def test_a_take_position_command_is_one_trace_across_every_service(tmp_path: Path) -> None:
    async with otlp_receiver() as (spans, endpoint):
        async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True,
                                  common_env=telemetry(endpoint, read_ratio=1)) as running:
            await pause_clock_at(running.stubs, datetime(2026, 1, 15, 12, tzinfo=UTC))
            await markets_reads(running, 1)
            async with browser(running) as page:
                assert (await page.command("START_ENGINE", {"mode": "paper"}))["payload"]["ok"]
                assert (await page.command("DRIFT_DEPOSIT", {"amount": "2000"}))["payload"]["ok"]
                taken = await page.confirmed_command("DRIFT_OPEN_POSITION", {
                    "market": "SOL-PERP", "direction": "short", "size": "2"})
                assert taken["payload"]["ok"], taken
            await asyncio.sleep(1.5)  # the batch processors export every 100 ms

        roots = [s for s in spans.spans if s.name == "command DRIFT_OPEN_POSITION"]
        assert len(roots) == 2  # the quote, then its confirmation: the one that trades
        root = next(r for r in roots if "dne.tx.signature" in r.attributes)
        assert root.service == "dne-gateway" and root.parent_span_id == ""
        tree = spans.trace(root.trace_id)
        assert {span.service for span in tree} >= {
            "dne-gateway", "dne-engine", "dne-feed", "dne-executor", "dne-vault"}
        by_id = {span.span_id: span for span in tree}
        for span in tree:  # one tree: every span but the root has its parent in the trace
            assert span is root or span.parent_span_id in by_id, span

        trades = [s for s in tree if s.service == "dne-engine" and s.name.startswith("trade ")]
        perp = next(s for s in trades if s.attributes.get("dne.market") == "SOL-PERP")
        assert perp.attributes["dne.side"] == "short" and perp.attributes["dne.size"] == "2"
        assert perp.attributes["dne.gate.decision"] == "approved"
        assert perp.attributes["dne.tx.signature"].startswith("paper:")
        assert root.attributes["dne.command.action"] == "DRIFT_OPEN_POSITION"
        assert root.attributes["dne.tx.signature"] == perp.attributes["dne.tx.signature"]
        # Every read traced (the ratio is 1): the markets request is one trace, gateway to feed.
        read = next(s for s in spans.spans if s.name == "GET /api/drift/markets")
        assert sorted((s.service, s.name) for s in spans.trace(read.trace_id)) == [
            ("dne-feed", "/dne.feed.v1.FeedService/ListFundingMarkets"),
            ("dne-gateway", "/dne.feed.v1.FeedService/ListFundingMarkets"),
            ("dne-gateway", "GET /api/drift/markets")]
        # One span per request or connection, none per ASGI message (each cost throughput).
        per_message = [s.name for s in spans.spans if s.name.endswith((" send", " receive"))]
        assert not per_message, per_message[:5]
        for span in spans.spans:  # no secret rides along
            leaks = {k: v for k, v in span.attributes.items() if TEST_API_TOKEN in v}
            assert not leaks, (span.service, span.name, leaks)


async def test_with_no_read_traced_a_command_still_is_and_a_read_leaves_no_span(
        tmp_path: Path) -> None:
    async with otlp_receiver() as (spans, endpoint):
        async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True,
                                  common_env=telemetry(endpoint, read_ratio=0)) as running:
            await pause_clock_at(running.stubs, datetime(2026, 1, 15, 12, tzinfo=UTC))
            await markets_reads(running, 8)  # within the gateway's 10 a minute
            async with browser(running) as page:
                assert (await page.command("START_ENGINE", {"mode": "paper"}))["payload"]["ok"]
                assert (await page.command("DRIFT_DEPOSIT", {"amount": "2000"}))["payload"]["ok"]
            await asyncio.sleep(1.5)

        assert not [s for s in spans.spans if s.name == "GET /api/drift/markets"]
        deposit = next(s for s in spans.spans if s.name == "command DRIFT_DEPOSIT")
        assert {s.service for s in spans.trace(deposit.trace_id)} >= {
            "dne-gateway", "dne-engine", "dne-executor", "dne-vault"}
        # A read appears only inside a command's trace: none was traced on its own (the
        # engine's ticks poll the feed and the executor all along).
        command_traces = {s.trace_id for s in spans.spans if not is_read_span(s.name)}
        loose = [(s.service, s.name) for s in spans.spans
                 if is_read_span(s.name) and s.trace_id not in command_traces]
        assert not loose, loose[:5]
