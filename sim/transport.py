"""The in-process transport: one Link per (caller, service) that looks like the generated stub
and forwards each call to the service's current servicer, through the fault the plan draws.

Every link call gets the next sequence number; faults, pauses and crashes are keyed on it (and
on the op that made the call), never on time. Requests and replies cross as bytes, as on the
wire, so neither side can touch the other's objects."""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from sim import faults
from sim.faults import Fault, FaultPlan

# Which schedule op a task works for: pauses and cancellations aim at "the n-th call of op X".
CURRENT_OP: contextvars.ContextVar[str] = contextvars.ContextVar("sim_op", default="")


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class FakeContext:
    """The servicer side of a call: abort raises the status the caller then receives."""

    async def abort(self, code: grpc.StatusCode, details: str = "",
                    trailing_metadata: Any = ()) -> None:
        raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(),
                                   grpc.aio.Metadata(*tuple(trailing_metadata)), details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def invocation_metadata(self) -> tuple[()]:
        return ()


class Service(Protocol):
    """A process that serves calls: it can be down, and comes back after its downtime."""

    name: str
    up: bool
    downtime_calls: int
    servicer: Any

    async def crash(self, downtime_calls: int) -> None: ...

    async def restart(self) -> None: ...


class Caller(Protocol):
    """One life of a calling process; a crash ends it and freezes every call it makes."""

    name: str
    alive: bool

    def crash(self) -> None: ...


@dataclass
class Breakpoint:
    """Parks the n-th link call of one op (before or after delivery) until released."""

    op: str
    nth: int
    after_delivery: bool
    hit: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)


Observer = Callable[[Service, str, Any, Callable[[], Awaitable[Any]]], Awaitable[Any]]


class Network:
    def __init__(self, plan: FaultPlan, trace: list[str], advance_clock: Callable[[float], None],
                 observe: Observer | None = None) -> None:
        self.plan = plan
        self.trace = trace
        self._advance_clock = advance_clock
        self._observe = observe
        self.sequence = 0
        self.calls_by_op: Counter[str] = Counter()
        self.breakpoint: Breakpoint | None = None
        self.frozen: set[asyncio.Task[Any]] = set()
        self.tearing_down = False

    def link(self, caller: Caller, callee: Service) -> Link:
        return Link(self, caller, callee)

    async def freeze(self) -> None:
        """A crashed process's call never returns: the task waits here until torn down."""
        if self.tearing_down:
            raise asyncio.CancelledError
        task = asyncio.current_task()
        assert task is not None
        self.frozen.add(task)
        await asyncio.get_running_loop().create_future()

    async def call(self, link: Link, method: str, request: Any) -> Any:
        caller, callee = link.caller, link.callee
        if not caller.alive:
            await self.freeze()
        self.sequence += 1
        op = CURRENT_OP.get()
        self.calls_by_op[op] += 1
        name = f"#{self.sequence} {caller.name}->{callee.name}.{method}"
        fault = self.plan.decide(self.sequence)
        point = self._breakpoint_for(op)
        if point is not None and not point.after_delivery:
            await self._park(point, caller, name)
        if not callee.up:
            if callee.downtime_calls > 0:
                callee.downtime_calls -= 1
                self.plan.count("down")
                self.trace.append(f"  {name} [{callee.name} down]")
                raise rpc_error(grpc.StatusCode.UNAVAILABLE, f"{callee.name} is down")
            await callee.restart()
            self.trace.append(f"  {callee.name} restarted")
        if fault is not None:
            self.plan.count(_count_key(fault, callee))
        self.trace.append(f"  {name}" + (f" [{fault.describe()}]" if fault else ""))
        await self._before_delivery(fault, caller, callee)
        reply = await self._deliver(callee, method, request)
        if fault is not None and fault.kind == faults.DUPLICATE:
            second = await self._deliver(callee, method, request)
            reply = second if fault.answer_second else reply
        if point is not None and point.after_delivery:
            await self._park(point, caller, name)
        await self._after_delivery(fault, caller, callee)
        return reply

    async def _before_delivery(self, fault: Fault | None, caller: Caller, callee: Service) -> None:
        if fault is None:
            return
        if fault.kind == faults.DROP:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "sim: request dropped")
        if fault.kind == faults.DELAY:
            self._advance_clock(fault.delay_seconds)
            for _ in range(fault.yields):
                await asyncio.sleep(0)
        if not fault.after_delivery:
            await self._crash(fault, caller, callee)

    async def _after_delivery(self, fault: Fault | None, caller: Caller, callee: Service) -> None:
        if fault is None:
            return
        if fault.kind == faults.LOSE_REPLY:
            code = (grpc.StatusCode.DEADLINE_EXCEEDED if fault.deadline
                    else grpc.StatusCode.UNAVAILABLE)
            raise rpc_error(code, "sim: reply lost")
        if fault.after_delivery:
            await self._crash(fault, caller, callee)

    async def _crash(self, fault: Fault, caller: Caller, callee: Service) -> None:
        if fault.kind == faults.CRASH_CALLEE:
            await callee.crash(fault.downtime_calls)
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, f"sim: {callee.name} crashed")
        if fault.kind == faults.CRASH_ENGINE:
            caller.crash()
            await self.freeze()

    async def _deliver(self, callee: Service, method: str, request: Any) -> Any:
        wire = type(request).FromString(request.SerializeToString())

        async def handle() -> Any:
            return await getattr(callee.servicer, method)(wire, FakeContext())

        reply = await (self._observe(callee, method, wire, handle) if self._observe
                       else handle())
        return type(reply).FromString(reply.SerializeToString())

    def _breakpoint_for(self, op: str) -> Breakpoint | None:
        point = self.breakpoint
        if point is None or point.hit or point.op != op or self.calls_by_op[op] != point.nth:
            return None
        return point

    async def _park(self, point: Breakpoint, caller: Caller, name: str) -> None:
        point.hit = True
        self.trace.append(f"  {name} [paused {'after' if point.after_delivery else 'before'} "
                          "delivery]")
        await point.release.wait()
        if not caller.alive:
            await self.freeze()


def _count_key(fault: Fault, callee: Service) -> str:
    if fault.kind == faults.CRASH_CALLEE:
        return f"crash_{callee.name}"
    return fault.kind


class Link:
    """Looks like a generated stub: `await link.Method(request, timeout=..., ...)`."""

    def __init__(self, network: Network, caller: Caller, callee: Service) -> None:
        self.network = network
        self.caller = caller
        self.callee = callee

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("_"):
            raise AttributeError(method)

        async def call(request: Any, timeout: float | None = None,
                       wait_for_ready: bool | None = None, **_: Any) -> Any:
            return await self.network.call(self, method, request)

        return call
