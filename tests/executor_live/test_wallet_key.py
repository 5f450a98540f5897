"""SOLANA_PRIVATE_KEY: both formats parse, nothing ever prints the secret."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from solders.keypair import Keypair

from services.executor.drift.wallet_key import WalletKey, WalletKeyError, take_wallet_key
from tests.kit.executor_live_secrets import secret_forms

CANARY = Keypair()


def test_a_base58_keypair_and_a_solana_keygen_json_array_give_the_same_wallet() -> None:
    from_base58 = WalletKey.parse(str(CANARY))
    from_json = WalletKey.parse(json.dumps(list(bytes(CANARY))))
    assert from_base58.pubkey == from_json.pubkey == CANARY.pubkey()


def test_repr_str_and_format_name_the_public_key_and_redact_the_secret() -> None:
    key = WalletKey.parse(str(CANARY))
    for shown in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert str(CANARY.pubkey()) in shown
        assert "<redacted>" in shown
        for form in secret_forms(CANARY):
            assert form not in shown


def test_the_key_cannot_be_pickled_or_copied() -> None:
    key = WalletKey.parse(str(CANARY))
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)
    with pytest.raises(TypeError):
        copy.copy(key)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("[1, 2, 3", "not valid JSON"),
        ("[1, 2, 300]", "integers 0..255"),
        ('{"a": 1}', "neither base58"),
        (str(CANARY)[:40], "bytes; a Solana keypair is 64"),
        ("0OIl" * 20, "neither base58"),
        (json.dumps(list(bytes(CANARY)[:32]) + list(bytes(Keypair().pubkey()))),
         "public half does not match"),
    ],
    # Named, not derived from the random keys: every xdist worker must collect the same ids.
    ids=["empty", "unclosed-json", "out-of-range-byte", "json-object", "too-short",
         "not-base58", "mismatched-public-half"],
)
def test_a_malformed_key_is_refused_with_a_message_that_quotes_none_of_it(
    text: str, says: str
) -> None:
    with pytest.raises(WalletKeyError) as refused:
        WalletKey.parse(text)
    message = str(refused.value)
    assert says in message
    for form in secret_forms(CANARY):
        assert form not in message
    if len(text) > 8:
        assert text[4:12] not in message


def test_the_key_is_taken_from_the_environment_once_and_removed_from_it() -> None:
    env = {"SOLANA_PRIVATE_KEY": str(CANARY), "OTHER": "x"}
    key = take_wallet_key(env)
    assert key.pubkey == CANARY.pubkey()
    assert env == {"OTHER": "x"}
    with pytest.raises(WalletKeyError, match="not set"):
        take_wallet_key(env)
