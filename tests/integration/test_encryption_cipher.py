"""The at-rest cipher without a node: blob layout as Iggy 0.8 stores it, round trips, refusals."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from whippet.node.config import ConfigError, NodeConfig
from whippet.node.encryption import (
    CHECK_FILE,
    OVERHEAD,
    MessageCipher,
    check_config,
    open_at_rest,
    parse_key,
)
from whippet.wire.batch import encode_record
from whippet.wire.errors import CannotDecryptData, InvalidEncryptionKey

KEY = bytes(range(32))
KEY_TEXT = base64.b64encode(KEY).decode()


def batch(messages: list[tuple[bytes, bytes]]) -> tuple[bytes, np.ndarray]:
    records = [encode_record(i + 1, payload, headers, 0) for i, (payload, headers) in enumerate(messages)]
    return b"".join(records), np.cumsum([len(r) for r in records]).astype(np.uint32)


def test_blobs_are_nonce_ciphertext_tag_without_associated_data() -> None:
    records, ends = batch([(b"hello", b"\x01\x00\x00\x00\x01k\x01\x01\x00\x00\x00v"), (b"bye", b"")])
    out, new_ends = MessageCipher(KEY).encrypt_batch(memoryview(records), ends)
    assert list(new_ends) == [int(ends[0]) + 2 * OVERHEAD, int(ends[1]) + 3 * OVERHEAD]
    h, p = struct.unpack_from("<II", out, 48)
    assert (p, h) == (5 + OVERHEAD, 12 + OVERHEAD)
    payload_blob = bytes(out[64 : 64 + p])
    assert AESGCM(KEY).decrypt(payload_blob[:12], payload_blob[12:], None) == b"hello"
    header_blob = bytes(out[64 + p : 64 + p + h])
    assert AESGCM(KEY).decrypt(header_blob[:12], header_blob[12:], None).endswith(b"v")
    second = int(new_ends[0])
    assert struct.unpack_from("<II", out, second + 48) == (0, 3 + OVERHEAD)  # no headers stay no headers
    assert out[:48] == records[:48] and out[56:64] == records[56:64]  # rest of the header untouched
    nonces = {payload_blob[:12], header_blob[:12], bytes(out[second + 64 : second + 76])}
    assert len(nonces) == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.binary(max_size=40)), min_size=1, max_size=20))
def test_round_trip_restores_every_byte(messages: list[tuple[bytes, bytes]]) -> None:
    records, ends = batch(messages)
    cipher = MessageCipher(KEY)
    sealed, _ = cipher.encrypt_batch(memoryview(records), ends)
    assert cipher.decrypt_records(bytes(sealed), len(messages)) == records


def test_wrong_key_plaintext_and_damage_are_errors_not_garbage() -> None:
    records, ends = batch([(b"secret", b""), (b"more", b"")])
    sealed, _ = MessageCipher(KEY).encrypt_batch(memoryview(records), ends)
    with pytest.raises(CannotDecryptData):
        MessageCipher(os.urandom(32)).decrypt_records(bytes(sealed), 2)
    with pytest.raises(CannotDecryptData):  # stored before encryption was on: too short for a blob
        MessageCipher(KEY).decrypt_records(records, 2)
    long_plain, _ = batch([(b"x" * 100, b"")])
    with pytest.raises(CannotDecryptData):  # long enough, but no valid tag
        MessageCipher(KEY).decrypt_records(long_plain, 1)
    damaged = bytearray(sealed)
    damaged[64 + 20] ^= 1
    with pytest.raises(CannotDecryptData):
        MessageCipher(KEY).decrypt_records(bytes(damaged), 2)
    with pytest.raises(CannotDecryptData):  # fewer bytes than the records claim
        MessageCipher(KEY).decrypt_records(bytes(sealed)[:-5], 2)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "decodes to 5")],
)
def test_bad_keys_are_rejected_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidEncryptionKey, match=reason):
        parse_key(text)
    with pytest.raises(ConfigError, match=reason):
        check_config(replace(NodeConfig(), encryption_enabled=True, encryption_key=text))
    with pytest.raises(ConfigError, match="empty"):
        check_config(replace(NodeConfig(), encryption_enabled=True, encryption_key=""))
    check_config(replace(NodeConfig(), encryption_enabled=False, encryption_key=text))  # unused: fine


def test_key_check_file_decides_between_serving_and_refusing(tmp_path: Path) -> None:
    on = replace(NodeConfig(), encryption_enabled=True, encryption_key=KEY_TEXT)
    assert not open_at_rest(replace(on, encryption_enabled=False), tmp_path).refusal  # nothing encrypted yet
    first = open_at_rest(on, tmp_path)
    assert first.cipher is not None and not first.refusal and (tmp_path / CHECK_FILE).exists()
    assert not open_at_rest(on, tmp_path).refusal  # same key: fine
    wrong = replace(on, encryption_key=base64.b64encode(os.urandom(32)).decode())
    assert "not the key" in open_at_rest(wrong, tmp_path).refusal
    assert "written encrypted" in open_at_rest(replace(on, encryption_enabled=False), tmp_path).refusal
    assert "base64" in open_at_rest(replace(on, encryption_key="%%%"), tmp_path).refusal
