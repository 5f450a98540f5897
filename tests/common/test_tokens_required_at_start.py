"""Issue 11: the engine, the executor and the vault refuse to start without their tokens (exit
code 2, a message naming the setting), rather than run open or refuse every call later."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.kit.service_tokens import ENGINE_TOKENS_ENV, SERVICE_TOKEN_ENV

pytestmark = pytest.mark.integration

ENGINE_ADDRESSES = {"FEED_ADDRESS": "127.0.0.1:1", "EXECUTOR_ADDRESS": "127.0.0.1:1",
                    "VAULT_ADDRESS": "127.0.0.1:1"}
WITHOUT = {*ENGINE_TOKENS_ENV, "SERVICE_TOKEN_FILE"}


async def start(service: str, env: dict[str, str]) -> tuple[int, str, str]:
    base = {key: value for key, value in os.environ.items() if key not in WITHOUT}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"services.{service}", env={**base, "PORT": "0", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), 60)
    return child.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(("service", "env", "says"), [
    ("executor", {}, "SERVICE_TOKEN_FILE (or SERVICE_TOKEN) is not set"),
    ("vault", {"DATABASE_URL": "sqlite:///:memory:"},
     "SERVICE_TOKEN_FILE (or SERVICE_TOKEN) is not set"),
    ("engine", {**ENGINE_ADDRESSES, **SERVICE_TOKEN_ENV}, "DNE_API_TOKEN is not set"),
    ("engine", {**ENGINE_ADDRESSES, "DNE_API_TOKEN": ENGINE_TOKENS_ENV["DNE_API_TOKEN"]},
     "SERVICE_TOKEN_FILE (or SERVICE_TOKEN) is not set"),
    ("engine", {**ENGINE_ADDRESSES, **SERVICE_TOKEN_ENV, "DNE_API_TOKEN": "short"},
     "DNE_API_TOKEN must hold at least 16 characters"),
], ids=["executor", "vault", "engine-without-api-token", "engine-without-service-token",
        "engine-short-api-token"])
async def test_a_service_without_its_token_refuses_to_start(
    service: str, env: dict[str, str], says: str,
) -> None:
    code, out, err = await start(service, env)
    assert code == 2, err
    assert "listening" not in out
    assert says in err
    assert "short" not in err.replace("DNE_API_TOKEN must", "")
