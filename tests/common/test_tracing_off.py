"""Without an OTLP endpoint nothing traces: no interceptor joins a gRPC call and spans are
non-recording (they cost about 0.2 ms a side per call when recorded for nobody). With one,
both ends trace. Each case in a fresh interpreter: the provider is set once per process."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from opentelemetry import trace
from services.common.telemetry import client_interceptors, server_interceptors, setup_tracing
setup_tracing("probe", sys.argv[1] or None)
setup_tracing("probe", "http://127.0.0.1:9")  # a second call changes nothing
span = trace.get_tracer("probe").start_span("x")
print(json.dumps({"server": len(server_interceptors()), "client": len(client_interceptors()),
                  "recording": span.is_recording()}))
"""


def probe(endpoint: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, endpoint], capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_an_endpoint_no_interceptor_joins_and_spans_record_nothing() -> None:
    assert probe("") == {"server": 0, "client": 0, "recording": False}


def test_with_an_endpoint_both_ends_trace() -> None:
    found = probe("http://127.0.0.1:4317")
    assert found["server"] == 1 and found["client"] >= 1 and found["recording"] is True
