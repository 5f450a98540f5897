"""`python -m services.executor`: the venue service (paper or live driver, EXECUTOR_DRIVER)."""

from __future__ import annotations

import asyncio
import sys

from services.common.grpc_server import run_service
from services.executor.app import DriverUnavailableError, ExecutorApp
from services.executor.settings import ExecutorSettings


def main() -> int:
    settings = ExecutorSettings()
    try:
        app = ExecutorApp(settings)
    except DriverUnavailableError as error:
        print(f"executor: {error}", file=sys.stderr)
        return 2
    asyncio.run(run_service("executor", settings, app.register,
                            on_start=app.start, on_stop=app.stop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
