"""What the stand-in does with the next requests: a per-test switch.

Python API: `control.set(outcome="never_confirm", latency_ms=200)`, `control.reset()`.
HTTP: GET /_control answers the behaviour; POST /_control with a JSON object of the same
fields changes it; DELETE /_control resets it.

- outcome of each received transaction:
  confirm          preflight passes, the signature is confirmed at once, its effect applied;
  fail_simulation  simulateTransaction answers `error` and `logs`; sendTransaction with
                   preflight refuses it with JSON-RPC -32002 as a real node does;
  never_confirm    accepted, a signature answered, its status stays null forever;
  fail_on_chain    accepted and confirmed with `error` as the status' err (skipPreflight path).
- only_venue_program: the outcome applies only to transactions of the venue's program (the swap
  leg confirms): how tests make one leg of a two-leg trade fail.
- latency_ms: every RPC request (HTTP and WebSocket messages) waits this long first.
- drop: RPC method names whose requests get the connection closed without an answer; "*" is
  every request.
- fail_methods: RPC method names answered with JSON-RPC error -32005 "Node is behind", as a
  lagging node answers; "*" is every method.

POST /_control/land {"signature": "..."} (or {} for all) lands transactions held by
never_confirm, as a confirmation that comes late; one whose blockhash expired never lands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aiohttp import web
from solders.pubkey import Pubkey

from services.venue_sim.market_switches import apply_funding, set_oracle

if TYPE_CHECKING:
    from services.venue_sim.venue import Venue

OUTCOMES = ("confirm", "fail_simulation", "never_confirm", "fail_on_chain")
# Drift's first custom error (6000, InvalidSpotMarketAuthority) is a stand-in default; tests
# pass the error they mean, e.g. ExchangePaused.
DEFAULT_ERROR: dict[str, Any] = {"InstructionError": [0, {"Custom": 6000}]}
MAX_LATENCY_MS = 120_000


class ControlError(ValueError):
    """A behaviour that cannot be applied; the message says which field and why."""


def default_logs(program_id: Pubkey) -> tuple[str, ...]:
    """The program's failure logs for DEFAULT_ERROR, naming the venue's own program."""
    return (
        f"Program {program_id} invoke [1]",
        "Program log: Error: stand-in simulation failure",
        f"Program {program_id} failed: custom program error: 0x1770",
    )


@dataclass(frozen=True)
class Behaviour:
    outcome: str = "confirm"
    error: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ERROR))
    logs: tuple[str, ...] = ()
    latency_ms: int = 0
    drop: frozenset[str] = frozenset()
    fail_methods: frozenset[str] = frozenset()
    # True: the outcome applies only to transactions with a venue-program instruction, so a
    # swap (the spot leg) confirms while the perp leg fails: a leg failure.
    only_venue_program: bool = False

    def outcome_for(self, tx: Any) -> str:
        if self.only_venue_program and not tx.drift_instructions():
            return "confirm"
        return self.outcome

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["logs"] = list(self.logs)
        data["drop"] = sorted(self.drop)
        data["fail_methods"] = sorted(self.fail_methods)
        return data

    def drops(self, method: str) -> bool:
        return "*" in self.drop or method in self.drop

    def fails(self, method: str) -> bool:
        return "*" in self.fail_methods or method in self.fail_methods


def _checked(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(Behaviour.__dataclass_fields__)
    if unknown:
        raise ControlError(f"unknown fields: {', '.join(sorted(unknown))}")
    checked = dict(changes)
    if "outcome" in checked and checked["outcome"] not in OUTCOMES:
        raise ControlError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if "only_venue_program" in checked and not isinstance(checked["only_venue_program"], bool):
        raise ControlError("only_venue_program must be true or false")
    if "latency_ms" in checked:
        latency = checked["latency_ms"]
        if not isinstance(latency, int) or isinstance(latency, bool) \
                or not 0 <= latency <= MAX_LATENCY_MS:
            raise ControlError(f"latency_ms must be an integer in 0..{MAX_LATENCY_MS}")
    if "error" in checked and not isinstance(checked["error"], dict | str):
        raise ControlError("error must be a JSON object like {'InstructionError': [0, ...]}")
    if "logs" in checked:
        if not isinstance(checked["logs"], list | tuple) \
                or not all(isinstance(line, str) for line in checked["logs"]):
            raise ControlError("logs must be a list of strings")
        checked["logs"] = tuple(checked["logs"])
    for name in ("drop", "fail_methods"):
        if name in checked:
            checked[name] = _method_names(name, checked[name])
    return checked


def _method_names(name: str, value: Any) -> frozenset[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple | set | frozenset) \
            or not all(isinstance(method, str) for method in names):
        raise ControlError(f"{name} must be a list of RPC method names, or '*'")
    return frozenset(names)


class Control:
    def __init__(self, program_id: Pubkey) -> None:
        self._initial = Behaviour(logs=default_logs(program_id))
        self.behaviour = self._initial

    def set(self, **changes: Any) -> Behaviour:
        self.behaviour = replace(self.behaviour, **_checked(changes))
        return self.behaviour

    def reset(self) -> Behaviour:
        self.behaviour = self._initial
        return self.behaviour


# -- HTTP: /_control on the RPC server --------------------------------------------------------

def _refuse(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def add_control_routes(app: web.Application, venue: Venue) -> None:
    async def get_behaviour(request: web.Request) -> web.Response:
        return web.json_response(venue.control.behaviour.to_json())

    async def set_behaviour(request: web.Request) -> web.Response:
        try:
            return web.json_response(venue.control.set(**await _json_object(request)).to_json())
        except ControlError as error:
            return _refuse(str(error))

    async def reset_behaviour(request: web.Request) -> web.Response:
        return web.json_response(venue.control.reset().to_json())

    async def journal(request: web.Request) -> web.Response:
        return web.json_response([entry.to_json() for entry in venue.journal.entries])

    async def clear_journal(request: web.Request) -> web.Response:
        venue.journal.clear()
        return web.json_response([])

    async def manifest(request: web.Request) -> web.Response:
        return web.json_response(venue.store.manifest())

    async def exchange(request: web.Request) -> web.Response:
        try:
            paused = (await _json_object(request)).get("paused")
            if not isinstance(paused, bool):
                raise ControlError("'paused' must be true or false")
        except ControlError as error:
            return _refuse(str(error))
        venue.store.set_exchange_paused(paused)
        return web.json_response({"paused": paused})

    async def perp_market(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            venue.store.set_perp_market_status(int(body["market_index"]), str(body["status"]))
        except (ControlError, KeyError, TypeError, ValueError) as error:
            return _refuse(f"need market_index (served) and status: {error}")
        return web.json_response(body)

    async def wallet(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            owner = Pubkey.from_string(str(body["pubkey"]))
            usdc, lamports = int(body.get("usdc", 0)), int(body.get("lamports", 0))
            if usdc < 0 or lamports < 0:
                raise ControlError("usdc and lamports are base units, never negative")
        except (ControlError, KeyError, TypeError, ValueError) as error:
            return _refuse(f"need pubkey, usdc and lamports (base units): {error}")
        made = venue.store.fund_wallet(owner, usdc, lamports)
        return web.json_response({"accounts": [str(address) for address in made]})

    async def oracle(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            if "market_index" not in body or "price" not in body:
                raise ControlError("need market_index and price (USD); stale_slots optional")
            answer = set_oracle(venue.store, venue.chain.slot(), body["market_index"],
                                body["price"], body.get("stale_slots", 0))
        except (ControlError, ValueError) as error:
            return _refuse(str(error))
        return web.json_response(answer)

    async def funding(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            if "market_index" not in body or "rate_1h" not in body:
                raise ControlError("need market_index and rate_1h (a fraction per hour)")
            answer = apply_funding(venue.store, body["market_index"], body["rate_1h"])
        except (ControlError, ValueError) as error:
            return _refuse(str(error))
        return web.json_response(answer)

    async def land(request: web.Request) -> web.Response:
        try:
            signature = (await _json_object(request)).get("signature", "")
            if not isinstance(signature, str):
                raise ControlError("'signature' must be a string (empty: every held one)")
        except ControlError as error:
            return _refuse(str(error))
        return web.json_response({"landed": venue.land_held(signature)})

    app.router.add_post("/_control/land", land)
    app.router.add_post("/_control/oracle", oracle)
    app.router.add_post("/_control/funding", funding)
    app.router.add_get("/_control", get_behaviour)
    app.router.add_post("/_control", set_behaviour)
    app.router.add_delete("/_control", reset_behaviour)
    app.router.add_get("/_control/journal", journal)
    app.router.add_delete("/_control/journal", clear_journal)
    app.router.add_get("/_control/manifest", manifest)
    app.router.add_post("/_control/exchange", exchange)
    app.router.add_post("/_control/perp_market", perp_market)
    app.router.add_post("/_control/wallet", wallet)
