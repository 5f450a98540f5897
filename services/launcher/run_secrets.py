"""The secrets made for one run of `make run`, as files only their owner reads.

The service token goes to the engine, the executor and the vault alone (SERVICE_TOKEN_FILE):
with it the engine calls the other two, and nothing without it can. The API token is written to
var/api-token, where `dne` finds it, so the CLI needs no copy-paste from the terminal.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from services.common.service_auth import write_token_file

SERVICE_TOKEN_HOLDERS = ("engine", "executor", "vault")


def new_service_token(var: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """A fresh service token in var/secrets/service-token (0600); answers the token and the
    per-service settings that name the file, for its three holders only."""
    token = secrets.token_urlsafe(32)
    path = write_token_file(var / "secrets" / "service-token", token)
    # A SERVICE_TOKEN inherited from the launcher's environment is blanked: this run's token is
    # the file's (both set would refuse to start).
    wiring = {"SERVICE_TOKEN_FILE": str(path), "SERVICE_TOKEN": ""}
    return token, {name: dict(wiring) for name in SERVICE_TOKEN_HOLDERS}


def api_token_path(var: Path) -> Path:
    return var / "api-token"


def write_api_token(var: Path, token: str) -> Path:
    """The run's API token in var/api-token (0600), read by `dne` when no token is given."""
    return write_token_file(api_token_path(var), token)
