"""Known-answer tests: fixed key, data key, salt and nonce prefix give fixed bytes, so the format never drifts.

The second test rebuilds the expected container from docs/weights-format.md with `cryptography` primitives
only (not leakline's helpers), so the documentation, the code and the vectors agree.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from tests.weights.helpers import (
    KAT_DATA_KEY,
    KAT_KEK,
    KAT_NONCE_PREFIX,
    KAT_PLAINTEXT,
    KAT_SALT,
    KAT_SEGMENT_SIZE,
    kat_material,
    seal,
)

EXPECTED_HEADER = bytes.fromhex(
    "4c4c574549474854010000009f000000407173f559bdf848fe8472f6ba0c858d0fbd2a276ae8c7464c7e8b396674ac6e0e95"
    "58c84c6009b3fa413cf06a67a200823e4d720df2419fa9606162636465666768696a6b6c6d6e6f707172737475767778797a"
    "7b7c7d7e7fa0a1a2a3a4a5a6000a6c6c616d612d74657374000131373a3cfa9a0bb5c2820f534b5395c86b4060928b73a2fc"
    "a616da8addfc0a2144"
)
EXPECTED_SEGMENT_0 = bytes.fromhex(
    "da2870ec43edbff4c2321c642c32100dcc34a524a37a147fd4c499984117fb8db5079ca9025edfc56d1ae4010d80316c2018"
    "0c4fc0c09926b3d5dff2d6320215f76e269ffcfcb50f6ed84e78d05a3234"
)
EXPECTED_LAST_SEGMENT = bytes.fromhex("21530abfc65963b152c3fd59891404c11d941632065e3b78")
EXPECTED_FILE_SHA256 = "fbd064f32b5a258c1812409c58fce60fdf35f15b1ea4a12724d053d1ca0f5e66"
EXPECTED_SIGNATURE = bytes.fromhex(
    "3b6e2bfbc69fe3925ff8edf08a3b5627f154a24fde59fcd382be53f65718cbb98fb8cce784f57f31ee04bb22ea2403d76f53"
    "c60bbe4400f624dedf7bd2d9530b"
)


def test_known_answer_container_bytes() -> None:
    blob, signed = seal(KAT_PLAINTEXT, material=kat_material())
    assert blob[: len(EXPECTED_HEADER)] == EXPECTED_HEADER
    start = len(EXPECTED_HEADER)
    assert blob[start : start + KAT_SEGMENT_SIZE + 16] == EXPECTED_SEGMENT_0
    last_start = start + 3 * (KAT_SEGMENT_SIZE + 16)
    assert blob[last_start : last_start + 8 + 16] == EXPECTED_LAST_SEGMENT
    assert signed.signature == EXPECTED_SIGNATURE
    assert hashlib.sha256(blob).hexdigest() == EXPECTED_FILE_SHA256
    assert signed.manifest.segment_count == 4
    assert signed.manifest.plaintext_size == 200
    assert signed.manifest.ciphertext_size == len(EXPECTED_HEADER) + 3 * 80 + 24
    assert signed.manifest.plaintext_sha256 == hashlib.sha256(KAT_PLAINTEXT).hexdigest()


def _hkdf(key: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def test_container_matches_the_documented_construction() -> None:
    model_id, version = b"llama-test", b"1"
    assoc = struct.pack(">H", len(model_id)) + model_id + struct.pack(">H", len(version)) + version
    key_id = _hkdf(KAT_KEK, None, b"leakline-weights/v1/key-id", 16)
    body = (
        b"LLWEIGHT"
        + bytes([1])
        + struct.pack(">II", 112 + len(assoc) + 32, KAT_SEGMENT_SIZE)
        + key_id
        + aes_key_wrap(KAT_KEK, KAT_DATA_KEY)
        + KAT_SALT
        + KAT_NONCE_PREFIX
        + assoc
    )
    mac_key = _hkdf(KAT_DATA_KEY, KAT_SALT, b"leakline-weights/v1/header-mac\x00", 32)
    header = body + hmac.new(mac_key, body, hashlib.sha256).digest()
    segment_key = _hkdf(KAT_DATA_KEY, KAT_SALT, b"leakline-weights/v1/segment-key\x00" + assoc, 32)
    aead = AESGCM(segment_key)
    chunks = [KAT_PLAINTEXT[i : i + KAT_SEGMENT_SIZE] for i in range(0, len(KAT_PLAINTEXT), KAT_SEGMENT_SIZE)]
    segments = b"".join(
        aead.encrypt(KAT_NONCE_PREFIX + struct.pack(">IB", i, int(i == len(chunks) - 1)), chunk, None)
        for i, chunk in enumerate(chunks)
    )
    blob, signed = seal(KAT_PLAINTEXT, material=kat_material())
    assert header == EXPECTED_HEADER
    assert blob[: len(header) + len(segments)] == header + segments
    trailer = blob[len(header) + len(segments) :]
    assert trailer == signed.json_bytes + signed.signature + struct.pack(">I", len(signed.json_bytes)) + b"LLWTRAIL"
    assert signed.manifest.ciphertext_sha256 == hashlib.sha256(header + segments).hexdigest()
    assert signed.manifest.header_sha256 == hashlib.sha256(header).hexdigest()


def test_empty_plaintext_is_one_empty_final_segment() -> None:
    _blob, signed = seal(b"", material=kat_material())
    assert signed.manifest.segment_count == 1
    assert signed.manifest.plaintext_size == 0
    assert signed.manifest.ciphertext_size == len(EXPECTED_HEADER) + 16


def test_plaintext_of_whole_segments_ends_with_a_full_final_segment() -> None:
    _blob, signed = seal(bytes(128), material=kat_material())
    assert signed.manifest.segment_count == 2
    assert signed.manifest.ciphertext_size == len(EXPECTED_HEADER) + 2 * 80
