"""`python -m services.executor`: the venue service (paper or live driver, EXECUTOR_DRIVER)."""

from __future__ import annotations

import asyncio
import sys

from services.common.grpc_server import run_service
from services.common.logs import register_secret
from services.common.service_auth import TokenError, load_service_token, service_token_guard
from services.executor.app import DriverUnavailableError, ExecutorApp
from services.executor.settings import ExecutorSettings


def main() -> int:
    settings = ExecutorSettings()
    try:
        app = ExecutorApp(settings)
        token = load_service_token(settings)
    except (TokenError, DriverUnavailableError) as error:
        print(f"executor: {error}", file=sys.stderr)
        return 2
    register_secret(token)
    # Only the engine holds the token: no other process can trade past its safety gates.
    asyncio.run(run_service("executor", settings, app.register, on_start=app.start,
                            on_stop=app.stop, guard=service_token_guard(token)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
