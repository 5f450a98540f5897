"""The canary: the wallet key of a live system never appears in any log of any service, any
WebSocket frame, any span, or any gRPC answer, through trades and failures alike."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import httpx
import pytest
from google.protobuf.json_format import MessageToJson
from solders.keypair import Keypair

from dne.executor.v1 import executor_pb2
from tests.kit.databases import sqlite_url
from tests.kit.executor_live_secrets import secret_forms
from tests.kit.gateway_client import browser
from tests.kit.otlp_receiver import otlp_receiver
from tests.kit.system import running_system

pytestmark = pytest.mark.integration


def owner_only_key(path: Path) -> Keypair:
    """The run's key, from a file only its owner may read (`make run-live-sim` writes it)."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return Keypair.from_base58_string(path.read_text())


def environ_of(pid: int | None) -> str:
    return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")


async def test_the_canary_key_appears_in_no_output_anywhere(tmp_path: Path) -> None:
    async with otlp_receiver() as (spans, endpoint):
        telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                     "OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_BSP_SCHEDULE_DELAY": "100",
                     "LOG_LEVEL": "DEBUG"}
        async with running_system(
            tmp_path, sqlite_url(tmp_path), gateway=True, live_sim=True, common_env=telemetry,
            executor_env={"CONFIRM_WAIT_SECONDS": "1", "CONFIRM_POLL_SECONDS": "0.5",
                          "CONFIRM_POLL_TOTAL_SECONDS": "1"},
        ) as running:
            assert running.live_env is not None
            canary = owner_only_key(Path(running.live_env["executor"]["SOLANA_PRIVATE_KEY_FILE"]))
            # No process holds it in its environment, the executor included.
            for name, process in running.system.processes.items():
                environ = environ_of(process.pid)
                assert not any(form in environ for form in secret_forms(canary)), name
            control = running.venue_sim_url + "/_control"
            frames: list[str] = []
            replies: list[str] = []
            async with browser(running) as page, httpx.AsyncClient(timeout=10) as http:
                assert (await page.command("START_ENGINE", {"mode": "live"}))["payload"]["ok"]
                await page.command("DRIFT_DEPOSIT", {"amount": "300"}, timeout=15)
                await http.post(control, content=json.dumps({"outcome": "fail_simulation"}))
                await page.command("DRIFT_WITHDRAW", {"amount": "100"}, timeout=15)
                await http.post(control, content=json.dumps({"outcome": "never_confirm"}))
                await page.command("DRIFT_DEPOSIT", {"amount": "5"}, timeout=15)
                await http.delete(control)
                await page.command("DRIFT_DEPOSIT", {"amount": "NaN"})
                for path in ("/api/status", "/health", "/api/config", "/metrics"):
                    replies.append((await http.get(
                        running.gateway_url + path,
                        headers={"Authorization": f"Bearer {running.api_token}"})).text)
                frames = [json.dumps(message) for _, message in page.messages]
            for call, request in (
                (running.stubs.executor.GetVenueStatus, executor_pb2.GetVenueStatusRequest()),
                (running.stubs.executor.GetAccountState, executor_pb2.GetAccountStateRequest()),
            ):
                replies.append(MessageToJson(await call(request)))
            await asyncio.sleep(1)  # the last spans leave their batch processors
            logs = [path.read_text(errors="replace")
                    for path in (tmp_path / "log").glob("*.log")]
            assert any("executor" in path.name for path in (tmp_path / "log").glob("*.log"))

    attributes = [f"{span.name} {json.dumps(span.attributes)}" for span in spans.spans]
    assert frames and logs and attributes and replies
    for form in secret_forms(canary):
        for where, outputs in (("log", logs), ("WebSocket frame", frames),
                               ("span", attributes), ("reply", replies)):
            leaks = [text[:200] for text in outputs if form in text]
            assert not leaks, f"the key leaked into a {where}: {leaks[0]}"
