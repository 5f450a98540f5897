"""Structured logging: one JSON object per line, with the extra fields each record carries.

Every handler redacts secrets twice: a filter scrubs the record (message, arguments, extra
fields, exception and stack text) before any formatter sees it, and the formatter scrubs the
finished line, so nothing a formatter adds on its own can carry a key out either.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REDACTED = "[REDACTED]"
# The shapes of a Solana secret key, never printed:
# - base58 of 80+ characters (a 64-byte keypair is 87-88);
# - a JSON or Python array of 32 or more byte values, with any spacing (solana-keygen's file
#   is one of 64), also as a tuple.
# Hex has no shape of its own (a sha256 is as long as a secret half: the paper venue's
# signatures are one), so the hex forms of a key are redacted as known secrets (below).
# A base58 run is tried only from its first character: tried from every character, a run too
# short to be a key (a 64-character hex signature) cost up to 79 steps per character.
_SECRET_SHAPES = (
    re.compile(r"(?<![1-9A-HJ-NP-Za-km-z])[1-9A-HJ-NP-Za-km-z]{80,}"),
    re.compile(r"[\[(]\s*\d{1,3}(?:\s*,\s*\d{1,3}){31,}\s*,?\s*[\])]"),
)
# Neither shape fits in fewer characters (an array: two brackets, 32 digits, 31 commas), so a
# shorter text, most fields of a log line, skips both searches.
SHORTEST_SHAPE = 65
# Exact secrets this process holds (the executor's key in its other forms, the vault's
# database password), redacted wherever they appear, longest first: a secret that holds
# another is replaced whole. Too short a text would redact at random.
_KNOWN_SECRETS: tuple[str, ...] = ()
MIN_KNOWN_SECRET = 8


def register_secret(*texts: str) -> None:
    """From now on every log line shows these texts as [REDACTED]."""
    global _KNOWN_SECRETS
    known = {*_KNOWN_SECRETS, *(text for text in texts if len(text) >= MIN_KNOWN_SECRET)}
    _KNOWN_SECRETS = tuple(sorted(known, key=len, reverse=True))
# A password in a URL (postgresql://user:password@host, https://user:token@rpc): masked, the rest
# of the URL kept.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'\"]*:)[^/\s'\"]+(?=@)")
# LogRecord's own attributes: everything else in record.__dict__ came in through `extra=`.
_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    """The text with every secret-shaped part replaced by [REDACTED]."""
    for known in _KNOWN_SECRETS:
        text = text.replace(known, REDACTED)
    if len(text) >= SHORTEST_SHAPE:
        for shape in _SECRET_SHAPES:
            text = shape.sub(REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\g<head>***", text)
    return text


def _redact_value(value: Any) -> Any:
    """Strings are scrubbed, containers walked; any other value whose printed form holds a
    secret (bytes, a list of byte values, an object whose repr shows its key) is dropped."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float | type(None)):
        return value
    if isinstance(value, dict):
        return {_redact_value(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and not _holds_secret(value):
        return type(value)(_redact_value(item) for item in value)
    return REDACTED if _holds_secret(value) else value


def _holds_secret(value: Any) -> bool:
    try:
        shown = [str(value), repr(value)]
        if isinstance(value, bytes | bytearray):
            shown += [value.hex(), str(list(value))]
    except Exception:  # an object that cannot print itself cannot leak either
        return False
    return any(redact(text) != text for text in shown)


class RedactSecrets(logging.Filter):
    """Scrubs a record in place: message and arguments, extra fields, exception and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it
            message = str(record.msg)
        if isinstance(record.msg, dict):
            record.msg = _redact_value(record.msg)
            record.args = None
        elif redact(message) != message:
            record.msg, record.args = redact(message), None
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_FIELDS:
                record.__dict__[key] = _redact_value(value)
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted once here, then shown from exc_text by every formatter (the JSON one
            # formats exc_info itself when it is set).
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _Redacting(logging.Formatter):
    """Another formatter's output, scrubbed once more as a whole line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    else:
        formatter = logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s")
    handler.setFormatter(_Redacting(formatter))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
