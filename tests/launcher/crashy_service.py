"""A stand-in service that crashes on cue, so the supervisor's backoff is tested in seconds.

`python -m tests.launcher.crashy_service` binds PORT, serves gRPC health as SERVING, prints the
listening line the launcher reads, and counts its starts in CRASHY_STARTS_FILE. The first
CRASHY_CRASHES starts (-1: every start) exit with code 3 after CRASHY_UP_SEC seconds up.
SIGTERM stops it cleanly (exit code 0), as a real service.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

CRASH_EXIT_CODE = 3


def count_start(path: Path) -> int:
    starts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(starts))
    return starts


async def main() -> int:
    starts = count_start(Path(os.environ["CRASHY_STARTS_FILE"]))
    crashes = int(os.environ.get("CRASHY_CRASHES", "0"))
    server = grpc.aio.server()
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"127.0.0.1:{os.environ.get('PORT', '0')}")
    if port == 0:
        print(f"cannot bind port {os.environ.get('PORT')}", file=sys.stderr)
        return 2
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    print(f"crashy listening on 127.0.0.1:{port}", flush=True)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    if crashes < 0 or starts <= crashes:
        await asyncio.sleep(float(os.environ.get("CRASHY_UP_SEC", "0.2")))
        if not stop.is_set():
            os._exit(CRASH_EXIT_CODE)  # a crash: no clean-up
    await stop.wait()
    await server.stop(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
