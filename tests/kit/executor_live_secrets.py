"""Searching captured output for a wallet's secret, in every form it could be printed."""

from __future__ import annotations

import json
import logging

from solders.keypair import Keypair


class Capture(logging.Handler):
    """Every log record, formatted with all its extra fields, for secret searches."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: repr(v) for k, v in record.__dict__.items() if k not in ("msg", "args")}
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text + " " + json.dumps(fields, default=str))


def secret_forms(keypair: Keypair) -> list[str]:
    """Every way the secret could be printed: base58, JSON bytes, solders' repr of the bytes."""
    raw = bytes(keypair)
    return [str(keypair), json.dumps(list(raw)), ", ".join(str(b) for b in raw[:12]),
            raw[:32].hex()]
