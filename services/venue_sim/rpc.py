"""Solana JSON-RPC 2.0 over HTTP (single and batch requests), the methods driftpy and
solana-py call, plus the accountSubscribe WebSocket driftpy's "websocket" subscription opens.

Shapes follow the Solana RPC docs: results with a context carry {"context": {"slot",
"apiVersion"}, "value": ...}; accounts are {"data": [b64, "base64"], "executable", "lamports",
"owner", "rentEpoch", "space"}. driftpy's BulkAccountLoader posts batches of
getMultipleAccounts, and its find-all helper posts getProgramAccounts with a gzip
Content-Encoding header over a plain body: the body is read raw, never decompressed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import base58
from aiohttp import WSCloseCode, WSMsgType, web
from solders.pubkey import Pubkey

from services.venue_sim.accounts import ServedAccount
from services.venue_sim.control import add_control_routes
from services.venue_sim.synthetic import mint_decimals, token_amount
from services.venue_sim.venue import Refusal, Venue

logger = logging.getLogger(__name__)
API_VERSION = "2.1.21"
RENT_EPOCH = 18_446_744_073_709_551_615  # what current nodes report for rent-exempt accounts
FEE_LAMPORTS_PER_SIGNATURE = 5_000
NODE_BEHIND = -32005  # what a lagging node answers (control: fail_methods)
SLOTS_BEHIND = 42
Handler = Callable[[Venue, list[Any]], Awaitable[Any]]
VENUE = web.AppKey("venue", Venue)
SOCKETS = web.AppKey("sockets", weakref.WeakSet)


class Dropped(Exception):
    """The control says: close this connection without answering."""


def _param(params: list[Any], index: int, default: Any = None) -> Any:
    return params[index] if len(params) > index and params[index] is not None else default


def _pubkey(value: Any) -> Pubkey:
    try:
        return Pubkey.from_string(str(value))
    except ValueError:
        raise Refusal(-32602, f"Invalid param: {str(value)[:64]!r} is not a base58 public key")\
            from None


def _context(venue: Venue, value: Any) -> dict[str, Any]:
    return {"context": {"apiVersion": API_VERSION, "slot": venue.chain.slot()}, "value": value}


def account_json(account: ServedAccount, config: dict[str, Any]) -> dict[str, Any]:
    data = account.data
    data_slice = config.get("dataSlice")
    if data_slice:
        offset = int(data_slice.get("offset", 0))
        data = data[offset:offset + int(data_slice.get("length", 0))]
    if config.get("encoding") == "base58":
        encoded = [base58.b58encode(data).decode(), "base58"]
    else:  # base64, and jsonParsed falls back to base64 for program data as real nodes do
        encoded = [base64.b64encode(data).decode(), "base64"]
    return {"data": encoded, "executable": account.executable, "lamports": account.balance(),
            "owner": str(account.owner), "rentEpoch": RENT_EPOCH, "space": len(account.data)}


def _matches(account: ServedAccount, filters: list[Any]) -> bool:
    for item in filters:
        if "dataSize" in item:
            if len(account.data) != int(item["dataSize"]):
                return False
        elif "memcmp" in item:
            memcmp = item["memcmp"]
            wanted = memcmp["bytes"]
            raw = base64.b64decode(wanted) if memcmp.get("encoding") == "base64" \
                else base58.b58decode(wanted)
            offset = int(memcmp.get("offset", 0))
            if account.data[offset:offset + len(raw)] != raw:
                return False
        else:
            raise Refusal(-32602, f"Invalid param: unsupported filter {item}")
    return True


async def get_account_info(venue: Venue, params: list[Any]) -> Any:
    account = venue.store.get(_pubkey(_param(params, 0)))
    config = _param(params, 1, {})
    return _context(venue, account_json(account, config) if account else None)


async def get_multiple_accounts(venue: Venue, params: list[Any]) -> Any:
    config = _param(params, 1, {})
    addresses = _param(params, 0, [])
    if len(addresses) > 100:
        raise Refusal(-32602, "Too many inputs provided; max 100")
    accounts = [venue.store.get(_pubkey(address)) for address in addresses]
    return _context(venue, [account_json(a, config) if a else None for a in accounts])


async def get_program_accounts(venue: Venue, params: list[Any]) -> Any:
    program, config = _pubkey(_param(params, 0)), _param(params, 1, {})
    filters = config.get("filters") or []
    for item in filters:  # refused even when no account would reach the filter
        if not isinstance(item, dict) or not ({"dataSize", "memcmp"} & set(item)):
            raise Refusal(-32602, f"Invalid param: unsupported filter {str(item)[:80]}")
    found = [
        {"pubkey": str(account.address), "account": account_json(account, config)}
        for account in venue.store.owned_by(program) if _matches(account, filters)
    ]
    return _context(venue, found) if config.get("withContext") else found


async def get_balance(venue: Venue, params: list[Any]) -> Any:
    account = venue.store.get(_pubkey(_param(params, 0)))
    return _context(venue, account.balance() if account else 0)


async def get_token_account_balance(venue: Venue, params: list[Any]) -> Any:
    address = _pubkey(_param(params, 0))
    account = venue.store.get(address)
    if account is None or account.kind != "TokenAccount":
        raise Refusal(-32602, "Invalid param: could not find account")
    amount = token_amount(account.data)
    mint = venue.store.get(Pubkey.from_bytes(account.data[:32]))  # SPL layout: mint first
    decimals = mint_decimals(mint.data) if mint else 0
    ui = amount / 10**decimals
    return _context(venue, {"amount": str(amount), "decimals": decimals, "uiAmount": ui,
                            "uiAmountString": f"{amount / 10**decimals:f}".rstrip("0")
                            .rstrip(".")})


async def get_latest_blockhash(venue: Venue, params: list[Any]) -> Any:
    blockhash, last_valid = venue.chain.latest_blockhash()
    return _context(venue, {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})


async def is_blockhash_valid(venue: Venue, params: list[Any]) -> Any:
    return _context(venue, venue.chain.is_blockhash_valid(str(_param(params, 0, ""))))


async def get_slot(venue: Venue, params: list[Any]) -> Any:
    return venue.chain.slot()


async def get_block_height(venue: Venue, params: list[Any]) -> Any:
    return venue.chain.block_height()


async def get_version(venue: Venue, params: list[Any]) -> Any:
    return {"solana-core": API_VERSION, "feature-set": 3_271_415_109}


async def get_genesis_hash(venue: Venue, params: list[Any]) -> Any:
    return venue.genesis_hash


async def get_health(venue: Venue, params: list[Any]) -> Any:
    return "ok"


async def get_fee_for_message(venue: Venue, params: list[Any]) -> Any:
    return _context(venue, FEE_LAMPORTS_PER_SIGNATURE)


async def get_recent_prioritization_fees(venue: Venue, params: list[Any]) -> Any:
    slot = venue.chain.slot()
    return [{"slot": slot - back, "prioritizationFee": 0} for back in range(5)]


async def get_signature_statuses(venue: Venue, params: list[Any]) -> Any:
    slot = venue.chain.slot()
    answers = []
    for signature in _param(params, 0, []):
        status = venue.statuses.get(str(signature))
        if status is None:
            answers.append(None)
            continue
        answers.append({
            "slot": status.slot, "confirmations": None, "err": status.err,
            "status": {"Ok": None} if status.err is None else {"Err": status.err},
            "confirmationStatus": "finalized" if slot - status.slot > 32 else "confirmed",
        })
    return _context(venue, answers)


def _raw_transaction(params: list[Any]) -> tuple[bytes, dict[str, Any]]:
    encoded, config = _param(params, 0, ""), _param(params, 1, {})
    try:
        if config.get("encoding", "base58") == "base64":
            return base64.b64decode(encoded, validate=True), config
        return base58.b58decode(encoded), config
    except ValueError:
        raise Refusal(-32602, "invalid transaction: failed to decode the encoded bytes")\
            from None


async def simulate_transaction(venue: Venue, params: list[Any]) -> Any:
    raw, _config = _raw_transaction(params)
    result = venue.simulate(raw)
    return _context(venue, {"err": result.err, "logs": result.logs, "accounts": None,
                            "unitsConsumed": result.units_consumed, "returnData": None,
                            "innerInstructions": None})


async def send_transaction(venue: Venue, params: list[Any]) -> Any:
    raw, config = _raw_transaction(params)
    return venue.send(raw, skip_preflight=bool(config.get("skipPreflight", False)))


async def get_transaction(venue: Venue, params: list[Any]) -> Any:
    signature = str(_param(params, 0, ""))
    status = venue.statuses.get(signature)
    entry = next((e for e in venue.journal.sent() if e.transaction.signature == signature), None)
    if status is None or entry is None:
        return None
    return {
        "slot": status.slot, "blockTime": None, "version": 0,
        "transaction": [base64.b64encode(entry.transaction.raw).decode(), "base64"],
        "meta": {"err": status.err, "fee": FEE_LAMPORTS_PER_SIGNATURE, "preBalances": [],
                 "postBalances": [], "logMessages": [], "innerInstructions": [],
                 "preTokenBalances": [], "postTokenBalances": [], "rewards": [],
                 "status": {"Ok": None} if status.err is None else {"Err": status.err},
                 "loadedAddresses": {"writable": [], "readonly": []},
                 "computeUnitsConsumed": 45_000},
    }


METHODS: dict[str, Handler] = {
    "getAccountInfo": get_account_info,
    "getMultipleAccounts": get_multiple_accounts,
    "getProgramAccounts": get_program_accounts,
    "getBalance": get_balance,
    "getTokenAccountBalance": get_token_account_balance,
    "getLatestBlockhash": get_latest_blockhash,
    "isBlockhashValid": is_blockhash_valid,
    "getSlot": get_slot,
    "getBlockHeight": get_block_height,
    "getVersion": get_version,
    "getHealth": get_health,
    "getGenesisHash": get_genesis_hash,
    "getFeeForMessage": get_fee_for_message,
    "getRecentPrioritizationFees": get_recent_prioritization_fees,
    "getSignatureStatuses": get_signature_statuses,
    "simulateTransaction": simulate_transaction,
    "sendTransaction": send_transaction,
    "getTransaction": get_transaction,
}


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": request_id}


async def answer(venue: Venue, request: Any) -> dict[str, Any]:
    """One JSON-RPC request object -> its response object."""
    if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" \
            or not isinstance(request.get("method"), str):
        return _error(request.get("id") if isinstance(request, dict) else None,
                      -32600, "Invalid request")
    request_id, method = request.get("id"), request["method"]
    params = request.get("params") or []
    venue.calls[method] += 1
    handler = METHODS.get(method)
    if handler is None:
        return _error(request_id, -32601, "Method not found")
    if venue.control.behaviour.fails(method):
        return _error(request_id, NODE_BEHIND, f"Node is behind by {SLOTS_BEHIND} slots",
                      {"numSlotsBehind": SLOTS_BEHIND})
    if not isinstance(params, list):
        return _error(request_id, -32602, "Invalid params: expected an array")
    try:
        return {"jsonrpc": "2.0", "result": await handler(venue, params), "id": request_id}
    except Refusal as refusal:
        return _error(request_id, refusal.code, refusal.message, refusal.data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return _error(request_id, -32602, f"Invalid params: {error}")


def _methods_of(document: Any) -> list[str]:
    items = document if isinstance(document, list) else [document]
    return [str(item.get("method")) for item in items if isinstance(item, dict)]


async def _before_answering(venue: Venue, methods: list[str]) -> None:
    behaviour = venue.control.behaviour
    if behaviour.latency_ms:
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if any(behaviour.drops(method) for method in methods):
        raise Dropped


async def _handle_http(request: web.Request) -> web.StreamResponse:
    venue = request.app[VENUE]
    body = await request.read()
    try:
        document = json.loads(body)
    except ValueError:
        return web.json_response(_error(None, -32700, "Parse error"))
    try:
        await _before_answering(venue, _methods_of(document))
    except Dropped:
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError from None
    if isinstance(document, list):
        if not document:
            return web.json_response(_error(None, -32600, "Invalid request"))
        return web.json_response([await answer(venue, item) for item in document])
    return web.json_response(await answer(venue, document))


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def rpc_app(venue: Venue) -> web.Application:
    # auto_decompress is a server setting (see server.py): driftpy's gzip header is a lie.
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[VENUE] = venue
    app.router.add_post("/", _handle_http)
    app.router.add_get("/health", _health)
    add_control_routes(app, venue)
    return app


# -- WebSocket: account and program subscriptions ---------------------------------------

class _Subscriptions:
    """One socket's accountSubscribe and programSubscribe subscriptions."""

    def __init__(self, venue: Venue, socket: web.WebSocketResponse) -> None:
        self.venue, self.socket = venue, socket
        self.accounts: dict[int, tuple[Pubkey, dict[str, Any]]] = {}
        self.programs: dict[int, tuple[Pubkey, dict[str, Any]]] = {}
        self.next_id = 1
        venue.store.listeners.append(self.changed)

    def close(self) -> None:
        if self.changed in self.venue.store.listeners:
            self.venue.store.listeners.remove(self.changed)

    def _notify(self, method: str, subscription: int, value: Any) -> None:
        if self.socket.closed:
            return
        notification = {"jsonrpc": "2.0", "method": method,
                        "params": {"result": _context(self.venue, value),
                                   "subscription": subscription}}
        asyncio.get_running_loop().create_task(self.socket.send_json(notification))

    def changed(self, account: ServedAccount) -> None:
        for subscription, (address, config) in list(self.accounts.items()):
            if address == account.address:
                self._notify("accountNotification", subscription, account_json(account, config))
        for subscription, (program, config) in list(self.programs.items()):
            if account.owner == program and _matches(account, config.get("filters") or []):
                self._notify("programNotification", subscription,
                             {"pubkey": str(account.address),
                              "account": account_json(account, config)})

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request.get("method"), request.get("params") or []
        request_id = request.get("id")
        registry = {"accountSubscribe": self.accounts, "programSubscribe": self.programs}
        self.venue.calls[str(method)] += 1
        if method in registry:
            subscription, self.next_id = self.next_id, self.next_id + 1
            registry[method][subscription] = (_pubkey(_param(params, 0)), _param(params, 1, {}))
            return {"jsonrpc": "2.0", "result": subscription, "id": request_id}
        if method in ("accountUnsubscribe", "programUnsubscribe"):
            table = self.accounts if method == "accountUnsubscribe" else self.programs
            found = table.pop(int(_param(params, 0, -1)), None) is not None
            return {"jsonrpc": "2.0", "result": found, "id": request_id}
        return _error(request_id, -32601, "Method not found")


async def _handle_ws(request: web.Request) -> web.WebSocketResponse:
    venue = request.app[VENUE]
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    request.app[SOCKETS].add(socket)
    subscriptions = _Subscriptions(venue, socket)
    try:
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                document = json.loads(message.data)
            except ValueError:
                await socket.send_json(_error(None, -32700, "Parse error"))
                continue
            try:
                await _before_answering(venue, _methods_of(document))
            except Dropped:
                await socket.close()
                break
            items = document if isinstance(document, list) else [document]
            for item in items:
                try:
                    await socket.send_json(subscriptions.answer(item))
                except Refusal as refusal:
                    await socket.send_json(_error(item.get("id"), refusal.code, refusal.message))
    finally:
        subscriptions.close()
    return socket


async def _close_sockets(app: web.Application) -> None:
    """Stopping closes open subscriptions (GOING_AWAY) instead of waiting for clients."""
    for socket in list(app[SOCKETS]):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"venue_sim stopping")


def ws_app(venue: Venue) -> web.Application:
    app = web.Application()
    app[VENUE] = venue
    app[SOCKETS] = weakref.WeakSet()
    app.router.add_get("/", _handle_ws)
    app.on_shutdown.append(_close_sockets)
    return app
