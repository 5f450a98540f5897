"""The wallet's secret key: parsed once from SOLANA_PRIVATE_KEY_FILE (a file, as the Helm chart
mounts it) or SOLANA_PRIVATE_KEY (the environment, as `make run-live-sim` passes it), never shown.

`WalletKey` is the only holder of the keypair inside the executor. Its repr and str name the
public key and say the secret is redacted; it refuses to be pickled or copied, and every
parse error says what is wrong with the format without quoting any of the text.
(solders' own Keypair repr prints the secret bytes: never log one.)
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import NoReturn

import base58
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from services.common.logs import register_secret
from services.common.secret_file import SecretFileError, read_secret_file

ENV_NAME = "SOLANA_PRIVATE_KEY"
FILE_ENV_NAME = "SOLANA_PRIVATE_KEY_FILE"
KEYPAIR_BYTES = 64
# solana-keygen's JSON array of 64 bytes is under 300 characters; anything far larger is not a key.
MAX_KEY_FILE_BYTES = 4096


class WalletKeyError(ValueError):
    """SOLANA_PRIVATE_KEY is missing or malformed; the message never contains the key."""


class WalletKey:
    __slots__ = ("_keypair",)

    def __init__(self, keypair: Keypair) -> None:
        self._keypair = keypair
        # The log filter knows the base58 and JSON-array shapes; the other forms it learns here.
        raw = bytes(keypair)
        register_secret(str(keypair), raw.hex(), raw[:32].hex(),
                        base58.b58encode(raw[:32]).decode())

    @classmethod
    def parse(cls, text: str, source: str = ENV_NAME) -> WalletKey:
        """A base58 64-byte keypair, or a JSON array of 64 bytes as solana-keygen writes.
        `source` names where the text came from in the error messages."""
        value = (text or "").strip()
        if not value:
            raise WalletKeyError(f"{source} is empty")
        if value.startswith("["):
            try:
                numbers = json.loads(value)
            except ValueError:
                raise WalletKeyError(f"{source} starts like a JSON array but is not valid "
                                     "JSON") from None
            if not isinstance(numbers, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 255 for n in numbers
            ):
                raise WalletKeyError(f"{source} as JSON must be an array of integers 0..255")
            raw = bytes(numbers)
        else:
            try:
                raw = base58.b58decode(value)
            except ValueError:
                raise WalletKeyError(f"{source} is neither base58 nor a JSON byte array") \
                    from None
        if len(raw) != KEYPAIR_BYTES:
            raise WalletKeyError(
                f"{source} decodes to {len(raw)} bytes; a Solana keypair is {KEYPAIR_BYTES} "
                "(secret + public key)"
            )
        try:
            keypair = Keypair.from_bytes(raw)
        except ValueError:
            raise WalletKeyError(f"{source}: the public half does not match the secret half") \
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


def take_wallet_key(
    environ: MutableMapping[str, str] | None = None, key_file: Path | None = None
) -> WalletKey:
    """Reads the key once: from `key_file` (SOLANA_PRIVATE_KEY_FILE) when given, else from
    SOLANA_PRIVATE_KEY, which is removed from the environment either way, so no child process,
    settings dump or later reader finds it there. Both at once are refused: which one signs
    must never be a guess."""
    env = os.environ if environ is None else environ
    text = env.pop(ENV_NAME, "")
    if key_file is not None:
        if text.strip():
            raise WalletKeyError(f"both {ENV_NAME} and {FILE_ENV_NAME} are set: set only one")
        return WalletKey.parse(read_key_file(key_file), source=f"{FILE_ENV_NAME} ({key_file})")
    if not text.strip():
        raise WalletKeyError(f"{ENV_NAME} is not set: live mode needs the wallet's keypair "
                             f"(base58, or the JSON byte array solana-keygen writes) in it, or "
                             f"a file holding it named by {FILE_ENV_NAME}")
    return WalletKey.parse(text)


def read_key_file(path: Path) -> str:
    """The text of a key file that only its owner (and its group) can read (see
    services/common/secret_file.py)."""
    try:
        raw = read_secret_file(path, FILE_ENV_NAME, MAX_KEY_FILE_BYTES, "a key file")
    except SecretFileError as error:
        raise WalletKeyError(str(error)) from None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise WalletKeyError(f"{FILE_ENV_NAME}: {path} is not text (base58 or a JSON byte "
                             "array)") from None
