"""Encryption at rest: AES-256-GCM of message payloads and user headers (protocol reference §10).

As in Iggy 0.8, a send's payload and its user headers (when there are any) are
each sealed on their own as ``nonce(12) ‖ ciphertext ‖ tag(16)`` with a random
nonce and no associated data, and the record's length fields are rewritten; this
happens before storage stamps offsets, ids and checksums, so the checksum covers
what is on disk. A poll opens both again and restores the lengths. The 64-byte
record headers, the index and offset files stay in the clear.

Where 0.8 silently drops a message it cannot decrypt, a node here answers the poll
with ``CannotDecryptData`` (72): a client never gets garbage and never silently
misses an offset. To tell a wrong or missing key apart from damaged data, the
first use of encryption leaves ``encryption.check`` in the data dir: a sealed
known text. A node whose key cannot open it, or that runs without encryption over
data that has it, refuses every send (``InvalidEncryptionKey``, 70) and poll
(``CannotDecryptData``, 72) and logs why, instead of mixing keys in one log.

There is no batch AEAD call, so the loop over messages is in Python (one AES
call per payload and per header block); everything else is numpy over the whole
batch, and the AES calls write into one preallocated output (``encrypt_into`` /
``decrypt_into``), so each byte is copied once.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import struct
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from whippet.wire.batch import (
    PAYLOAD_LENGTH_AT,
    RECORD_HEADER_SIZE,
    USER_HEADERS_LENGTH_AT,
    gather_u32,
    record_starts,
)
from whippet.wire.errors import CannotDecryptData, InvalidEncryptionKey

if TYPE_CHECKING:
    from whippet.node.config import NodeConfig
    from whippet.node.server import Node

__all__ = [
    "CHECK_FILE",
    "NONCE_SIZE",
    "OVERHEAD",
    "TAG_SIZE",
    "AtRest",
    "MessageCipher",
    "check_at_start",
    "check_config",
    "for_reading",
    "for_writing",
    "open_at_rest",
    "parse_key",
]

log = logging.getLogger(__name__)

NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE
CHECK_FILE = "encryption.check"
_CHECK_TEXT = b"whippet encryption at rest, key check v1"
_LENGTHS = struct.Struct("<II")  # user_headers_length, payload_length (bytes 48..56)
_HEADER_LANES = np.arange(RECORD_HEADER_SIZE, dtype=np.int64)
_U32_LANES = np.arange(4, dtype=np.int64)

IntArray = npt.NDArray[np.int64]


def parse_key(text: str) -> bytes:
    """The 32-byte key from its base64 text; raises InvalidEncryptionKey saying what is wrong."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEncryptionKey("encryption_key is not valid base64") from None
    if len(key) != 32:
        raise InvalidEncryptionKey(f"encryption_key must be base64 of 32 bytes, it decodes to {len(key)}")
    return key


def check_config(config: NodeConfig) -> None:
    """Raise ConfigError for an enabled encryption with a missing or malformed key (call at start)."""
    from whippet.node.config import ConfigError

    if not config.encryption_enabled:
        return
    if not config.encryption_key:
        raise ConfigError("encryption_enabled is set but encryption_key is empty (base64 of 32 bytes)")
    try:
        parse_key(config.encryption_key)
    except InvalidEncryptionKey as exc:
        raise ConfigError(str(exc)) from None


class MessageCipher:
    """Seals and opens the payloads and user headers of whole batches of records."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, data, None)

    def open(self, blob: bytes) -> bytes:
        """Raises ``InvalidTag`` when ``blob`` was not sealed with this key (or is damaged)."""
        return self._aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], None)

    def encrypt_batch(
        self, records: memoryview | bytes | bytearray, ends: npt.NDArray[np.integer]
    ) -> tuple[bytearray, IntArray]:
        """Records with sealed payloads/headers and rewritten lengths, and their new end positions."""
        ends64 = np.asarray(ends, dtype=np.int64)
        src = np.frombuffer(records, dtype=np.uint8, count=int(ends64[-1]))
        starts = record_starts(ends64)
        plen = gather_u32(src, starts, PAYLOAD_LENGTH_AT).astype(np.int64)
        hlen = gather_u32(src, starts, USER_HEADERS_LENGTH_AT).astype(np.int64)
        new_p = plen + OVERHEAD
        new_h = np.where(hlen > 0, hlen + OVERHEAD, 0)
        new_ends = np.cumsum(RECORD_HEADER_SIZE + new_p + new_h)
        new_starts = record_starts(new_ends)
        out = bytearray(int(new_ends[-1]))
        dst = np.frombuffer(out, dtype=np.uint8)
        dst[new_starts[:, None] + _HEADER_LANES] = src[starts[:, None] + _HEADER_LANES]
        _scatter_u32(dst, new_starts + PAYLOAD_LENGTH_AT, new_p)
        _scatter_u32(dst, new_starts + USER_HEADERS_LENGTH_AT, new_h)
        # Every nonce at once: one urandom call per batch, scattered in front of each blob.
        blob_at = np.concatenate([new_starts + RECORD_HEADER_SIZE, (new_starts + RECORD_HEADER_SIZE + new_p)[hlen > 0]])
        nonces = np.frombuffer(os.urandom(NONCE_SIZE * len(blob_at)), dtype=np.uint8)
        dst[(blob_at[:, None] + np.arange(NONCE_SIZE)).reshape(-1)] = nonces
        view, out_view = memoryview(records).cast("B"), memoryview(out)
        seal = self._aead.encrypt_into
        for src_at, dst_at, p, h in zip(
            (starts + RECORD_HEADER_SIZE).tolist(), (new_starts + RECORD_HEADER_SIZE).tolist(),
            plen.tolist(), hlen.tolist(),
        ):  # one AES call per payload and per header block: there is no batch AEAD API
            sealed_at = dst_at + NONCE_SIZE
            seal(out_view[dst_at:sealed_at], view[src_at : src_at + p], None,
                 out_view[sealed_at : sealed_at + p + TAG_SIZE])
            if h:
                src_h, dst_h = src_at + p, sealed_at + p + TAG_SIZE
                seal(out_view[dst_h : dst_h + NONCE_SIZE], view[src_h : src_h + h], None,
                     out_view[dst_h + NONCE_SIZE : dst_h + NONCE_SIZE + h + TAG_SIZE])
        return out, new_ends

    def decrypt_records(self, data: bytes | bytearray | memoryview, count: int) -> bytearray:
        """``count`` stored records opened again, lengths restored; raises CannotDecryptData.

        A record that is not sealed (written before encryption was on), sealed with
        another key, or damaged fails the whole poll rather than being skipped.
        """
        view = memoryview(data).cast("B")
        starts, plen, hlen = _walk(view, count)
        new_p = plen - OVERHEAD
        new_h = np.where(hlen > 0, hlen - OVERHEAD, 0)
        if (new_p < 0).any() or (new_h < 0).any():
            raise CannotDecryptData("a polled message is shorter than a sealed blob: it was not written encrypted")
        new_ends = np.cumsum(RECORD_HEADER_SIZE + new_p + new_h)
        new_starts = record_starts(new_ends)
        out = bytearray(int(new_ends[-1]))
        dst = np.frombuffer(out, dtype=np.uint8)
        src = np.frombuffer(view, dtype=np.uint8)
        dst[new_starts[:, None] + _HEADER_LANES] = src[starts[:, None] + _HEADER_LANES]
        _scatter_u32(dst, new_starts + PAYLOAD_LENGTH_AT, new_p)
        _scatter_u32(dst, new_starts + USER_HEADERS_LENGTH_AT, new_h)
        out_view = memoryview(out)
        open_into = self._aead.decrypt_into
        try:
            for src_at, dst_at, p, h in zip(
                (starts + RECORD_HEADER_SIZE).tolist(), (new_starts + RECORD_HEADER_SIZE).tolist(),
                new_p.tolist(), new_h.tolist(),
            ):  # one AES call per payload and per header block
                open_into(view[src_at : src_at + NONCE_SIZE], view[src_at + NONCE_SIZE : src_at + OVERHEAD + p],
                          None, out_view[dst_at : dst_at + p])
                if h:
                    src_h = src_at + OVERHEAD + p
                    open_into(view[src_h : src_h + NONCE_SIZE], view[src_h + NONCE_SIZE : src_h + OVERHEAD + h],
                              None, out_view[dst_at + p : dst_at + p + h])
        except InvalidTag:
            raise CannotDecryptData("a polled message does not open with the configured key") from None
        return out


def _scatter_u32(dst: npt.NDArray[np.uint8], at: IntArray, values: IntArray) -> None:
    dst[at[:, None] + _U32_LANES] = values.astype("<u4").view(np.uint8).reshape(-1, 4)


def _walk(view: memoryview, count: int) -> tuple[IntArray, IntArray, IntArray]:
    """Start, payload length and user-headers length of each of ``count`` consecutive records.

    A record's position depends on the lengths of the one before, so this is a
    scalar walk (cheap next to the AES call each record costs anyway).
    """
    starts = np.empty(count, dtype=np.int64)
    plen = np.empty(count, dtype=np.int64)
    hlen = np.empty(count, dtype=np.int64)
    unpack, size, pos = _LENGTHS.unpack_from, len(view), 0
    for i in range(count):
        if pos + RECORD_HEADER_SIZE > size:
            raise CannotDecryptData("polled records end early")
        h, p = unpack(view, pos + USER_HEADERS_LENGTH_AT)
        starts[i], plen[i], hlen[i] = pos, p, h
        pos += RECORD_HEADER_SIZE + p + h
    if pos > size:
        raise CannotDecryptData("polled records end early")
    return starts, plen, hlen


@dataclass(frozen=True, slots=True)
class AtRest:
    """What a node does with message bodies: ``cipher`` None = stored in the clear.

    ``refusal`` is set when the node must not touch message bodies at all (wrong or
    missing key over encrypted data, malformed key): it is the reason, logged once
    and carried by every refused send and poll.
    """

    cipher: MessageCipher | None
    refusal: str = ""


def open_at_rest(config: NodeConfig, data_dir: Path) -> AtRest:
    """Decide, from the settings and the key check in ``data_dir``, how message bodies are stored."""
    check = data_dir / CHECK_FILE
    if not config.encryption_enabled:
        if check.exists():
            return AtRest(None, f"the messages in {data_dir} were written encrypted, but encryption_enabled is off; "
                                "start the node with encryption_enabled and the same encryption_key")
        return AtRest(None)
    try:
        cipher = MessageCipher(parse_key(config.encryption_key))
    except InvalidEncryptionKey as exc:
        return AtRest(None, str(exc))
    if check.exists():
        try:
            if cipher.open(check.read_bytes()) != _CHECK_TEXT:
                raise InvalidTag()
        except (InvalidTag, ValueError):
            return AtRest(None, f"encryption_key is not the key the messages in {data_dir} were written with")
        return AtRest(cipher)
    _write_durably(check, cipher.seal(_CHECK_TEXT))
    return AtRest(cipher)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_STATE: weakref.WeakKeyDictionary[Node, AtRest] = weakref.WeakKeyDictionary()


def _state(node: Node) -> AtRest:
    state = _STATE.get(node)
    if state is None:
        state = open_at_rest(node.config, node.data_dir)
        if state.refusal:
            log.error("encryption at rest: %s; refusing every send and poll", state.refusal)
        _STATE[node] = state
    return state


def for_writing(node: Node) -> MessageCipher | None:
    """The cipher sends must seal with, None when stored in the clear; raises InvalidEncryptionKey (70)."""
    state = _state(node)
    if state.refusal:
        raise InvalidEncryptionKey(state.refusal)
    return state.cipher


def for_reading(node: Node) -> MessageCipher | None:
    """The cipher polls must open with, None when stored in the clear; raises CannotDecryptData (72)."""
    state = _state(node)
    if state.refusal:
        raise CannotDecryptData(state.refusal)
    return state.cipher


def check_at_start(node: Node) -> None:
    """Settle the node's at-rest mode now; raise ConfigError with the reason if it must refuse.

    Meant for node start-up, so a wrong key stops the node with a message instead
    of a node that serves metadata but refuses every send and poll.
    """
    from whippet.node.config import ConfigError

    check_config(node.config)
    state = _state(node)
    if state.refusal:
        raise ConfigError(state.refusal)
