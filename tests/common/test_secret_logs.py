"""Issue 11: a wallet key never reaches a log line, wherever in the record it hides."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from services.common import logs
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


# --- redact's short cuts (issue 12): they skip searches, never a secret


def every_search(text: str) -> str:
    """redact as it was before its short cuts: every search on every text."""
    for known in sorted(logs._KNOWN_SECRETS, key=len, reverse=True):
        text = text.replace(known, logs.REDACTED)
    for shape in (re.compile(r"[1-9A-HJ-NP-Za-km-z]{80,}"),
                  re.compile(r"[\[(]\s*\d{1,3}(?:\s*,\s*\d{1,3}){31,}\s*,?\s*[\])]")):
        text = shape.sub(logs.REDACTED, text)
    return logs._URL_PASSWORD.sub(r"\g<head>***", text)


BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Pieces at the edges of each shape: base58 runs around 80 characters, arrays around 32
# numbers (the shortest at 65 characters), URLs with and without a password, a held key.
base58_runs = st.text(alphabet=BASE58_ALPHABET, min_size=60, max_size=100)
arrays = st.builds(
    lambda numbers, space, close: ("[", "(")[close] + f",{space}".join(map(str, numbers))
    + ("]", ")")[close],
    st.lists(st.integers(0, 999), min_size=29, max_size=34), st.sampled_from(["", " ", "\n  "]),
    st.integers(0, 1))
urls = st.builds(lambda user, password: f"postgresql://{user}:{password}@db:5432/x",
                 st.text(alphabet="abc", max_size=4), st.text(alphabet="pw!0", max_size=6))
pieces = st.one_of(base58_runs, arrays, urls, st.just(BASE58), st.just(PAPER_SIGNATURE),
                   st.text(max_size=20))


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(pieces, max_size=4), separator=st.sampled_from(["", " ", "0", "=", "\""]))
def test_redact_answers_what_every_search_would(parts: list[str], separator: str) -> None:
    text = separator.join(parts)
    assert logs.redact(text) == every_search(text)


def test_no_shape_fits_in_fewer_characters_than_the_short_cut_skips() -> None:
    shortest_array = "[" + ",".join("0" * 32) + "]"
    assert len(shortest_array) == logs.SHORTEST_SHAPE
    assert logs.redact(shortest_array) == logs.REDACTED
    assert logs.redact(shortest_array[:-2] + "]") == shortest_array[:-2] + "]"  # 31 numbers
