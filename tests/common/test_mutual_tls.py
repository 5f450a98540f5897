"""Issue 11, optional hardening: with GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE
a service accepts only clients holding a certificate of the CA (and still the service token on
top), and answers the kubelet's plaintext gRPC probe on HEALTH_PORT with the health service
alone. The vault as a real process; certificates made by openssl for the test."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from pydantic import ValidationError

from dne.vault.v1 import vault_pb2_grpc
from services.common.grpc_client import open_channel
from services.common.grpc_tls import TlsFiles
from services.common.settings import ServiceSettings
from services.gateway.settings import GatewaySettings
from services.launcher.processes import wait_serving
from tests.kit.ports import free_port
from tests.kit.service_tokens import ENGINE_TOKENS_ENV, SERVICE_TOKEN_ENV, TEST_SERVICE_TOKEN
from tests.kit.vault_builders import intent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> None:
    openssl(directory, "req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.crt",
            "-days", "1", "-subj", f"/CN={name}")


def make_cert(directory: Path, ca: str, name: str) -> TlsFiles:
    """A certificate for loopback, good for serving and for calling (as cert-manager would
    issue one per service)."""
    (directory / f"{name}.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    openssl(directory, "req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")
    openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
            f"{ca}.key", "-CAcreateserial", "-out", f"{name}.crt", "-days", "1",
            "-extfile", f"{name}.ext")
    for suffix in ("key", "crt"):
        (directory / f"{name}.{suffix}").chmod(0o600)
    return TlsFiles(directory / f"{name}.crt", directory / f"{name}.key", directory / f"{ca}.crt")


@dataclass
class TlsVault:
    address: str
    health_address: str
    engine: TlsFiles     # a certificate of the cluster's CA
    stranger: TlsFiles   # one of another CA


def log_text(log: Path) -> str:
    return log.read_text()


@asynccontextmanager
async def service(module: str, env: dict[str, str], log: Path) -> AsyncIterator[str]:
    """`python -m module` under `env`, its stderr in `log`; yields the address it prints once
    listening, and stops it afterwards."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"))
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        match = re.search(r"listening on (\S+)", line)
        assert match, line + log_text(log)
        yield match.group(1)
    finally:
        process.terminate()
        await process.wait()


@pytest_asyncio.fixture
async def vault(tmp_path: Path) -> AsyncIterator[TlsVault]:
    make_ca(tmp_path, "ca")
    make_ca(tmp_path, "other-ca")
    server = make_cert(tmp_path, "ca", "vault")
    health_port = free_port()
    env = {**os.environ, **SERVICE_TOKEN_ENV, "PORT": "0", "LOG_FORMAT": "text",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'vault.db'}",
           "GRPC_TLS_CERT_FILE": str(server.cert), "GRPC_TLS_KEY_FILE": str(server.key),
           "GRPC_TLS_CA_FILE": str(server.ca), "HEALTH_PORT": str(health_port)}
    async with service("services.vault", env, tmp_path / "vault.log") as address:
        health_address = f"127.0.0.1:{health_port}"
        await wait_serving(health_address, timeout=30)   # the probe: plaintext, no token
        yield TlsVault(address, health_address, make_cert(tmp_path, "ca", "engine"),
                       make_cert(tmp_path, "other-ca", "stranger"))


async def record(channel: grpc.aio.Channel, order: str) -> grpc.StatusCode:
    try:
        await vault_pb2_grpc.VaultServiceStub(channel).RecordIntent(intent(order), timeout=5)
    except grpc.aio.AioRpcError as error:
        return error.code()
    finally:
        await channel.close()
    return grpc.StatusCode.OK


async def test_only_a_client_with_a_certificate_of_the_ca_and_the_token_is_answered(
    vault: TlsVault,
) -> None:
    token = TEST_SERVICE_TOKEN
    assert await record(open_channel(vault.address, token), "plaintext") == (
        grpc.StatusCode.UNAVAILABLE)
    no_client_cert = grpc.aio.secure_channel(vault.address, grpc.ssl_channel_credentials(
        root_certificates=vault.engine.ca.read_bytes()))
    assert await record(no_client_cert, "no-client-cert") == grpc.StatusCode.UNAVAILABLE
    assert await record(open_channel(vault.address, token, vault.stranger), "stranger") == (
        grpc.StatusCode.UNAVAILABLE)
    assert await record(open_channel(vault.address, None, vault.engine), "no-token") == (
        grpc.StatusCode.UNAUTHENTICATED)
    assert await record(open_channel(vault.address, token, vault.engine), "engine") == (
        grpc.StatusCode.OK)


async def test_the_plaintext_health_port_serves_the_health_service_alone(
    vault: TlsVault,
) -> None:
    assert await record(open_channel(vault.health_address, TEST_SERVICE_TOKEN), "via-probe") == (
        grpc.StatusCode.UNIMPLEMENTED)


@pytest.mark.parametrize("settings_class", [ServiceSettings, GatewaySettings])
def test_half_a_tls_setup_is_refused_at_start(settings_class: type, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        settings_class(grpc_tls_cert_file=tmp_path / "a.crt", grpc_tls_ca_file=tmp_path / "ca")


async def test_dne_reaches_an_engine_under_mutual_tls_with_the_same_settings(
    tmp_path: Path,
) -> None:
    make_ca(tmp_path, "ca")
    engine_cert = make_cert(tmp_path, "ca", "engine")
    tls_env = {"GRPC_TLS_CERT_FILE": str(engine_cert.cert),
               "GRPC_TLS_KEY_FILE": str(engine_cert.key), "GRPC_TLS_CA_FILE": str(engine_cert.ca)}
    base = {key: value for key, value in os.environ.items() if not key.startswith("DNE_")}
    env = {**base, **ENGINE_TOKENS_ENV, **tls_env, "PORT": "0", "HEALTH_PORT": str(free_port()),
           "FEED_ADDRESS": "127.0.0.1:1", "EXECUTOR_ADDRESS": "127.0.0.1:1",
           "VAULT_ADDRESS": "127.0.0.1:1", "ENGINE_STATE_PATH": str(tmp_path / "engine.json")}
    async with service("services.engine", env, tmp_path / "engine.log") as address:
        async def dne(*args: str, extra: dict[str, str]) -> tuple[int, str]:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.cli.main", *args, "--engine", address,
                env={**base, **extra}, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await child.communicate()
            return child.returncode or 0, (out + err).decode()

        code, _ = await dne("status", "--json", extra=tls_env)
        assert code == 0
        code, said = await dne("status", extra={})
        assert code == 2 and "UNAVAILABLE" in said
        code, said = await dne("status", extra={"GRPC_TLS_CA_FILE": str(engine_cert.ca)})
        assert code == 2 and "go together" in said
