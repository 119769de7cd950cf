"""The byte layout of the audit log, format version 1 (documented in docs/audit-format.md).

Pure functions and named constants only: encoding a header, a record or a checkpoint, and the
associated data that binds a record's ciphertext to its place in the log. All integers are big-endian.
Nothing here touches files or keys; `log.py` writes these bytes and `verify.py` checks them.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from leakline.audit.merkle import LEAF_PREFIX

FORMAT_VERSION = 1

LOG_FILENAME = "audit.log"
CHECKPOINT_FILENAME = "checkpoints"
DATAKEY_FILENAME = "datakey.json"
LOCK_FILENAME = "audit.lock"
TORN_PREFIX = "torn-"

LOG_MAGIC = b"LLAUDIT\x00"
CHECKPOINT_MAGIC = b"LLCHKPT\x00"

LOG_ID_SIZE = 16
HASH_SIZE = 32
TAG_SIZE = 16
NONCE_SIZE = 12
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32

# magic, version, header length, log id, created (µs since the Unix epoch), signing public key,
# data-key check value, region length; then the region (ASCII) and the header hash.
HEADER_FIXED = struct.Struct(">8sHH16sq32s32sB")
MAX_REGION_LEN = 32
REGION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

# length, type, 3 reserved bytes, sequence, time (µs), epoch, nonce counter, previous record hash,
# metadata length, ciphertext length; then metadata, ciphertext and the record hash.
RECORD_FIXED = struct.Struct(">IB3sQqII32sII")
RECORD_OVERHEAD = RECORD_FIXED.size + HASH_SIZE
RESERVED3 = b"\x00\x00\x00"
MAX_META_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_RECORD_BYTES = RECORD_OVERHEAD + MAX_META_BYTES + MAX_PAYLOAD_BYTES + TAG_SIZE

# A new epoch (and so a new key) long before a 32-bit counter could wrap; also bounds the data
# encrypted under one AES-GCM key far below NIST SP 800-38D's limits.
MAX_RECORDS_PER_EPOCH = 1 << 24
MAX_EPOCH = (1 << 32) - 1

# magic, version, reserved, log id, checkpoint number, tree size, log bytes covered, time (µs),
# Merkle root, header hash, previous checkpoint hash, signer's public key; then the Ed25519 signature.
CHECKPOINT_BODY = struct.Struct(">8sHH16sQQQq32s32s32s32s")
CHECKPOINT_SIZE = CHECKPOINT_BODY.size + SIGNATURE_SIZE

HEADER_HASH_CONTEXT = b"leakline-audit v1 header\x00"
RECORD_AD_CONTEXT = b"leakline-audit v1 record\x00"
CHECKPOINT_SIGNING_CONTEXT = b"leakline-audit v1 checkpoint\x00"
ROTATION_SIGNING_CONTEXT = b"leakline-audit v1 signing key rotation\x00"


class RecordType(IntEnum):
    EVENT = 1
    """Something that happened; metadata in clear, payload encrypted."""
    HEARTBEAT = 2
    """Written by an idle writer every heartbeat interval, so silence can be told from deletion."""
    EPOCH = 3
    """First record of a writer's epoch: who writes, with which intervals."""
    KEY_ROTATION = 4
    """The signing key changes; the metadata carries the new public key endorsed by the old one."""


RECORD_TYPES = frozenset(int(t) for t in RecordType)


@dataclass(frozen=True)
class Header:
    log_id: bytes
    created_us: int
    signing_public_key: bytes
    key_check: bytes
    region: str | None
    raw: bytes
    """The header's bytes as stored, including its hash."""

    @property
    def hash(self) -> bytes:
        return self.raw[-HASH_SIZE:]

    @property
    def size(self) -> int:
        return len(self.raw)


def valid_region(region: str) -> bool:
    return bool(REGION_PATTERN.match(region))


def header_hash(body: bytes) -> bytes:
    return hashlib.sha256(HEADER_HASH_CONTEXT + body).digest()


def encode_header(
    *, log_id: bytes, created_us: int, signing_public_key: bytes, key_check: bytes, region: str | None
) -> bytes:
    region_bytes = (region or "").encode("ascii")
    size = HEADER_FIXED.size + len(region_bytes) + HASH_SIZE
    body = (
        HEADER_FIXED.pack(
            LOG_MAGIC,
            FORMAT_VERSION,
            size,
            log_id,
            created_us,
            signing_public_key,
            key_check,
            len(region_bytes),
        )
        + region_bytes
    )
    return body + header_hash(body)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8. Hashes depend on it."""
    return _CANONICAL.encode(value).encode("utf-8")


_json_string = json.encoder.encode_basestring


def event_metadata(
    *, kind: str, actor: str, payload_bytes: int, region: str | None, incident: str | None,
    meta: dict[str, Any] | None,
) -> bytes:
    """The clear metadata of an EVENT record: `canonical_json` of its fields, built without a dict.

    Equal byte for byte to `canonical_json({"kind": ..., "actor": ..., "payload_bytes": ..., ...})` with
    absent fields left out (a property test holds it to that); it is on every append's path.
    """
    parts = ['{"actor":', _json_string(actor)]
    if incident is not None:
        parts += [',"incident":', _json_string(incident)]
    parts += [',"kind":', _json_string(kind)]
    if meta:
        parts += [',"meta":', _CANONICAL.encode(meta)]
    parts += [',"payload_bytes":', str(payload_bytes)]
    if region is not None:
        parts += [',"region":', _json_string(region)]
    parts.append("}")
    return "".join(parts).encode("utf-8")


def record_associated_data(log_id: bytes, record_head: bytes | memoryview) -> bytes:
    """AES-GCM associated data: the log id and every clear byte of the record before the ciphertext.

    That includes the sequence number and the previous record's hash, so a ciphertext moved to another
    place, another log or behind other records no longer authenticates.
    """
    return RECORD_AD_CONTEXT + log_id + bytes(record_head)


def nonce_for(counter: int) -> bytes:
    """Deterministic nonce: the record's counter within its epoch (each epoch has its own key)."""
    return counter.to_bytes(NONCE_SIZE, "big")


def record_length(meta_len: int, ciphertext_len: int) -> int:
    return RECORD_OVERHEAD + meta_len + ciphertext_len


def encode_record_head(
    *,
    record_type: int,
    seq: int,
    time_us: int,
    epoch: int,
    counter: int,
    prev_hash: bytes,
    meta: bytes,
    ciphertext_len: int,
) -> bytes:
    length = record_length(len(meta), ciphertext_len)
    return (
        RECORD_FIXED.pack(
            length, record_type, RESERVED3, seq, time_us, epoch, counter, prev_hash, len(meta), ciphertext_len
        )
        + meta
    )


def finish_record(head: bytes, ciphertext: bytes) -> bytes:
    """Append the ciphertext and the record hash (the RFC 6962 leaf hash of everything before it)."""
    hasher = hashlib.sha256(LEAF_PREFIX)
    hasher.update(head)
    hasher.update(ciphertext)
    return head + ciphertext + hasher.digest()


@dataclass(frozen=True)
class Checkpoint:
    number: int
    tree_size: int
    log_bytes: int
    time_us: int
    root: bytes
    header_hash: bytes
    prev_hash: bytes
    public_key: bytes
    signature: bytes
    raw: bytes

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.raw).digest()


def checkpoint_body(
    *,
    log_id: bytes,
    number: int,
    tree_size: int,
    log_bytes: int,
    time_us: int,
    root: bytes,
    header_hash: bytes,
    prev_hash: bytes,
    public_key: bytes,
) -> bytes:
    return CHECKPOINT_BODY.pack(
        CHECKPOINT_MAGIC,
        FORMAT_VERSION,
        0,
        log_id,
        number,
        tree_size,
        log_bytes,
        time_us,
        root,
        header_hash,
        prev_hash,
        public_key,
    )


def checkpoint_signed_message(body: bytes | memoryview) -> bytes:
    return CHECKPOINT_SIGNING_CONTEXT + bytes(body)


def rotation_signed_message(log_id: bytes, seq: int, new_public_key: bytes) -> bytes:
    return ROTATION_SIGNING_CONTEXT + log_id + seq.to_bytes(8, "big") + new_public_key
