"""`dne` against the real services: what scripts see (--json, exit codes) and people see."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from services.cli.main import build_parser
from services.launcher.run_secrets import api_token_path, write_api_token
from tests.integration.flow import account, pause_clock_at
from tests.kit.databases import sqlite_url
from tests.kit.system import TEST_API_TOKEN, RunningSystem, running_system

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("cli")
    async with running_system(var, sqlite_url(var)) as running:
        await pause_clock_at(running.stubs, datetime(2026, 1, 15, 12, tzinfo=UTC))
        yield running


def cli_env(**settings: str) -> dict[str, str]:
    """The test's environment without any DNE_ setting of the developer's, plus `settings`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DNE_")}, **settings}


async def dne(system: RunningSystem, *args: str,
              env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", *args,
        "--engine", system.system.address("engine"), "--feed", system.system.address("feed"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env if env is not None else cli_env(DNE_API_TOKEN=TEST_API_TOKEN))
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_script_drives_the_engine_with_json_and_exit_codes(system: RunningSystem) -> None:
    code, out, _ = await dne(system, "markets", "--json")
    assert code == 0
    markets = json.loads(out)["markets"]
    assert "SOL-PERP" in [market["symbol"] for market in markets]
    aprs = [float(market["apr"]) for market in markets]
    assert aprs == sorted(aprs, reverse=True)

    code, out, _ = await dne(system, "start", "--json")
    assert code == 0 and json.loads(out)["result"]["ok"]
    code, out, _ = await dne(system, "deposit", "1000", "--json")
    assert code == 0, out

    code, out, _ = await dne(system, "open", "SOL-PERP", "short", "3", "--json")
    refused = json.loads(out)["result"]
    assert code == 1 and refused["error"]["code"] == "CONFIRMATION_REQUIRED"
    assert refused["error"]["details"]["market"] == "SOL-PERP"

    code, out, _ = await dne(system, "open", "SOL-PERP", "short", "3")  # what people see
    quote = re.search(r"--confirm=([A-Za-z0-9_-]+)", out)
    assert code == 1 and "CONFIRMATION_REQUIRED" in out and quote, out
    code, out, _ = await dne(system, "open", "SOL-PERP", "short", "3", "--confirm",
                             quote.group(1))
    assert code == 0 and out.startswith("ok:"), out
    code, out, _ = await dne(system, "status", "--json")
    snapshot = json.loads(out)["snapshot"]
    assert [p["market"] for p in snapshot["positions"]] == ["SOL-PERP"]
    code, out, _ = await dne(system, "status")  # a size is positive: the side says the sign
    assert code == 0 and re.search(r"^  SOL-PERP short 3 @ ", out, re.MULTILINE), out
    # Rounded for people, as the dashboard shows them: no 28-digit collateral.
    assert re.search(r"collateral [\d,]+\.\d\d USD", out), out
    assert not re.search(r"\d\.\d{7,}", out), out

    code, out, _ = await dne(system, "close", "SOL-PERP", "--json")
    quote = json.loads(out)["result"]["confirmation"]
    assert code == 1 and quote["confirmation_id"], out
    code, out, err = await dne(system, "close", "SOL-PERP", "--confirm",
                               quote["confirmation_id"], "--json")
    assert code == 0, err
    assert "spot leg sold" in json.loads(out)["result"]["message"]
    code, out, _ = await dne(system, "withdraw", "500")
    assert code == 0, out


@pytest.mark.asyncio(loop_scope="module")
async def test_refusals_and_unreachable_services_have_their_exit_codes(
    system: RunningSystem,
) -> None:
    code, out, _ = await dne(system, "deposit", "NaN")
    assert code == 1 and "INVALID_AMOUNT" in out
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "status", "--engine", "127.0.0.1:1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    assert process.returncode == 2 and "UNAVAILABLE" in err.decode()


@pytest.mark.asyncio(loop_scope="module")
async def test_without_the_api_token_engine_commands_are_refused_and_reads_work(
    system: RunningSystem, tmp_path: Path,
) -> None:
    no_token = cli_env(DNE_VAR_DIR=str(tmp_path))   # no token file there either
    code, _, err = await dne(system, "deposit", "1", env=no_token)
    assert code == 2 and "UNAUTHENTICATED" in err and "authorization: Bearer" in err, err
    code, _, err = await dne(system, "deposit", "1", "--token", "wrong-token-0123456789",
                             env=no_token)
    assert code == 2 and "UNAUTHENTICATED" in err and "wrong-token" not in err, err
    code, out, _ = await dne(system, "status", "--json", env=no_token)
    assert code == 0 and "status" in json.loads(out)
    code, _, _ = await dne(system, "markets", env=no_token)
    assert code == 0


@pytest.mark.asyncio(loop_scope="module")
async def test_the_token_comes_from_the_option_or_from_the_file_make_run_writes(
    system: RunningSystem, tmp_path: Path,
) -> None:
    code, out, _ = await dne(system, "start", "--token", TEST_API_TOKEN, "--json",
                             env=cli_env(DNE_VAR_DIR=str(tmp_path)))
    # Answered by the engine (started, or already running from an earlier test): let in.
    result = json.loads(out)["result"]
    assert result.get("ok") or result["error"]["code"] == "ENGINE_ALREADY_RUNNING", out
    write_api_token(tmp_path, TEST_API_TOKEN)
    code, out, _ = await dne(system, "deposit", "1", "--json",
                             env=cli_env(DNE_VAR_DIR=str(tmp_path)))
    assert code == 0 and json.loads(out)["result"]["ok"], out
    # A token file others can read is refused before anything is sent.
    api_token_path(tmp_path).chmod(0o644)
    code, _, err = await dne(system, "deposit", "1", env=cli_env(DNE_VAR_DIR=str(tmp_path)))
    assert code == 2 and "readable or writable by others" in err, err


@pytest.mark.asyncio(loop_scope="module")
async def test_people_get_a_table_of_markets(system: RunningSystem) -> None:
    code, out, _ = await dne(system, "markets")
    assert code == 0
    assert "SOL-PERP" in out and "APR %" in out and "replay" in out
    # Piped, as here: rich assumed 80 columns and cut figures and names short ("2,039,2…").
    assert "…" not in out and "1MPEPE-PERP" in out and "24h vol $" in out
    assert "rate 1h %" in out and not re.search(r"\d\.\d{9,}", out)   # no wire decimals


async def collateral(system: RunningSystem) -> Decimal:
    return Decimal((await account(system.stubs)).collateral)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_deposit_retried_with_its_request_id_moves_money_once(
    system: RunningSystem,
) -> None:
    await dne(system, "start")
    before = await collateral(system)
    code, out, _ = await dne(system, "deposit", "10", "--request-id", "script-deposit-1", "--json")
    first = json.loads(out)["result"]
    assert code == 0 and first["ok"], out
    assert first["request_id"] == "script-deposit-1"
    assert not first["order"].get("replayed", False)

    code, out, _ = await dne(system, "deposit", "10", "--request-id", "script-deposit-1", "--json")
    retry = json.loads(out)["result"]
    assert code == 0 and retry["ok"], out
    assert retry["order"]["replayed"] is True
    assert retry["order"]["tx_signature"] == first["order"]["tx_signature"]
    assert await collateral(system) == before + 10   # one deposit, not two

    code, out, _ = await dne(system, "deposit", "10", "--request-id", "script-deposit-1")
    assert code == 0 and "replayed" in out, out   # people see it too


@pytest.mark.asyncio(loop_scope="module")
async def test_without_a_request_id_the_generated_one_is_printed_so_a_script_can_retry(
    system: RunningSystem,
) -> None:
    await dne(system, "start")
    before = await collateral(system)
    code, _, err = await dne(system, "deposit", "3")
    assert code == 0
    printed = re.search(r"--request-id (\S+)", err)
    assert printed, err
    code, out, _ = await dne(system, "deposit", "3", "--request-id", printed.group(1), "--json")
    assert code == 0 and json.loads(out)["result"]["order"]["replayed"] is True
    assert await collateral(system) == before + 3


@pytest.mark.parametrize("command", [["deposit", "1"], ["withdraw", "1"],
                                     ["open", "SOL-PERP", "short", "1"], ["close", "SOL-PERP"]])
def test_every_command_that_moves_money_takes_a_request_id(command: list[str]) -> None:
    args = build_parser().parse_args([*command, "--request-id", "my-id-1"])
    assert args.request_id == "my-id-1"


def test_a_request_id_the_engine_would_refuse_is_refused_before_sending() -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["deposit", "1", "--request-id", "has space"])
    assert exit_.value.code == 2
