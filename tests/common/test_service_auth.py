"""Issue 11: the bearer-token interceptor (services/common/service_auth.py) over real gRPC, with
fuzzed authorization metadata; and the token settings, which refuse what they cannot use without
ever quoting it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.service_auth import (
    TokenError,
    load_service_token,
    read_token_file,
    service_token_guard,
    write_token_file,
)

TOKEN = "the-right-service-token-0123456789"
WRITE = "/test.Ledger/Write"
WATCH = "/test.Ledger/Watch"


@dataclass
class Ledger:
    """A service that records every call its handlers actually ran."""

    ran: list[bytes] = field(default_factory=list)

    async def write(self, request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
        self.ran.append(request)
        return b"written"

    async def watch(self, request: bytes, _context: grpc.aio.ServicerContext):  # type: ignore[no-untyped-def]
        self.ran.append(request)
        yield b"event"


@dataclass
class Served:
    address: str
    ledger: Ledger


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The guarded server on its own loop in a thread, so sync clients (and hypothesis) call it."""
    ledger = Ledger()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, object] = {}
    stop = asyncio.Event()

    async def serve() -> None:
        server = grpc.aio.server(interceptors=[service_token_guard(TOKEN)])
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Ledger", {
            "Write": grpc.unary_unary_rpc_method_handler(ledger.write),
            "Watch": grpc.unary_stream_rpc_method_handler(ledger.watch),
        })])
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        state["port"] = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        ready.set()
        await stop.wait()
        await server.stop(0)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield Served(f"127.0.0.1:{state['port']}", ledger)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def call(served: Served, metadata: list[tuple[str, str]] | None, method: str = WRITE,
         payload: bytes = b"order") -> grpc.StatusCode:
    with grpc.insecure_channel(served.address) as channel:
        try:
            if method == WATCH:
                list(channel.unary_stream(method)(payload, metadata=metadata, timeout=5))
            else:
                channel.unary_unary(method)(payload, metadata=metadata, timeout=5)
        except grpc.RpcError as error:
            assert TOKEN not in (error.details() or "")
            return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("metadata", [
    None,
    [("authorization", "Bearer wrong-token-0123456789")],
    [("authorization", f"Basic {TOKEN}")],
    [("authorization", TOKEN)],
    [("authorization", "Bearer ")],
    [("authorization", f"Bearer {TOKEN[:-1]}")],
    [("authorization", f"Bearer {TOKEN}x")],
    [("x-authorization", f"Bearer {TOKEN}")],
    [("dne-service-token", TOKEN)],
], ids=["none", "wrong", "basic-scheme", "no-scheme", "empty", "prefix", "longer",
        "other-key", "unknown-key"])
@pytest.mark.parametrize("method", [WRITE, WATCH], ids=["unary", "stream"])
def test_a_call_without_the_token_is_refused_unauthenticated_and_never_runs(
    served: Served, metadata: list[tuple[str, str]] | None, method: str,
) -> None:
    before = len(served.ledger.ran)
    assert call(served, metadata, method, b"intruder") == grpc.StatusCode.UNAUTHENTICATED
    assert len(served.ledger.ran) == before


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN} "])
def test_the_token_as_a_bearer_credential_runs_the_call(served: Served, header: str) -> None:
    assert call(served, [("authorization", header)]) == grpc.StatusCode.OK
    assert call(served, [("authorization", header)], WATCH) == grpc.StatusCode.OK
    assert served.ledger.ran[-2:] == [b"order", b"order"]


def test_the_refusal_says_how_to_send_the_token(served: Served) -> None:
    with grpc.insecure_channel(served.address) as channel, pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(WRITE)(b"x", metadata=[("authorization", "Bearer nope-123456789")])
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization: Bearer <token>" in raised.value.details()
    assert "nope-123456789" not in raised.value.details()


def test_the_health_service_answers_without_a_token(served: Served) -> None:
    with grpc.insecure_channel(served.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(
    st.text(PRINTABLE, max_size=200),
    st.text(PRINTABLE, max_size=200).map(lambda text: f"Bearer {text}"),
    st.integers(1_000, 7_000).map(lambda size: "Bearer " + "A" * size),
    st.just(f"Bearer {TOKEN} {TOKEN}"),
    st.just(f"Bearer  {TOKEN}  "),
), key=st.sampled_from(["authorization", "Authorization"]))
def test_fuzzed_authorization_metadata_is_refused_and_never_crashes_the_server(
    served: Served, value: str, key: str,
) -> None:
    before = len(served.ledger.ran)
    code = call(served, [(key.lower(), value)], payload=b"fuzz")
    parts = value.split()
    if len(parts) == 2 and parts[0].lower() == "bearer" and parts[1] == TOKEN:
        assert code == grpc.StatusCode.OK   # whitespace around the token is not a secret
    else:
        assert code == grpc.StatusCode.UNAUTHENTICATED, value
    assert len(served.ledger.ran) == before + (code == grpc.StatusCode.OK)


def test_metadata_larger_than_grpc_accepts_is_refused_before_the_service_and_it_goes_on(
    served: Served,
) -> None:
    before = len(served.ledger.ran)
    code = call(served, [("authorization", "Bearer " + "A" * 20_000)])
    assert code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED,
                    grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE)
    assert len(served.ledger.ran) == before
    assert call(served, [("authorization", f"Bearer {TOKEN}")]) == grpc.StatusCode.OK


# --- the settings ----------------------------------------------------------------------------

@dataclass
class Settings:
    service_token: str | None = None
    service_token_file: Path | None = None


def test_the_token_comes_from_its_file_or_its_variable(tmp_path: Path) -> None:
    path = write_token_file(tmp_path / "secrets" / "token", TOKEN + "\n")
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_service_token(Settings(service_token_file=path)) == TOKEN
    assert load_service_token(Settings(service_token=f" {TOKEN} ")) == TOKEN


@pytest.mark.parametrize(("settings_", "says"), [
    (Settings(), r"SERVICE_TOKEN_FILE \(or SERVICE_TOKEN\) is not set"),
    (Settings(service_token="short-one"), "at least 16 characters"),
    (Settings(service_token="has a space in it 0123"), "printable ASCII without spaces"),
    (Settings(service_token=TOKEN, service_token_file=Path("/x")), "set only one"),
    (Settings(service_token_file=Path("/nonexistent/token")), "cannot read"),
], ids=["unset", "short", "spaces", "both", "missing-file"])
def test_an_unusable_token_setting_is_refused_without_quoting_it(
    settings_: Settings, says: str,
) -> None:
    with pytest.raises(TokenError, match=says) as raised:
        load_service_token(settings_)
    assert "short-one" not in str(raised.value) and TOKEN not in str(raised.value)


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = write_token_file(tmp_path / "token", TOKEN)
    path.chmod(0o644)
    with pytest.raises(TokenError, match="readable or writable by others"):
        read_token_file(path, "SERVICE_TOKEN_FILE")
    path.chmod(0o440)   # a Secret volume with the pod's fsGroup
    assert read_token_file(path, "SERVICE_TOKEN_FILE") == TOKEN
