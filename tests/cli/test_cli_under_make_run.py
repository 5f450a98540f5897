"""`dne` against `python -m services.launcher` (`make run`): the launcher writes the run's API
token to var/api-token (0600) and `dne`, run where `make run` ran, trades with it unasked."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from tests.launcher.test_launcher_process import address_in, launcher_env, read_until_ready

pytestmark = pytest.mark.integration


async def dne(var: Path, engine: str, *args: str) -> tuple[int, str, str]:
    env = {key: value for key, value in launcher_env(var).items()
           if not key.startswith("DNE_") or key == "DNE_VAR_DIR"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", *args, "--engine", engine, "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_dne_trades_with_the_token_the_launcher_wrote(tmp_path: Path) -> None:
    stderr = (tmp_path / "launcher.stderr").open("wb")
    launcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.launcher", env=launcher_env(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=stderr)
    try:
        assert launcher.stdout is not None
        banner = await read_until_ready(launcher.stdout)
        engine = address_in(banner, r"engine\s+grpc://(\S+)")
        assert f"{tmp_path}/api-token" in banner
        assert (tmp_path / "api-token").stat().st_mode & 0o777 == 0o600
        code, out, err = await dne(tmp_path, engine, "start")
        assert code == 0 and json.loads(out)["result"]["ok"], (out, err)
        code, out, err = await dne(tmp_path, engine, "deposit", "100")
        assert code == 0 and json.loads(out)["result"]["ok"], (out, err)
        code, out, _ = await dne(tmp_path, engine, "status")
        assert code == 0 and json.loads(out)["status"]["running"]
    finally:
        if launcher.returncode is None:
            launcher.send_signal(signal.SIGTERM)
            await asyncio.wait_for(launcher.wait(), 60)
        stderr.close()
