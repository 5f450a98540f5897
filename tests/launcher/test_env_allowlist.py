"""Issue 11: the launcher hands each service only the environment it reads, and each secret to
the one service that uses it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
from solders.keypair import Keypair

from services.launcher.processes import child_environment
from tests.launcher.test_launcher_process import launcher_env, read_until_ready, service_processes

CANARY = str(Keypair())
TOKEN = "canary-api-token-0123456789"
SERVICE_TOKEN = "canary-service-token-0123456789"
PARENT = {
    "PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
    "PYTHONPATH": "/x", "OTEL_SERVICE_NAME": "x", "LOG_LEVEL": "DEBUG",
    "SOLANA_PRIVATE_KEY": CANARY, "DNE_API_TOKEN": TOKEN, "SERVICE_TOKEN": SERVICE_TOKEN,
    "DATABASE_URL": "postgresql://dne:hunter2@db/dne", "AWS_SECRET_ACCESS_KEY": "nope",
    "RPC_URL": "http://rpc", "MAX_LEVERAGE": "3",
}
SECRETS = ("SOLANA_PRIVATE_KEY", "DNE_API_TOKEN", "DATABASE_URL", "SERVICE_TOKEN",
           "SERVICE_TOKEN_FILE")


def secrets_in(env: dict[str, str]) -> set[str]:
    return {name for name in SECRETS if name in env}


@pytest.mark.parametrize(
    ("service", "wired", "expected"),
    [
        ("feed", {}, set()),
        ("engine", {}, {"DNE_API_TOKEN", "SERVICE_TOKEN"}),
        ("vault", {}, {"DATABASE_URL", "SERVICE_TOKEN"}),
        ("gateway", {}, {"DNE_API_TOKEN"}),
        ("executor", {}, {"SERVICE_TOKEN"}),
        ("executor", {"EXECUTOR_DRIVER": "drift"}, {"SOLANA_PRIVATE_KEY", "SERVICE_TOKEN"}),
        ("venue_sim", {}, set()),
        ("crashy", {}, set()),
    ],
    ids=["feed", "engine", "vault", "gateway", "executor-paper", "executor-live", "venue_sim",
         "unknown"],
)
def test_each_secret_reaches_only_the_service_that_reads_it(
    service: str, wired: dict[str, str], expected: set[str]
) -> None:
    env = child_environment(service, PARENT, wired)
    assert secrets_in(env) == expected
    assert "AWS_SECRET_ACCESS_KEY" not in env
    for name in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "OTEL_SERVICE_NAME",
                 "LOG_LEVEL"):
        assert env[name] == PARENT[name]


def test_a_service_inherits_the_settings_it_reads_and_not_the_others() -> None:
    assert child_environment("engine", PARENT, {})["MAX_LEVERAGE"] == "3"
    assert "RPC_URL" not in child_environment("engine", PARENT, {})
    assert child_environment("feed", PARENT, {})["RPC_URL"] == "http://rpc"
    assert "MAX_LEVERAGE" not in child_environment("feed", PARENT, {})


def test_the_wiring_wins_but_never_hands_a_secret_to_the_wrong_service() -> None:
    wired = {"PORT": "0", "DATABASE_URL": "sqlite:///x", "DNE_API_TOKEN": TOKEN,
             "SOLANA_PRIVATE_KEY": CANARY, "SERVICE_TOKEN_FILE": "/run/token"}
    assert child_environment("engine", PARENT, wired) == {
        **child_environment("engine", PARENT, {}), "PORT": "0",
        "SERVICE_TOKEN_FILE": "/run/token"}
    assert child_environment("vault", PARENT, wired)["DATABASE_URL"] == "sqlite:///x"
    assert secrets_in(child_environment("executor", {}, wired)) == {"SERVICE_TOKEN_FILE"}
    assert secrets_in(child_environment("feed", PARENT, wired)) == set()
    assert secrets_in(child_environment("gateway", PARENT, wired)) == {"DNE_API_TOKEN"}


def text_and_mode(path: Path) -> tuple[str, int]:
    return path.read_text(), path.stat().st_mode & 0o777


def environ_of(process: psutil.Process) -> dict[str, str]:
    raw = Path(f"/proc/{process.pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
async def test_the_launchers_children_hold_only_their_own_secrets(tmp_path: Path) -> None:
    (tmp_path / "api-token").write_text("a previous run's token")
    env = {
        **launcher_env(tmp_path),
        "SOLANA_PRIVATE_KEY": CANARY, "DNE_API_TOKEN": TOKEN, "SERVICE_TOKEN": SERVICE_TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'canary-vault.db'}",
    }
    stderr = (tmp_path / "launcher.stderr").open("wb")
    launcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.launcher", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=stderr,
    )
    try:
        assert launcher.stdout is not None
        banner = await read_until_ready(launcher.stdout)
        children = service_processes(launcher.pid)
        assert set(children) == {"feed", "vault", "executor", "engine", "gateway"}
        held = {name: environ_of(child) for name, child in children.items()}
    finally:
        if launcher.returncode is None:
            launcher.send_signal(signal.SIGTERM)
            await asyncio.wait_for(launcher.wait(), 60)
        stderr.close()
    # The run's service token: a file named to the engine, the executor and the vault alone
    # (an inherited SERVICE_TOKEN is blanked); the API token to the gateway and the engine.
    token_holder = {"SERVICE_TOKEN_FILE", "SERVICE_TOKEN"}
    assert {name: secrets_in(environ) for name, environ in held.items()} == {
        "feed": set(), "vault": {"DATABASE_URL", *token_holder},
        "executor": token_holder, "engine": {"DNE_API_TOKEN", *token_holder},
        "gateway": {"DNE_API_TOKEN"},
    }
    assert held["gateway"]["DNE_API_TOKEN"] == held["engine"]["DNE_API_TOKEN"] == TOKEN
    assert {environ["SERVICE_TOKEN"] for environ in held.values() if "SERVICE_TOKEN" in environ
            } == {""}
    service_token, service_mode = text_and_mode(Path(held["engine"]["SERVICE_TOKEN_FILE"]))
    assert len(service_token) >= 32 and service_token != SERVICE_TOKEN and service_mode == 0o600
    # A token the user set is not copied to disk: dne reads it from $DNE_API_TOKEN.
    assert not (tmp_path / "api-token").exists()
    assert "reads the API token from $DNE_API_TOKEN" in banner
    # A token the user set is not echoed: the dashboard line names the variable instead.
    assert TOKEN not in banner and "?token=<DNE_API_TOKEN>" in banner
    assert TOKEN not in (tmp_path / "launcher.stderr").read_text()
    assert held["vault"]["DATABASE_URL"] == env["DATABASE_URL"]
    for name, environ in held.items():
        assert CANARY not in "\0".join(f"{k}={v}" for k, v in environ.items()), name
    assert os.environ.get("SOLANA_PRIVATE_KEY") != CANARY
