"""A browser's command id -> the engine's request id, namespaced by the API token.

The engine answers a request id it has seen with the stored outcome and never trades twice.
The dashboard keeps one id per user command across its reconnections, so the namespace is the
token (who sends), not the connection (how it arrived): the same command retried on a new
socket, or through another gateway replica, is recognised, and ids under another token never
collide with it."""

from __future__ import annotations

import hashlib

# The namespace travels into the engine's logs and traces: it is derived slowly (once, at
# start) so that a short token cannot be recovered from it by guessing.
_SALT = b"dne-gateway-request-namespace"
_ROUNDS = 100_000
_DIGEST_HEX_CHARS = 16


class RequestIds:
    def __init__(self, token: str) -> None:
        digest = hashlib.pbkdf2_hmac("sha256", token.encode(), _SALT, _ROUNDS)
        self.namespace = f"web-{digest.hex()[:_DIGEST_HEX_CHARS]}"

    def for_command(self, command_id: str) -> str:
        return f"{self.namespace}:{command_id}"

    def command_of(self, request_id: str) -> str | None:
        """The browser's id inside one of this namespace's request ids, else None."""
        namespace, separator, command_id = request_id.partition(":")
        if separator and namespace == self.namespace and command_id:
            return command_id
        return None
