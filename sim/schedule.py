"""One seed -> one schedule: the ops a user, the clock, the market and the operator perform,
with the network's roughness. Pure: drawing a schedule touches nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from sim.faults import INTENSITIES

HEDGE = "SOL-PERP"


@dataclass(frozen=True)
class Command:
    """An EngineService call, made through the engine's servicer like the gateway does."""

    method: str                      # "OpenPosition", "Swap", ...
    request_id: str
    # ("confirmed", True): the user confirms the engine's quote when it asks for one (the
    # flag itself confirms nothing: world.py sends the quote's id back).
    fields: tuple[tuple[str, object], ...] = ()
    role: str = "user"               # "hedge_entry", "hedge_exit": legs the checks follow

    def describe(self) -> str:
        args = " ".join(f"{key}={value}" for key, value in self.fields if key != "confirmed")
        return f"{self.method}({self.request_id}{' ' + args if args else ''})"


@dataclass(frozen=True)
class Tick:
    def describe(self) -> str:
        return "tick"


@dataclass(frozen=True)
class MovePrice:
    market: str
    percent: Decimal

    def describe(self) -> str:
        return f"price {self.market} {self.percent:+}%"


@dataclass(frozen=True)
class AdvanceClock:
    seconds: int

    def describe(self) -> str:
        return f"clock +{self.seconds}s"


@dataclass(frozen=True)
class SetFunding:
    market: str
    rate_1h: Decimal

    def describe(self) -> str:
        return f"funding {self.market} {self.rate_1h}/h"


@dataclass(frozen=True)
class Crash:
    process: str                     # "engine", "executor", "vault"
    downtime_calls: int = 0

    def describe(self) -> str:
        return f"crash {self.process}" + (f" (down {self.downtime_calls} calls)"
                                          if self.process != "engine" else "")


@dataclass(frozen=True)
class VenueFails:
    count: int

    def describe(self) -> str:
        return f"venue fails next {self.count} order(s)"


Simple = Command | Tick | MovePrice | AdvanceClock | SetFunding | Crash | VenueFails


@dataclass(frozen=True)
class Interleave:
    """`first` pauses at its n-th link call; `second` runs meanwhile; then `first` goes on."""

    first: Command | Tick
    second: Simple
    at_call: int
    after_delivery: bool

    def describe(self) -> str:
        where = "after" if self.after_delivery else "before"
        return (f"interleave [{self.first.describe()}] paused {where} its call "
                f"{self.at_call}, meanwhile [{self.second.describe()}]")


@dataclass(frozen=True)
class CancelMidCall:
    """The gateway's deadline: the handler's task is cancelled at its n-th link call."""

    command: Command
    at_call: int
    after_delivery: bool

    def describe(self) -> str:
        where = "after" if self.after_delivery else "before"
        return f"cancel [{self.command.describe()}] {where} its call {self.at_call}"


Op = Simple | Interleave | CancelMidCall


FUNDINGS = (1500, 2000, 3000)  # USDC deposited before a schedule starts


@dataclass(frozen=True)
class Schedule:
    seed: int
    intensity: float
    ops: tuple[Op, ...]
    funded_usdc: int = FUNDINGS[0]  # the account a schedule starts from (a saved snapshot)
    prologue: tuple[Op, ...] = field(default=())  # run without faults

    def describe(self) -> list[str]:
        lines = [f"seed {self.seed}: fault intensity {self.intensity:g} per call, "
                 f"{len(self.ops)} ops, from an account funded with {self.funded_usdc} USDC"]
        lines += [f"  prologue: {op.describe()}" for op in self.prologue]
        lines += [f"  {index:2}. {op.describe()}" for index, op in enumerate(self.ops, 1)]
        return lines


def draw(seed: int) -> Schedule:
    return _Drawer(seed).schedule()


class _Drawer:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - reproducibility, not secrecy
        self.commands: list[Command] = []
        self.count = 0

    def schedule(self) -> Schedule:
        rng = self.rng
        # Some schedules start on a day when SOL longs receive funding (the user's own long
        # passes the profit gate there); the others when shorts do (the carry's side).
        rate = Decimal("-0.0001") if rng.random() < 0.3 else Decimal("0.0001")
        funded = rng.choice(FUNDINGS)
        prologue = (SetFunding(HEDGE, rate), self._command("StartEngine", mode="paper"))
        ops = tuple(self._op() for _ in range(rng.randint(5, 15)))
        return Schedule(self.seed, rng.choice(INTENSITIES), ops, funded, prologue)

    def _request_id(self) -> str:
        self.count += 1
        return f"s{self.seed}-c{self.count}"

    def _command(self, method: str, role: str = "user", **fields: object) -> Command:
        command = Command(method, self._request_id(), tuple(fields.items()), role)
        if method not in ("StartEngine", "StopEngine"):
            self.commands.append(command)
        return command

    def _size(self, low: str, high: str) -> str:
        lo, hi = Decimal(low), Decimal(high)
        steps = int((hi - lo) / Decimal("0.1"))
        return str(lo + Decimal("0.1") * self.rng.randint(0, steps))

    def _user_command(self) -> Command:
        rng = self.rng
        choice = rng.choices(
            ("hedge", "long", "other", "close_unwind", "close_keep", "close_other", "swap",
             "deposit", "retry", "stop", "start"),
            (14, 4, 3, 7, 4, 2, 6, 3, 5, 2, 2))[0]
        if choice == "retry" and self.commands:
            return rng.choice(self.commands)  # the same request id again: a client's retry
        if choice == "hedge":
            return self._command("OpenPosition", "hedge_entry", market=HEDGE, direction="short",
                                 size=self._size("0.5", "4"), confirmed=True)
        if choice == "long":
            return self._command("OpenPosition", market=HEDGE, direction="long",
                                 size=self._size("0.5", "2"), confirmed=True)
        if choice == "other":
            market, direction, size = rng.choice((("BTC-PERP", "short", "0.01"),
                                                  ("ETH-PERP", "long", "0.2")))
            return self._command("OpenPosition", market=market, direction=direction, size=size,
                                 confirmed=True)
        if choice in ("close_unwind", "close_keep"):
            unwind = choice == "close_unwind"
            return self._command("ClosePosition", "hedge_exit" if unwind else "user",
                                 market=HEDGE, unwind_spot=unwind, confirmed=True)
        if choice == "close_other":
            return self._command("ClosePosition", market=rng.choice(("BTC-PERP", "ETH-PERP")),
                                 confirmed=True)
        if choice == "swap":
            return self._command("Swap", direction=rng.choice(("buy", "sell")),
                                 size=self._size("0.1", "1.5"), confirmed=True)
        if choice == "stop":
            return self._command("StopEngine")
        if choice == "start":
            return self._command("StartEngine", mode="paper")
        return self._command("Deposit", amount=str(rng.choice((200, 500, 1000))))

    def _simple(self) -> Simple:
        rng = self.rng
        choice = rng.choices(
            ("command", "tick", "price", "clock", "funding", "crash", "venue_fails"),
            (40, 14, 4, 6, 4, 6, 4))[0]
        if choice == "command":
            return self._user_command()
        if choice == "tick":
            return Tick()
        if choice == "price":
            return MovePrice(HEDGE, Decimal(rng.choice((-10, -5, -2, 2, 5, 10))))
        if choice == "clock":
            return AdvanceClock(rng.choice((60, 600, 1900, 3600, 7200)))
        if choice == "funding":
            # Negative: SOL longs receive (the user's own long passes the profit gate).
            return SetFunding(HEDGE, Decimal(rng.choice(("0.0001", "-0.0001"))))
        if choice == "crash":
            return Crash(rng.choice(("engine", "executor", "vault")), rng.randint(0, 4))
        return VenueFails(rng.randint(1, 2))

    def _op(self) -> Op:
        rng = self.rng
        kind = rng.choices(("simple", "interleave", "cancel"), (78, 12, 10))[0]
        if kind == "interleave":
            first = self._user_command() if rng.random() < 0.7 else Tick()
            if isinstance(first, Command) and first.method in ("StartEngine", "StopEngine"):
                first = Tick()
            return Interleave(first, self._simple(), rng.randint(1, 12), rng.random() < 0.5)
        if kind == "cancel":
            command = self._user_command()
            return CancelMidCall(command, rng.randint(1, 14), rng.random() < 0.5)
        return self._simple()
