"""The wallet's secret key: parsed once from SOLANA_PRIVATE_KEY and never shown.

`WalletKey` is the only holder of the keypair inside the executor. Its repr and str name the
public key and say the secret is redacted; it refuses to be pickled or copied, and every
parse error says what is wrong with the format without quoting any of the text.
(solders' own Keypair repr prints the secret bytes: never log one.)
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from typing import NoReturn

import base58
from solders.keypair import Keypair
from solders.pubkey import Pubkey

ENV_NAME = "SOLANA_PRIVATE_KEY"
KEYPAIR_BYTES = 64


class WalletKeyError(ValueError):
    """SOLANA_PRIVATE_KEY is missing or malformed; the message never contains the key."""


class WalletKey:
    __slots__ = ("_keypair",)

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair

    @classmethod
    def parse(cls, text: str) -> WalletKey:
        """A base58 64-byte keypair, or a JSON array of 64 bytes as solana-keygen writes."""
        value = (text or "").strip()
        if not value:
            raise WalletKeyError(f"{ENV_NAME} is empty")
        if value.startswith("["):
            try:
                numbers = json.loads(value)
            except ValueError:
                raise WalletKeyError(f"{ENV_NAME} starts like a JSON array but is not valid "
                                     "JSON") from None
            if not isinstance(numbers, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 255 for n in numbers
            ):
                raise WalletKeyError(f"{ENV_NAME} as JSON must be an array of integers 0..255")
            raw = bytes(numbers)
        else:
            try:
                raw = base58.b58decode(value)
            except ValueError:
                raise WalletKeyError(f"{ENV_NAME} is neither base58 nor a JSON byte array") \
                    from None
        if len(raw) != KEYPAIR_BYTES:
            raise WalletKeyError(
                f"{ENV_NAME} decodes to {len(raw)} bytes; a Solana keypair is {KEYPAIR_BYTES} "
                "(secret + public key)"
            )
        try:
            keypair = Keypair.from_bytes(raw)
        except ValueError:
            raise WalletKeyError(f"{ENV_NAME}: the public half does not match the secret half") \
                from None
        return cls(keypair)

    @property
    def pubkey(self) -> Pubkey:
        return self._keypair.pubkey()

    def keypair(self) -> Keypair:
        """For signing only: hand it to the signer, never to a log or a message."""
        return self._keypair

    def __repr__(self) -> str:
        return f"WalletKey(pubkey={self.pubkey}, secret=<redacted>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a WalletKey cannot be pickled or copied")

    def __copy__(self) -> NoReturn:
        raise TypeError("a WalletKey cannot be copied")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError("a WalletKey cannot be copied")


def take_wallet_key(environ: MutableMapping[str, str] | None = None) -> WalletKey:
    """Reads SOLANA_PRIVATE_KEY once and removes it from the environment, so no child process,
    settings dump or later reader finds it there."""
    env = os.environ if environ is None else environ
    text = env.pop(ENV_NAME, "")
    if not text.strip():
        raise WalletKeyError(f"{ENV_NAME} is not set: live mode needs the wallet's keypair "
                             "(base58, or the JSON byte array solana-keygen writes)")
    return WalletKey.parse(text)
