"""Issue 11: a wallet key never reaches a log line, wherever in the record it hides."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from solders.keypair import Keypair

from services.common.logs import RedactSecrets, configure_logging
from services.executor.drift.wallet_key import WalletKey
from tests.kit.executor_live_secrets import secret_forms

CANARY = Keypair()
# As the executor holds it: the log filter then knows the key's hex forms too.
WALLET = WalletKey(CANARY)
RAW = bytes(CANARY)
BASE58 = str(CANARY)
# The JSON-array forms: solana-keygen's file, compact, and spread over lines.
ARRAYS = [json.dumps(list(RAW)), json.dumps(list(RAW), separators=(",", ":")),
          json.dumps(list(RAW), indent=2), str(tuple(RAW)), str(list(RAW[:32]))]


def forms() -> list[str]:
    return [*secret_forms(CANARY), *ARRAYS, json.dumps(list(RAW), separators=(",", ":"))[1:40]]


# The paper venue's signatures are sha256 hex: as long as a key's secret half, and no secret.
PAPER_SIGNATURE = "paper:" + "ab12" * 16


class KeyHolder:
    def __repr__(self) -> str:
        return f"KeyHolder({BASE58})"


def log_everywhere(logger: logging.Logger) -> None:
    logger.info("in the message %s", "as an argument")
    logger.info(f"key {BASE58} in the message")
    for array in ARRAYS:
        logger.info("array in the message: " + array)
        logger.info("array as an argument: %s", array)
    logger.info("as an argument: %s", BASE58)
    logger.info("as a list argument: %s", list(RAW))
    logger.info("as a bytes argument: %r / %s", RAW, RAW.hex())
    logger.info("as extras", extra={
        "wallet": BASE58, "key_bytes": list(RAW), "raw": RAW, "hex": RAW[:32].hex(),
        "nested": {"inner": [BASE58]}, "holder": KeyHolder(), "pretty": ARRAYS[2],
    })
    try:
        raise ValueError(f"bad key {BASE58} / {ARRAYS[0]}")
    except ValueError:
        logger.exception("in the exception text")
    try:
        raise RuntimeError("wrapped") from KeyError(ARRAYS[1])
    except RuntimeError:
        logger.error("in a chained exception", exc_info=True)
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "in the stack", (), None)
    record.stack_info = f"Stack (most recent call last):\n  key = {BASE58!r}\n  {ARRAYS[0]}"
    logger.handle(record)


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_canary_key_appears_nowhere_in_the_output(
    fmt: str, monkeypatch: pytest.MonkeyPatch, root_logging: None
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("canary", "DEBUG", fmt)
    log_everywhere(logging.getLogger("tests.secret"))
    output = stream.getvalue()
    assert "in the exception text" in output and "ValueError" in output
    assert "as an argument" in output and "[REDACTED]" in output
    if fmt == "json":
        lines = [json.loads(line) for line in output.splitlines()]
        extras = next(line for line in lines if line["message"] == "as extras")
        assert extras["wallet"] == "[REDACTED]"
        assert extras["key_bytes"] == "[REDACTED]"
    for form in forms():
        assert form not in output, form


def test_the_filter_scrubs_the_record_itself_for_every_other_handler() -> None:
    record = logging.makeLogRecord({
        "msg": "key %s", "args": (BASE58,), "wallet": list(RAW), "note": f"k={BASE58}",
    })
    try:
        raise ValueError(BASE58)
    except ValueError:
        record.exc_info = sys.exc_info()
    RedactSecrets().filter(record)
    shown = repr(record.__dict__) + logging.Formatter().format(record)
    for form in forms():
        assert form not in shown, form


def test_a_key_the_process_does_not_hold_is_still_redacted_in_its_base58_and_array_forms(
) -> None:
    other = Keypair()
    record = logging.makeLogRecord({"msg": "%s %s", "args": (str(other), list(bytes(other)))})
    RedactSecrets().filter(record)
    assert record.getMessage() == "[REDACTED] [REDACTED]"


def test_ordinary_values_pass_untouched() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("tests.secret.ordinary")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("order %s filled %d at %s by %s", "abc", 3, [1, 2, 3], PAPER_SIGNATURE,
                       extra={"pubkey": str(CANARY.pubkey())})
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == f"order abc filled 3 at [1, 2, 3] by {PAPER_SIGNATURE}\n"
