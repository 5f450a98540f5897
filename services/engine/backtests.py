"""BacktestService: each backtest runs in a worker process (services/backtest/worker.py), so the
engine's trading loop never waits for one; its progress and report are streamed back, and a
cancelled call kills the worker. One at a time per engine (a backtest takes a core)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator

import grpc
from google.protobuf.json_format import MessageToDict

from dne.backtest.v1 import backtest_pb2 as B
from dne.backtest.v1 import backtest_pb2_grpc
from services.common.errors import ERROR_CODE_METADATA

log = logging.getLogger(__name__)

# A year's ledger is a few MB of JSON on one line.
LINE_LIMIT = 64 * 1024 * 1024
_STATUS = {"INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
           "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION}


class BacktestServicer(backtest_pb2_grpc.BacktestServiceServicer):
    def __init__(self, concurrent: int = 1) -> None:
        self._slots = asyncio.Semaphore(concurrent)

    async def RunBacktest(
        self, request: B.RunBacktestRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[B.RunBacktestResponse]:
        if self._slots.locked():
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, "BACKTEST_BUSY",
                         "a backtest is already running on this engine; try again when it ends")
        failure: tuple[grpc.StatusCode, str, str] | None = None
        async with self._slots:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.backtest.worker",
                # Its stderr is the engine's: a worker's traceback lands in the engine's log.
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT)
            try:
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write(json.dumps(
                    MessageToDict(request, preserving_proto_field_name=True)).encode())
                worker.stdin.close()
                failure = ((grpc.StatusCode.INTERNAL, "INTERNAL",
                            "the backtest worker ended without a report; see the engine's log"))
                async for line in worker.stdout:
                    message = json.loads(line)
                    if "progress" in message:
                        done, total = message["progress"]
                        yield B.RunBacktestResponse(progress=B.BacktestProgress(
                            hours_done=done, hours_total=total))
                    elif "report" in message:
                        yield B.RunBacktestResponse(report_json=json.dumps(message["report"]))
                        failure = None
                        break
                    elif "error" in message:
                        error = message["error"]
                        failure = (_STATUS.get(error["code"], grpc.StatusCode.INTERNAL),
                                   error["code"], error["message"])
                        break
            finally:
                if worker.returncode is None:
                    worker.kill()   # the caller went away, or the answer is complete
                await worker.wait()
            if failure is not None and failure[1] == "INTERNAL":
                log.error("backtest worker ended without a report",
                          extra={"exit_code": worker.returncode})
        # After the slot is free: a caller retrying at once finds it free.
        if failure is not None:
            await _abort(context, *failure)


async def _abort(context: grpc.aio.ServicerContext, status: grpc.StatusCode, code: str,
                 message: str) -> None:
    await context.abort(status, message, trailing_metadata=((ERROR_CODE_METADATA, code),))
